"""Captions of the micro-world: natural English and Chinese, and one canonical English.

Every clip gets several natural captions per language (templates, synonyms, word orders,
optional details) and one canonical English caption: deterministic, fixed word order, the
form the prompt parser (`kinora.plan.parse`) produces from any prompt and the generator is
trained and conditioned on (its text encoder, MiniLM, reads English only).

    c = make_captions(spec, seed=0)  # a small rubber ball falls; a large wooden cube slides left, fast
    c.canonical  # 'a small red ball falls and bounces. a large blue cube slides left fast. the camera is static.'
    c.en[0]      # 'A small red ball falls from above, bouncing off the floor while a big blue box skids left fast.'
    c.zh[0]      # '一个小红橡胶球落到地上，一块蓝色的大方块迅速往左滑去。'

Two rules keep captions honest and parseable:

* A caption states nothing that is not true of the clip. Materials look alike, so one is
  named only through its visible effect (`effect()`): a rubber object that falls bounces,
  an ice one lands dead, an ice slider glides a long way; wood and metal are never named.
  Optional details ("and comes to a stop", "and pushes it along") are added only when the
  physics says they happen (`slide_stops`, `push_moves_target`).
* Every caption states each object's shape, colour, size, motion, direction, speed (when
  not normal), effect and relations, and every camera move, so that
  `parse(caption).canonical == canonical_caption(spec)`. Variety comes from templates,
  synonyms, order, counts ("two balls: a red one ... and a blue one ..."), and the
  optional details, never from leaving a fact out.

The word tables below extend the vocabulary of `kinora.world.spec` (whose `en`/`zh`
words come first here) with synonyms; the parser reads these same tables, so a word a
caption uses is always a word the parser knows.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from kinora.world.spec import (
    COLORS,
    DIRECTIONS,
    GRAVITY,
    MATERIALS,
    MOTIONS,
    SHAPES,
    SIZES,
    SLIDE_SPEED,
    SPEEDS,
    ObjectSpec,
    ShotSpec,
)

# ---------------------------------------------------------------------------------
# Words. For each value: the words captions use (the first is the canonical one), then
# words only the parser needs to understand.
# ---------------------------------------------------------------------------------

EN_SHAPES: dict[str, tuple[str, ...]] = {
    "sphere": (SHAPES["sphere"]["en"], "sphere"),
    "cube": (SHAPES["cube"]["en"], "box", "block"),
    "cylinder": (SHAPES["cylinder"]["en"], "tube", "barrel"),
}
EN_SHAPES_ALSO: dict[str, tuple[str, ...]] = {
    "sphere": ("orb", "globe"),
    "cube": ("crate", "brick"),
    "cylinder": ("column", "pillar", "drum", "roller", "canister", "cylindre"),
}
EN_COLORS: dict[str, tuple[str, ...]] = {
    "red": ("red", "scarlet", "crimson"),
    "yellow": ("yellow", "golden"),
    "green": ("green", "emerald"),
    "cyan": ("cyan", "turquoise", "teal"),
    "blue": ("blue", "azure"),
    "purple": ("purple", "violet", "magenta"),
}
EN_COLORS_ALSO: dict[str, tuple[str, ...]] = {
    "red": ("ruby", "cherry"), "yellow": ("gold", "lemon"), "green": ("lime",),
    "cyan": ("aqua", "aquamarine"), "blue": ("navy", "cobalt", "sapphire"), "purple": ("lilac", "lavender", "mauve"),
}
EN_SIZES: dict[str, tuple[str, ...]] = {"small": ("small", "little", "tiny"), "large": ("large", "big")}
EN_SIZES_ALSO: dict[str, tuple[str, ...]] = {"small": ("smaller", "smallest", "mini"),
                                            "large": ("larger", "bigger", "biggest", "huge", "giant")}
EN_MATERIALS: dict[str, tuple[str, ...]] = {
    "rubber": ("rubber", "bouncy"), "wood": ("wooden", "wood"), "metal": ("metal", "metallic", "steel", "iron"),
    "ice": ("ice", "icy", "slippery"),
}
EN_DIRECTIONS: dict[str, tuple[str, ...]] = {
    "left": ("left", "to the left", "leftward", "towards the left"),
    "right": ("right", "to the right", "rightward", "towards the right"),
    "forward": ("forward", "away from the camera", "into the distance", "away from the viewer"),
    "backward": ("backward", "towards the camera", "toward the viewer", "back towards the camera"),
}
EN_DIRECTIONS_ALSO: dict[str, tuple[str, ...]] = {
    "left": ("leftwards", "toward the left", "to its left", "to the left side"),
    "right": ("rightwards", "toward the right", "to its right", "to the right side"),
    "forward": ("forwards", "away", "away from us", "toward the back", "towards the back", "into the scene"),
    "backward": ("backwards", "toward the camera", "towards the viewer", "towards us", "toward us",
                 "toward the front", "towards the front", "back toward the camera"),
}
EN_SPEEDS: dict[str, tuple[str, ...]] = {"fast": ("fast", "quickly", "rapidly", "swiftly"),
                                        "slow": ("slowly", "gently", "leisurely")}
EN_SPEEDS_ALSO: dict[str, tuple[str, ...]] = {"fast": ("quick", "speedily", "at high speed", "at speed", "fast-moving"),
                                             "slow": ("slow", "at a slow pace", "unhurriedly", "lazily")}
EN_COUNTS = {2: "two", 3: "three", 4: "four", 5: "five", 6: "six"}

ZH_SHAPES: dict[str, tuple[str, ...]] = {
    "sphere": (SHAPES["sphere"]["zh"], "圆球", "球体"),
    "cube": (SHAPES["cube"]["zh"], "立方体", "正方体"),
    "cylinder": (SHAPES["cylinder"]["zh"], "圆柱体", "圆筒"),
}
ZH_SHAPES_ALSO: dict[str, tuple[str, ...]] = {"sphere": ("小球", "皮球"), "cube": ("方盒", "盒子", "箱子", "积木"),
                                             "cylinder": ("柱子", "柱体", "圆桶", "滚筒")}
# Colours: the full word (红色) and the short form used before a noun (红球).
ZH_COLORS: dict[str, tuple[str, ...]] = {c: (COLORS[c]["zh"], COLORS[c]["zh"][0]) for c in COLORS}
ZH_COLORS_ALSO: dict[str, tuple[str, ...]] = {"yellow": ("金色", "金黄色"), "cyan": ("蓝绿色", "青绿色", "湖蓝色"),
                                             "purple": ("紫红色", "洋红色", "品红色"), "red": ("大红色",)}
ZH_SIZES: dict[str, tuple[str, ...]] = {s: (SIZES[s]["zh"],) for s in SIZES}
ZH_SIZES_ALSO: dict[str, tuple[str, ...]] = {"small": ("较小", "小小", "很小"),
                                             "large": ("较大", "大大", "很大", "巨大")}
ZH_MATERIALS: dict[str, tuple[str, ...]] = {
    "rubber": (MATERIALS["rubber"]["zh"], "有弹性", "弹性"),
    "wood": (MATERIALS["wood"]["zh"], "木质", "木制", "木"),
    "metal": (MATERIALS["metal"]["zh"], "铁", "钢"),
    "ice": (MATERIALS["ice"]["zh"] + "做的", "冰制的", "冰", "冰块做的"),
}
ZH_DIRECTIONS: dict[str, tuple[str, ...]] = {
    "left": ("向左", "往左", "朝左"),
    "right": ("向右", "往右", "朝右"),
    "forward": ("向前", "向远处", "朝远离镜头的方向"),
    "backward": ("朝镜头", "向镜头方向", "向后"),
}
ZH_DIRECTIONS_ALSO: dict[str, tuple[str, ...]] = {
    "left": ("向左边", "往左边", "朝左边", "向左侧", "朝左侧", "往左侧", "左边", "左侧"),
    "right": ("向右边", "往右边", "朝右边", "向右侧", "朝右侧", "往右侧", "右边", "右侧"),
    "forward": ("往前", "朝前", "往远处", "朝远处", "远离镜头", "向里", "往里"),
    "backward": ("朝着镜头", "向镜头", "朝向镜头", "往后", "朝后", "向着镜头", "朝镜头方向", "靠近镜头", "向外"),
}
# Side words after 滚向 / 滑向: 滚向左边.
ZH_SIDES: dict[str, str] = {"left": "左边", "right": "右边", "forward": "远处", "backward": "镜头"}
ZH_SPEEDS: dict[str, tuple[str, ...]] = {"fast": ("快速", "迅速", "飞快地"), "slow": ("缓慢地", "慢慢地", "缓缓")}
ZH_SPEEDS_ALSO: dict[str, tuple[str, ...]] = {"fast": ("很快地", "很快", "快快地", "高速", "飞速", "急速", "快"),
                                             "slow": ("慢慢", "缓慢", "缓缓地", "徐徐", "慢悠悠地", "慢")}
ZH_COUNTS = {1: "一", 2: "两", 3: "三", 4: "四", 5: "五", 6: "六"}
ZH_MEASURE = {"sphere": "颗", "cube": "块", "cylinder": "根"}

# ---------------------------------------------------------------------------------
# What a clip shows: the visible effect of a material, and optional true details
# ---------------------------------------------------------------------------------

BOUNCY = 0.7  # restitution at or above which a fall visibly bounces (rubber)
DEAD = 0.15  # restitution at or below which a fall lands without a visible bounce (ice)
SLIPPERY = 0.1  # friction at or below which a slide glides a long way (ice)
FLOOR_FRICTION = 0.5  # the simulator's floor friction; Bullet multiplies the pair


def effect(o: ObjectSpec) -> str | None:
    """The visible effect of an object's material on its motion, or None.

    'bounce' (a fall on rubber), 'no_bounce' (a fall on ice), 'glide' (an ice slide).
    Canonical captions state it and the parser maps it back to a material.
    """
    m = MATERIALS[o.material]
    if o.motion == "fall":
        if m["restitution"] >= BOUNCY:
            return "bounce"
        if m["restitution"] <= DEAD:
            return "no_bounce"
    if o.motion == "slide" and m["friction"] <= SLIPPERY:
        return "glide"
    return None


def slide_stops(o: ObjectSpec, duration: float) -> bool:
    """True when a slide surely comes to rest on screen (so 'and stops' is true).

    A sphere given a slide spins as it goes (resolve() gives it rolling spin), so it never
    stops by friction; for the others v^2 / (2 mu g) must be short and the stop early.
    """
    if o.motion != "slide" or o.shape == "sphere" or effect(o) == "glide":
        return False
    v = SLIDE_SPEED * SPEEDS[o.speed]
    mu = MATERIALS[o.material]["friction"] * FLOOR_FRICTION
    return v * v / (2 * mu * GRAVITY) < 1.0 and v / (mu * GRAVITY) < 0.6 * duration


def mass(o: ObjectSpec) -> float:
    s = SIZES[o.size]["scale"]
    volume = {"sphere": 4 / 3 * math.pi * s**3, "cube": (2 * s) ** 3, "cylinder": math.pi * s * s * 2.2 * s}[o.shape]
    return volume * MATERIALS[o.material]["density"] * 1000.0


def push_moves_target(o: ObjectSpec, spec: ShotSpec) -> bool:
    """True when a push visibly shoves its target (not much heavier, not stacked)."""
    if o.motion != "push" or o.target is None:
        return False
    t = spec.object(o.target)
    return t.on is None and t.motion == "still" and mass(o) >= 0.5 * mass(t)


# ---------------------------------------------------------------------------------
# Units: what a caption has one clause for
# ---------------------------------------------------------------------------------

_ORDER = {name: {v: i for i, v in enumerate(vals)} for name, vals in (
    ("shape", tuple(SHAPES)), ("color", tuple(COLORS)), ("size", tuple(SIZES)), ("motion", MOTIONS),
    ("direction", DIRECTIONS), ("speed", tuple(SPEEDS)))}


def has_direction(o: ObjectSpec) -> bool:
    return o.motion in ("roll", "slide", "push") and o.direction is not None


def has_speed(o: ObjectSpec) -> bool:
    return o.motion in ("roll", "slide", "push") and o.speed != "normal"


def describe(o: ObjectSpec) -> tuple:
    """Everything a caption says about one object itself (not its relations)."""
    return (o.shape, o.color, o.size, o.motion, o.direction if has_direction(o) else None,
            o.speed if has_speed(o) else "normal", effect(o))


def _sort_key(o: ObjectSpec) -> tuple:
    d = describe(o)
    return (_ORDER["color"][o.color], _ORDER["shape"][o.shape], _ORDER["size"][o.size],
            _ORDER["motion"][o.motion], -1 if d[4] is None else _ORDER["direction"][d[4]],
            _ORDER["speed"][d[5]], d[6] or "")


def units(spec: ShotSpec) -> list[list[ObjectSpec]]:
    """The objects grouped into clauses, in canonical order.

    A still object that something pushes or stands on is mentioned inside that clause
    ("... rolls right into a large blue cube"), not on its own. Free objects that look and
    move alike are one plural clause ("two small red balls fall").
    """
    referenced = {o.target for o in spec.objects if o.target} | {o.on for o in spec.objects if o.on}
    embedded = {o.id for o in spec.objects if o.id in referenced and o.motion == "still" and o.on is None}
    groups: dict[tuple, list[ObjectSpec]] = {}
    out: list[list[ObjectSpec]] = []
    for o in spec.objects:
        if o.id in embedded:
            continue
        if o.target is None and o.on is None and o.id not in referenced:
            key = describe(o)
            if key not in groups:
                groups[key] = []
                out.append(groups[key])
            groups[key].append(o)
        else:
            out.append([o])

    def key(u: list[ObjectSpec]) -> tuple:
        o = u[0]
        rel = [_sort_key(spec.object(r)) for r in (o.target, o.on) if r]
        return (_sort_key(o), len(u), rel)

    return sorted(out, key=key)


class _Mentions:
    """Which objects a caption has introduced so far ('a ...' first, 'the ...' after)."""

    def __init__(self, spec: ShotSpec):
        self.spec = spec
        self.seen: set[str] = set()

    def first(self, o: ObjectSpec) -> bool:
        if o.id in self.seen:
            return False
        self.seen.add(o.id)
        return True

    def twins(self, o: ObjectSpec, *attrs: str) -> int:
        """How many other objects agree with `o` on `attrs`."""
        return sum(all(getattr(p, a) == getattr(o, a) for a in attrs) for p in self.spec.objects if p is not o)


# ---------------------------------------------------------------------------------
# The canonical caption
# ---------------------------------------------------------------------------------

_CANON_VERB = {  # motion -> (singular, plural)
    "still": ("stays still", "stay still"), "fall": ("falls", "fall"), "roll": ("rolls", "roll"),
    "slide": ("slides", "slide"), "glide": ("glides", "glide"),
}
_CANON_EFFECT = {"bounce": ("and bounces", "and bounce"), "no_bounce": ("and does not bounce", "and do not bounce")}
_CANON_SPEED = {"fast": "fast", "slow": "slowly", "normal": ""}
_CANON_CAMERA = {"static": "is static", "pan_left": "pans left", "pan_right": "pans right",
                 "orbit_left": "orbits left", "orbit_right": "orbits right", "zoom_in": "zooms in",
                 "zoom_out": "zooms out"}


def _canon_np(o: ObjectSpec, n: int = 1) -> str:
    noun = EN_SHAPES[o.shape][0]
    if n == 1:
        return f"a {o.size} {o.color} {noun}"
    return f"{EN_COUNTS[n]} {o.size} {o.color} {plural(noun)}"


def _canon_ref(o: ObjectSpec, m: _Mentions) -> str:
    if m.first(o):
        return _canon_np(o)
    other = "other " if m.twins(o, "size", "color", "shape") else ""
    return f"the {other}{o.size} {o.color} {EN_SHAPES[o.shape][0]}"


def _join(*parts: str) -> str:
    return " ".join(p for p in parts if p)


def canonical_caption(spec: ShotSpec) -> str:
    """The one English caption of a spec: fixed words, fixed order, lower case.

    Clauses are sorted by colour, shape, size, motion..., so the caption does not depend
    on the order of spec.objects; the camera comes last and is always stated.
    """
    m = _Mentions(spec)
    sentences = []
    for u in units(spec):
        o, n = u[0], len(u)
        pl = 0 if n == 1 else 1
        d = o.direction if has_direction(o) else ""
        s = _CANON_SPEED[o.speed] if has_speed(o) else ""
        if n == 1:
            np = _canon_ref(o, m)
        else:
            for p in u:
                m.first(p)
            np = _canon_np(o, n)
        eff = effect(o)
        if o.motion == "push":
            verb = "rolls" if o.shape == "sphere" else "slides"
            clause = _join(np, verb, d, s, "into", _canon_ref(spec.object(o.target), m))
        elif o.motion == "topple":
            clause = _join(np, "topples off", _canon_ref(spec.object(o.on), m))
        elif o.motion == "still" and o.on is not None:
            clause = _join(np, "sits on", _canon_ref(spec.object(o.on), m))
        else:
            verb = _CANON_VERB["glide" if eff == "glide" else o.motion][pl]
            clause = _join(np, verb, d, s, _CANON_EFFECT[eff][pl] if eff in _CANON_EFFECT else "")
        sentences.append(clause)
    cam = spec.camera
    cs = _CANON_SPEED[cam.speed] if cam.motion != "static" else ""
    sentences.append(_join("the camera", _CANON_CAMERA[cam.motion], cs))
    return ". ".join(sentences) + "."


# ---------------------------------------------------------------------------------
# Natural English captions
# ---------------------------------------------------------------------------------


def plural(noun: str) -> str:
    return noun + ("es" if noun.endswith(("s", "x", "sh", "ch")) else "s")


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


def _pick(rng: random.Random, words: tuple[str, ...] | list[str], p_first: float = 0.6) -> str:
    """The first (most common) word with probability p_first, else any other."""
    if len(words) == 1 or rng.random() < p_first:
        return words[0]
    return rng.choice(words[1:])


# Verb phrases: motion -> list of (singular, plural). {d} = direction phrase.
_EN_STILL = [("sits still", "sit still"), ("stays still", "stay still"), ("rests on the floor", "rest on the floor"),
             ("does not move", "do not move"), ("stands still", "stand still"),
             ("sits motionless on the ground", "sit motionless on the ground"),
             ("stays where it is", "stay where they are")]
_EN_FALL = [("falls", "fall"), ("drops", "drop"), ("falls to the floor", "fall to the floor"),
            ("falls from above", "fall from above"), ("drops from the air", "drop from the air"),
            ("falls down", "fall down")]
_EN_BOUNCE = [(" and bounces", " and bounce"), (" and bounces back up", " and bounce back up"),
              (", bouncing off the floor", ", bouncing off the floor"),
              (" and bounces on the floor", " and bounce on the floor")]
_EN_NO_BOUNCE = [(" and lands without bouncing", " and land without bouncing"),
                 (" without bouncing", " without bouncing"),
                 (" and does not bounce", " and do not bounce"),
                 (" and hits the floor without a bounce", " and hit the floor without a bounce")]
_EN_ROLL = [("rolls {d}", "roll {d}"), ("rolls {d} across the floor", "roll {d} across the floor"),
            ("goes rolling {d}", "go rolling {d}"), ("rolls along the ground {d}", "roll along the ground {d}")]
_EN_SLIDE = [("slides {d}", "slide {d}"), ("slides {d} across the floor", "slide {d} across the floor"),
             ("skids {d}", "skid {d}"), ("slides along the ground {d}", "slide along the ground {d}")]
_EN_GLIDE = [("glides {d}", "glide {d}"), ("glides {d} across the floor", "glide {d} across the floor"),
             ("slides {d} a long way", "slide {d} a long way"), ("glides smoothly {d}", "glide smoothly {d}")]
_EN_STOP = [" and comes to a stop", " and stops", ", then stops"]
_EN_PUSH = ["{v} {d} into {t}", "{v} {d} and crashes into {t}", "{v} {d} and hits {t}", "heads {d} and bumps into {t}",
            "moves {d} and knocks into {t}", "{v} {d} until it hits {t}"]
_EN_PUSHED = [" and pushes it along", ", pushing it away", " and shoves it"]
_EN_TOPPLE = ["topples off {t}", "falls off {t}", "tips over and falls off {t}", "tumbles off {t}",
              "starts on top of {t} and topples off"]
_EN_STACK = ["sits on top of {t}", "rests on {t}", "is stacked on {t}", "stands still on {t}"]
_EN_CAMERA = {  # (subject, verb phrase)
    "pan": [("the camera", "pans {d}"), ("the view", "pans {d}"), ("the shot", "pans {d}")],
    "orbit": [("the camera", "orbits {d}"), ("the camera", "circles {d} around the scene"),
              ("the camera", "orbits {d} around the scene")],
    "zoom_in": [("the camera", "zooms in"), ("the camera", "pushes in"), ("the view", "zooms in"),
                ("the camera", "dollies in")],
    "zoom_out": [("the camera", "zooms out"), ("the camera", "pulls back"), ("the view", "zooms out"),
                 ("the camera", "pulls out")],
    "static": [("the camera", "stays still"), ("the camera", "does not move"), ("the camera", "is static"),
               ("the shot", "is static")],
}
_EN_CAMERA_ING = {"pan": "panning {d}", "orbit": "orbiting {d}", "zoom_in": "zooming in",
                  "zoom_out": "zooming out", "static": "holding still"}


class _EnWriter:
    def __init__(self, spec: ShotSpec, rng: random.Random):
        self.spec, self.rng, self.m = spec, rng, _Mentions(spec)

    # -- noun phrases -------------------------------------------------------------
    def adjs(self, o: ObjectSpec, material: bool) -> list[str]:
        """Size, [material], colour: English puts size first and material next to the noun."""
        rng = self.rng
        words = [_pick(rng, EN_SIZES[o.size], 0.5), _pick(rng, EN_COLORS[o.color], 0.8)]
        if material:
            w = _pick(rng, EN_MATERIALS[o.material][:2], 0.5)
            if w.endswith("y"):
                words.insert(1, w)  # adjectives before the colour: "a small bouncy red ball"
            else:
                words.append(w)  # nouns next to the noun: "a small red rubber ball"
        return words

    def noun(self, o: ObjectSpec, n: int = 1) -> str:
        w = _pick(self.rng, EN_SHAPES[o.shape], 0.7)
        return w if n == 1 else plural(w)

    def indef(self, o: ObjectSpec, material: bool = False, head: str | None = None) -> str:
        words = self.adjs(o, material) + [head or self.noun(o)]
        return f"{_article(words[0])} {' '.join(words)}"

    def ref(self, o: ObjectSpec) -> str:
        """First mention: 'a ...'; later: a description that is unique."""
        return self.indef(o) if self.m.first(o) else self.definite(o)

    def definite(self, o: ObjectSpec) -> str:
        rng = self.rng
        forms = []
        if not self.m.twins(o, "shape"):
            forms.append(f"the {self.noun(o)}")
        if not self.m.twins(o, "color", "shape"):
            forms.append(f"the {_pick(rng, EN_COLORS[o.color], 0.8)} {self.noun(o)}")
        if not self.m.twins(o, "color"):
            forms.append(f"the {_pick(rng, EN_COLORS[o.color], 0.8)} one")
        if not self.m.twins(o, "size", "color", "shape"):
            forms.append(f"the {' '.join(self.adjs(o, False))} {self.noun(o)}")
        if not forms:
            forms.append(f"the other {' '.join(self.adjs(o, False))} {self.noun(o)}")
        return rng.choice(forms)

    # -- clauses --------------------------------------------------------------------
    def direction(self, o: ObjectSpec) -> str:
        return _pick(self.rng, EN_DIRECTIONS[o.direction], 0.4)

    def with_speed(self, o: ObjectSpec, verb_phrase: str) -> str:
        """Put the speed adverb before the verb ('quickly rolls') or at the end."""
        if not has_speed(o):
            return verb_phrase
        adv = _pick(self.rng, EN_SPEEDS[o.speed], 0.4)
        if adv != "fast" and self.rng.random() < 0.4:
            return f"{adv} {verb_phrase}"
        return f"{verb_phrase} {adv}"

    def clause(self, u: list[ObjectSpec], head: str | None = None) -> str:
        """One unit's clause. `head` = 'one' inside a count group ('a small red one falls')."""
        rng, spec = self.rng, self.spec
        o, n = u[0], len(u)
        pl = 0 if n == 1 else 1
        eff = effect(o)
        # Effects are told by an adjective in the noun phrase, a verb phrase, or both.
        eff_adj = eff is not None and rng.random() < 0.35
        eff_verb = eff is not None and (not eff_adj or rng.random() < 0.3)
        if n > 1:
            for p in u:
                self.m.first(p)
            words = self.adjs(o, eff_adj) + [self.noun(o, n)]
            np = f"{EN_COUNTS[n]} {' '.join(words)}"
        elif head is not None:
            self.m.first(o)
            np = self.indef(o, eff_adj, head)
        elif self.m.first(o):
            np = self.indef(o, eff_adj)
        else:  # introduced earlier as the target or support of another object
            np = self.definite(o) if not eff_adj else f"the {' '.join(self.adjs(o, True))} {self.noun(o)}"

        if o.motion == "still" and o.on is not None:
            vp = rng.choice(_EN_STACK).format(t=self.ref(spec.object(o.on)))
        elif o.motion == "still":
            vp = rng.choice(_EN_STILL)[pl]
        elif o.motion == "fall":
            vp = rng.choice(_EN_FALL)[pl]
            if eff_verb:
                vp += rng.choice(_EN_BOUNCE if eff == "bounce" else _EN_NO_BOUNCE)[pl]
        elif o.motion == "roll":
            vp = self.with_speed(o, rng.choice(_EN_ROLL)[pl].format(d=self.direction(o)))
        elif o.motion == "slide":
            table = _EN_GLIDE if eff_verb else _EN_SLIDE
            vp = self.with_speed(o, rng.choice(table)[pl].format(d=self.direction(o)))
            if n == 1 and slide_stops(o, spec.duration) and rng.random() < 0.5:
                vp += rng.choice(_EN_STOP)
        elif o.motion == "push":
            t = spec.object(o.target)
            verb = "rolls" if o.shape == "sphere" else "slides"
            d = self.direction(o) if o.direction else ""
            tmpl = rng.choice(_EN_PUSH)
            vp = " ".join(tmpl.format(v=verb, d=d, t="{t}").split())
            if has_speed(o):
                # "quickly rolls right into ..." / "rolls right quickly into ..."
                first, _, rest = vp.partition(" ")
                adv = _pick(rng, EN_SPEEDS[o.speed], 0.4)
                vp = f"{adv} {vp}" if adv != "fast" and rng.random() < 0.5 else f"{first} {adv} {rest}"
            vp = vp.format(t=self.ref(t))
            if push_moves_target(o, spec) and rng.random() < 0.4:
                vp += rng.choice(_EN_PUSHED)
        elif o.motion == "topple":
            vp = rng.choice(_EN_TOPPLE).format(t=self.ref(spec.object(o.on)))
        else:  # pragma: no cover - validate() rules this out
            raise ValueError(o.motion)
        return f"{np} {vp}"

    def camera(self, position: str) -> str:
        """The camera's clause; position 'with' gives 'the camera panning left' (after 'with')."""
        cam, rng = self.spec.camera, self.rng
        kind = cam.motion.split("_")[0] if cam.motion.startswith(("pan", "orbit")) else cam.motion
        d = cam.motion.split("_")[1] if kind in ("pan", "orbit") else ""
        d = _pick(rng, EN_DIRECTIONS[d], 0.5) if d else ""
        adv = _pick(rng, EN_SPEEDS[cam.speed], 0.4) if cam.speed != "normal" and cam.motion != "static" else ""
        if position == "with":
            subj, vp = "the camera", _EN_CAMERA_ING[kind].format(d=d)
        else:
            subj, vp = rng.choice(_EN_CAMERA[kind])
            vp = vp.format(d=d)
        if adv and adv != "fast" and rng.random() < 0.5:
            return f"{subj} {adv} {vp}"
        return _join(subj, vp, adv)

    def caption(self) -> str:
        rng, spec = self.rng, self.spec
        us = units(spec)
        rng.shuffle(us)
        clauses = self.count_groups(us)
        cam = spec.camera
        # A static camera is said only sometimes (the parser assumes it); a move always.
        say_cam = cam.motion != "static" or rng.random() < 0.35
        if not clauses:
            return (self.camera("main").capitalize() + ".") if say_cam else "An empty floor."
        # "As the camera pans left, ..." reads well for a move, not for a static camera.
        positions = ["start", "end", "sentence", "with"] if cam.motion != "static" else ["end", "sentence", "with"]
        pos = rng.choice(positions) if say_cam else None
        body = clauses[0]
        for c in clauses[1:]:
            body += rng.choice([", and ", "; ", ". ", ", while ", " while ", ", and meanwhile "]) + c
        if pos == "start":
            text = f"{rng.choice(['As', 'While'])} {self.camera('main')}, {body}"
        elif pos == "end":
            text = f"{body}{rng.choice([', as ', ' as ', ', while ', ' while '])}{self.camera('main')}"
        elif pos == "sentence":
            text = f"{body}. {self.camera('main')}" if rng.random() < 0.5 else f"{self.camera('main')}. {body}"
        elif pos == "with":
            text = (f"{body}, with {self.camera('with')}" if rng.random() < 0.5
                    else f"With {self.camera('with')}, {body}")
        else:
            text = body
        return _sentence_case(text) + "."

    def count_groups(self, us: list[list[ObjectSpec]]) -> list[str]:
        """Clauses, sometimes gathering same-shaped objects: 'two balls: a red one ..., and a blue one ...'."""
        rng = self.rng
        by_shape: dict[str, list[list[ObjectSpec]]] = {}
        for u in us:
            by_shape.setdefault(u[0].shape, []).append(u)
        gather = None
        for shape, group in by_shape.items():
            free = all(len(u) == 1 and u[0].target is None and u[0].on is None for u in group)
            total = sum(o.shape == shape for o in self.spec.objects)
            referenced = any(shape == self.spec.object(r).shape
                             for p in self.spec.objects for r in (p.target, p.on) if r)
            if len(group) >= 2 and free and total == len(group) and not referenced and rng.random() < 0.4:
                gather = shape
                break
        out = []
        done = False
        for u in us:
            if gather is not None and u[0].shape == gather:
                if done:
                    continue
                done = True
                members = [g for g in us if g[0].shape == gather]
                head = plural(self.noun(members[0][0]))
                intro = f"{rng.choice(['', 'there are '])}{EN_COUNTS[len(members)]} {head}: "
                parts = [self.clause(g, head="one") for g in members]
                out.append(intro + ", ".join(parts[:-1]) + ", and " + parts[-1])
            else:
                out.append(self.clause(u))
        return out


def _sentence_case(text: str) -> str:
    """Capitalise the first letter and each letter after '. '."""
    out = text[:1].upper() + text[1:]
    parts = out.split(". ")
    return ". ".join(p[:1].upper() + p[1:] for p in parts)


# ---------------------------------------------------------------------------------
# Natural Chinese captions
# ---------------------------------------------------------------------------------

_ZH_STILL = ["{np}静止不动", "{np}一动不动", "{np}静静地停在地上", "{np}停在原地不动", "地上放着{np}"]
_ZH_FALL = ["{np}从空中落下", "{np}落到地上", "{np}掉了下来", "{np}从上方掉落", "{np}从高处下落"]
_ZH_BOUNCE = ["并弹起", "，又弹了起来", "，落地后反弹", "，在地上弹跳"]
_ZH_NO_BOUNCE = ["，落地后没有弹起", "，几乎没有反弹", "，没有反弹"]
_ZH_ROLL = ["{np}{s}{d}滚动", "{np}{s}{d}滚去", "{np}在地上{s}{d}滚动", "{np}{s}滚向{side}"]
_ZH_SLIDE = ["{np}{s}{d}滑动", "{np}{s}{d}滑去", "{np}在地上{s}{d}滑行", "{np}{s}滑向{side}"]
_ZH_GLIDE = ["{np}{s}{d}滑出很远", "{np}在地上{s}{d}滑出很远", "{np}{s}{d}滑行，滑得很远"]
_ZH_STOP = ["，然后停了下来", "，随后停下"]
_ZH_PUSH = ["{np}{s}{d}{v}去，撞上{t}", "{np}{s}{d}{v}动并撞到{t}", "{np}{s}{d}{v}去，撞向{t}",
            "{np}{s}{d}{v}去，撞在{t}上"]
_ZH_PUSHED = ["，把它推开", "，推着它移动"]
_ZH_TOPPLE = ["{np}从{t}上掉下来", "{np}从{t}顶上翻落", "{np}从{t}上{v}落", "{np}原本在{t}上，随后翻倒落下"]
_ZH_STACK = ["{np}稳稳地放在{t}上", "{np}叠放在{t}上面", "{np}静止在{t}顶上"]
_ZH_CAMERA = {
    "pan": ["镜头{s}{d}平移", "镜头{s}{d}摇动", "摄像机{s}{d}平移"],
    "orbit": ["镜头{s}{d}环绕", "镜头围绕场景{s}{d}旋转", "镜头{s}{d}环绕拍摄"],
    "zoom_in": ["镜头{s}推近", "镜头{s}拉近", "画面{s}放大"],
    "zoom_out": ["镜头{s}拉远", "镜头{s}向后拉远", "画面{s}缩小"],
    "static": ["镜头固定不动", "固定镜头", "镜头保持静止"],
}


class _ZhWriter:
    def __init__(self, spec: ShotSpec, rng: random.Random):
        self.spec, self.rng, self.m = spec, rng, _Mentions(spec)

    def np(self, o: ObjectSpec, n: int = 1, material: bool = False, count: bool = True) -> str:
        """一个小红球 / 一个红色的小球 / 一颗红色的小橡胶球 / 两个小红球 / 小红球 (count=False)."""
        rng = self.rng
        size = SIZES[o.size]["zh"]
        full, short = ZH_COLORS[o.color][:2]
        noun = _pick(rng, ZH_SHAPES[o.shape], 0.75)
        mat = ""
        if material:
            mat = _pick(rng, ZH_MATERIALS[o.material][:2], 0.5)
        if n == 1:
            det = rng.choice(["一个", "一个", f"一{ZH_MEASURE[o.shape]}"]) if count else ""
        else:
            det = f"{ZH_COUNTS[n]}个"
        if mat and (mat.endswith("的") or mat == "有弹性"):  # 冰做的 / 有弹性的 go first
            mat = mat if mat.endswith("的") else mat + "的"
            return det + mat + rng.choice([f"{size}{short}{noun}", f"{full}的{size}{noun}"])
        forms = [f"{size}{short}{mat}{noun}", f"{full}的{size}{mat}{noun}", f"{size}的{full}{mat}{noun}"]
        return det + rng.choice(forms)

    def ref(self, o: ObjectSpec) -> str:
        if self.m.first(o):
            return self.np(o)
        size = SIZES[o.size]["zh"]
        full, short = ZH_COLORS[o.color][:2]
        noun = ZH_SHAPES[o.shape][0]
        forms = []
        if not self.m.twins(o, "color", "shape"):
            forms += [f"{short}{noun}", f"那个{full}的{noun}", f"{full}的{noun}"]
        if not self.m.twins(o, "size", "color", "shape"):
            forms += [f"{size}{short}{noun}", f"那个{full}的{size}{noun}"]
        if not forms:
            forms.append(f"另一个{size}{short}{noun}")
        return self.rng.choice(forms)

    def speed(self, o_speed: str, moving: bool) -> str:
        return _pick(self.rng, ZH_SPEEDS[o_speed], 0.4) if moving and o_speed != "normal" else ""

    def clause(self, u: list[ObjectSpec], count: bool = True) -> str:
        rng, spec = self.rng, self.spec
        o, n = u[0], len(u)
        eff = effect(o)
        eff_adj = eff is not None and rng.random() < 0.35
        eff_verb = eff is not None and (not eff_adj or rng.random() < 0.3)
        if n > 1:
            for p in u:
                self.m.first(p)
            np = self.np(o, n, eff_adj)
        elif self.m.first(o):
            np = self.np(o, 1, eff_adj, count)
        else:
            np = self.np(o, 1, eff_adj, count=False)
        s = self.speed(o.speed, has_speed(o))
        d = _pick(rng, ZH_DIRECTIONS[o.direction], 0.5) if has_direction(o) else ""
        side = ZH_SIDES[o.direction] if has_direction(o) else ""
        if o.motion == "still" and o.on is not None:
            text = rng.choice(_ZH_STACK).format(np=np, t=self.ref(spec.object(o.on)))
        elif o.motion == "still":
            text = rng.choice(_ZH_STILL).format(np=np)
        elif o.motion == "fall":
            text = rng.choice(_ZH_FALL).format(np=np)
            if eff_verb:
                text += rng.choice(_ZH_BOUNCE if eff == "bounce" else _ZH_NO_BOUNCE)
        elif o.motion == "roll":
            text = rng.choice(_ZH_ROLL).format(np=np, s=s, d=d, side=side)
        elif o.motion == "slide":
            text = rng.choice(_ZH_GLIDE if eff_verb else _ZH_SLIDE).format(np=np, s=s, d=d, side=side)
            if n == 1 and slide_stops(o, spec.duration) and rng.random() < 0.5:
                text += rng.choice(_ZH_STOP)
        elif o.motion == "push":
            v = "滚" if o.shape == "sphere" else "滑"
            text = rng.choice(_ZH_PUSH).format(np=np, s=s, d=d, v=v, t=self.ref(spec.object(o.target)))
            if push_moves_target(o, spec) and rng.random() < 0.4:
                text += rng.choice(_ZH_PUSHED)
        elif o.motion == "topple":
            v = "滚" if o.shape == "sphere" else "翻"
            text = rng.choice(_ZH_TOPPLE).format(np=np, t=self.ref(spec.object(o.on)), v=v)
        else:  # pragma: no cover
            raise ValueError(o.motion)
        return text

    def camera(self) -> str:
        cam, rng = self.spec.camera, self.rng
        kind = cam.motion.split("_")[0] if cam.motion.startswith(("pan", "orbit")) else cam.motion
        d = cam.motion.split("_")[1] if kind in ("pan", "orbit") else ""
        d = _pick(rng, ZH_DIRECTIONS[d], 0.5) if d else ""
        s = self.speed(cam.speed, cam.motion != "static")
        return rng.choice(_ZH_CAMERA[kind]).format(s=s, d=d)

    def caption(self) -> str:
        rng, spec = self.rng, self.spec
        us = units(spec)
        rng.shuffle(us)
        clauses = self.count_groups(us)
        cam = spec.camera
        say_cam = cam.motion != "static" or rng.random() < 0.35
        if not clauses:
            return (self.camera() if say_cam else "空荡荡的地面") + "。"
        body = clauses[0]
        for c in clauses[1:]:
            body += rng.choice(["，", "；", "。", "，同时", "，与此同时，"]) + c
        if say_cam:
            pos = rng.random()
            if pos < 0.4:
                body = f"{self.camera()}，{body}"
            elif pos < 0.8:
                body = f"{body}{rng.choice(['，同时', '，', '。'])}{self.camera()}"
            else:
                body = f"{self.camera()}的同时，{body}"
        return body + "。"

    def count_groups(self, us: list[list[ObjectSpec]]) -> list[str]:
        """Sometimes: 两个球：小红球从空中落下，大蓝球向左滚动."""
        rng = self.rng
        shapes = [u[0].shape for u in us]
        gather = None
        for shape in dict.fromkeys(shapes):
            group = [u for u in us if u[0].shape == shape]
            free = all(len(u) == 1 and u[0].target is None and u[0].on is None for u in group)
            total = sum(o.shape == shape for o in self.spec.objects)
            referenced = any(shape == self.spec.object(r).shape
                             for p in self.spec.objects for r in (p.target, p.on) if r)
            if len(group) >= 2 and free and total == len(group) and not referenced and rng.random() < 0.4:
                gather = shape
                break
        out, done = [], False
        for u in us:
            if gather is not None and u[0].shape == gather:
                if done:
                    continue
                done = True
                members = [g for g in us if g[0].shape == gather]
                noun = ZH_SHAPES[gather][0]
                parts = [self.clause(g, count=rng.random() < 0.5) for g in members]
                out.append(f"{ZH_COUNTS[len(members)]}个{noun}：" + "，".join(parts))
            else:
                out.append(self.clause(u))
        return out


# ---------------------------------------------------------------------------------
# API
# ---------------------------------------------------------------------------------


@dataclass
class Captions:
    en: list[str]
    zh: list[str]
    canonical: str


def _rng(rng_or_seed: random.Random | int) -> random.Random:
    return rng_or_seed if isinstance(rng_or_seed, random.Random) else random.Random(rng_or_seed)


def caption(spec: ShotSpec, lang: str = "en", seed: int | random.Random = 0) -> str:
    """One natural caption of `spec` in 'en' or 'zh'; same seed, same caption."""
    rng = _rng(seed)
    if lang == "en":
        return _EnWriter(spec, rng).caption()
    if lang == "zh":
        return _ZhWriter(spec, rng).caption()
    raise ValueError(f"unknown caption language {lang!r}; use 'en' or 'zh'")


def captions(spec: ShotSpec, rng_or_seed: random.Random | int = 0, n: int = 3, lang: str = "en") -> list[str]:
    """`n` natural captions in `lang`, distinct where the spec allows (a few tries each)."""
    rng = _rng(rng_or_seed)
    out: list[str] = []
    for _ in range(n * 6):
        c = caption(spec, lang, rng)
        if c not in out:
            out.append(c)
        if len(out) == n:
            break
    while len(out) < n:  # a spec so plain that it has fewer than n wordings
        out.append(caption(spec, lang, rng))
    return out


def make_captions(spec: ShotSpec, seed: int = 0, n_en: int = 3, n_zh: int = 3) -> Captions:
    """English and Chinese captions and the canonical caption of one spec."""
    rng = random.Random(seed)
    return Captions(en=captions(spec, rng, n_en, "en"), zh=captions(spec, rng, n_zh, "zh"),
                    canonical=canonical_caption(spec))


__all__ = ["Captions", "caption", "captions", "make_captions", "canonical_caption", "effect", "units",
           "describe", "slide_stops", "push_moves_target"]
