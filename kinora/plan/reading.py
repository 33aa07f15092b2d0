"""The reader: tokens into objects, a camera and warnings.

It is a small rule-based reader, not a grammar: noun phrases become objects ("two blue
cubes" is two objects, "the red ball" names one already there), and everything else
(motions, directions, speeds, camera moves, relations such as "into the cube" or
"从方块上") attaches to the subject of its clause. Beyond that it keeps what ordinary
prompts need: participles and Chinese clauses before a noun (a bouncing ball,
向左滚的小球) describe that noun; "all", 都 and compound subjects share a verb; a pronoun
after a relation is its object ("rolls into it"); "one ..., one ..." / 一个…一个… tell the
members of a plural subject apart; "opposite directions", "towards each other" split
directions; "then", "one after another", 依次 give start stages; "nothing moves" stills
the rest; things the world cannot show are recorded, and what they do is dropped. What it
collects is still raw, every value with the span of the words that said it;
`kinora.plan.building` turns it into ObjectSpecs and a CameraSpec.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kinora.errors import KinoraError
from kinora.plan.lexicon import NO_SUCH_COLOR, nearest_known
from kinora.plan.tokens import Tok
from kinora.world.spec import COLORS, MAX_OBJECTS

Span = tuple[int, int]


@dataclass
class _Group:
    members: list["_Obj"]
    open: bool = True  # members still waiting to be told apart ("two balls: a red one ...")


@dataclass
class _Obj:
    span: Span
    fields: dict[str, tuple[Any, Span]] = field(default_factory=dict)
    motions: list[tuple[str, Span]] = field(default_factory=list)
    effects: list[tuple[str, Span]] = field(default_factory=list)
    dirs: list[tuple[str, Span]] = field(default_factory=list)
    speeds: list[tuple[str, Span]] = field(default_factory=list)
    target: tuple["_Obj", Span] | None = None
    on: tuple["_Obj", Span] | None = None
    off: Span | None = None
    group: _Group | None = None
    filled: bool = False
    mentioned: int = 0
    stage: tuple[int, Span] | None = None  # its place in a sequence ("one after another") and the words


@dataclass
class _Camera:
    spans: list[Span] = field(default_factory=list)
    moves: list[tuple[str, str | None, Span]] = field(default_factory=list)
    dirs: list[tuple[str, Span]] = field(default_factory=list)
    speeds: list[tuple[str, Span]] = field(default_factory=list)


@dataclass
class _NP:
    start: int
    end: int
    det: str | None = None
    other: bool = False
    count: tuple[int, Span] | None = None
    vague: bool = False
    attrs: dict[str, tuple[Any, Span]] = field(default_factory=dict)
    head: str | None = None  # "shape" | "one" | "unknown" | None
    unknowns: list[Tok] = field(default_factory=list)  # words it does not know ("a red pyramid")
    plural: bool = False
    mods: list[Tok] = field(default_factory=list)  # speed words inside ("a fast red ball")


_NP_START = {"det", "count", "vague", "size", "color", "material", "shape", "one"}
_NP_MORE = {"size", "color", "material", "shape"}
_ZH_CLAUSE = {"motion", "effect", "dir", "speed", "known"}
_ZH_PARTICLES = {"来", "去", "着", "了", "过", "起", "下", "中"}  # 滚过来的, 弹起来的, 滚动中的
_ATTACH = {"motion", "effect", "dir", "speed", "camverb"}
# English motion words that work as adjectives before a noun: "a bouncing ball", "a still cube"
_EN_ADJ_MOTION = {"still", "motionless", "stationary", "static", "unmoving", "immobile", "fixed", "resting"}
_WHAT = {"color": "a colour in the world's palette", "shape": "a shape the world has",
         "material": "a material the world has", "size": "a size the world has", "effect": "a motion the world has"}


class Reader:
    """Reads tokens left to right, keeping the subject of the current clause.

    Noun phrases become objects (new, or ones already named); motion, direction, speed,
    effect and relation words attach to the clause's subject; words that come before
    any subject wait in `pending` ("Slowly, a ball rolls"; 地上放着一个方块), and a clause
    without a subject continues the previous one ("falls and bounces", "，又弹了起来").
    """

    def __init__(self, text: str, toks: list[Tok], lang: str, encoder=None, raw: list[Tok] | None = None):
        self.text, self.toks, self.lang, self.encoder = text, toks, lang, encoder
        self.objs: list[_Obj] = []
        self.cam = _Camera()
        self.warnings: list[str] = []
        self.subject: list[_Obj] | str | None = None  # objects, "camera", or None
        self.prev_subject: list[_Obj] | str | None = None
        self.clause_subject = False
        self.clause_attached = False
        self.clause_at_sentence_start = True
        self.pending: list[tuple] = []
        self.expect: Tok | None = None
        self.compound = False
        self.passive: _Obj | None = None
        self.last_np_shape: tuple[str, Span] | None = None
        self.counter = 0
        self.duration: tuple[float, Span] | None = None
        self.substitutions: list[dict] = []
        self.unrendered: list[dict] = []
        self.asked_at: dict[Span, tuple[str, str]] = {}  # span -> (word asked for, value used)
        self.stage = 0  # the current step of a sequence ("X falls, then Y rolls")
        self.then: Span | None = None  # a "then" seen, waiting for the next clause's subject
        self.sequenced = False
        self.all_still: Span | None = None
        self.np_mods: list[Tok] = []  # participles waiting for their noun (正在弹跳的紫色球)
        self.sentence_objs: list[_Obj] = []  # objects named in the current sentence ("... all falling")
        self.timing: Span | None = None  # "One by one, ...": waiting for the objects it orders
        self.loc_on: tuple[_Obj, Span] | None = None  # 方块上面放着一个球 / 放在圆桶上的弹珠: the support named first
        self.taken: set[int] = set()  # members of a plural subject already told apart ("一个…，一个…")
        self.last_many: list[_Obj] = []  # the last subject of several objects
        self.note_substitutions(self.toks if raw is None else raw)

    def note_substitutions(self, toks: list[Tok]) -> None:
        """Every value the world lacks and every misspelling, named once in the warnings (read
        from the tokens before any rewrite, which may rebuild the words that carry them)."""
        for t in toks:
            span = (t.start, t.end)
            if t.asked is not None and span not in self.asked_at:
                used = t.value[0] if t.cat == "shape" else t.value
                shown = {"shape": lambda v: f"a {v}", "effect": lambda v: "a bounce"}.get(t.cat, lambda v: v)(
                    {"sphere": "ball"}.get(used, used))
                self.warn(f"'{t.text}' is not {_WHAT.get(t.cat, 'in the world')}; using {shown}"
                          + (" (the nearest hue)" if t.cat == "color" else ""))
                self.asked_at[span] = (t.text, used)
                self.substitutions.append({"field": {"effect": "motion"}.get(t.cat, t.cat), "asked": t.text,
                                           "used": used, "start": t.start, "end": t.end})
            if t.typo is not None and span not in self.asked_at:
                s0, e0, fix = t.typo
                word = self.text[s0:e0]
                self.warn(f"reading '{word}' as '{fix}'")
                self.asked_at[span] = (word, fix)
                self.substitutions.append({"field": "word", "asked": word, "used": fix, "start": s0, "end": e0})

    # -- helpers ----------------------------------------------------------------------
    def warn(self, msg: str) -> None:
        if msg not in self.warnings:
            self.warnings.append(msg)

    def mention(self, objs: list[_Obj]) -> None:
        self.sentence_objs += [o for o in objs if o not in self.sentence_objs]
        for o in objs:
            self.counter += 1
            o.mentioned = self.counter

    def open_group(self, np: _NP, closed_too: bool = False) -> _Group | None:
        shape = np.attrs.get("shape", (None,))[0]
        for o in reversed(self.objs):
            g = o.group
            if g is None or (not g.open and not closed_too):
                continue
            gshape = g.members[0].fields.get("shape", (None,))[0]
            if shape is not None and gshape is not None and shape != gshape:
                continue
            free = [m for m in g.members if not m.filled]
            if not free:
                continue
            m = free[0]
            if any(k in m.fields and m.fields[k][0] != v[0] for k, v in np.attrs.items()):
                continue
            return g
        return None

    # -- noun phrases -------------------------------------------------------------------
    def read_np(self, i: int) -> tuple[_NP | None, int]:
        toks = self.toks
        t0 = toks[i]
        np = _NP(start=t0.start, end=t0.end)
        j = i
        while j < len(toks):
            t = toks[j]
            nxt = toks[j + 1] if j + 1 < len(toks) else None
            if t.cat == "det" and not np.attrs and np.head is None:
                if t.value == "other":
                    np.other = True
                    np.det = np.det or "def"
                elif t.value == "another":
                    np.det, np.other = "another", True
                else:
                    np.det = np.det if np.det and t.value == "indef" else t.value
            elif t.cat in ("count", "vague") and not np.attrs and np.head is None:
                np.count = (t.value, (t.start, t.end))
                np.vague = t.cat == "vague"
                np.det = np.det or "count"
            elif t.cat == "one" and np.head is None and nxt is not None and nxt.cat in ("size", "color", "material",
                                                                                       "shape") and not np.attrs:
                np.det = np.det or "indef"  # "one red ball"
            elif t.cat in ("size", "color", "material"):
                if t.cat in np.attrs and np.attrs[t.cat][0] != t.value:
                    self.warn(f"'{np.attrs[t.cat][0]}' and '{t.value}' both describe one object; using '{t.value}'")
                np.attrs[t.cat] = (t.value, (t.start, t.end))
            elif t.cat == "np_skip" and np.head is None:
                pass  # "a lemon-coloured sphere"
            elif t.cat == "de":
                if np.head is not None:
                    break
            elif t.cat == "shape" and np.head is None:
                np.attrs["shape"] = (t.value[0], (t.start, t.end))
                np.plural = t.value[1]
                np.head = "shape"
                np.end = t.end
                j += 1
                break
            elif t.cat == "one" and np.head is None:
                np.head, np.plural, np.end = "one", t.value, t.end
                j += 1
                break
            elif t.cat == "speed" and nxt is not None and nxt.cat in ("size", "color", "material", "shape"):
                np.mods.append(t)  # "a fast red ball"
            elif (t.cat in ("motion", "effect") and np.head is None and nxt is not None and nxt.cat in _NP_MORE
                  and self.lang == "en" and ((t.typo[2] if t.typo else t.text).lower().endswith("ing")
                                             or t.text.lower() in _EN_ADJ_MOTION)):
                np.mods.append(t)  # "a bouncing purple ball", "a still cube"
            elif np.head is None and (end := self.zh_clause(j)) is not None:
                # 一个向左滚的小球, 三个往前滑的青色方块: a clause before the noun
                np.mods += [x for x in toks[j:end] if x.cat in _ATTACH]
                j = end + 1  # past the 的
                continue
            elif t.cat == "thing" and np.head is None:
                return None, j  # "a brown dog": the words describe the thing, which is not made
            elif t.cat == "unknown" and (np.count or np.attrs) and np.head is None:
                np.unknowns.append(t)  # "a red pyramid", 一个粉色的金字塔: an object all the same
            else:
                break
            if t.cat != "de":
                np.end = t.end
            j += 1
        if np.head is None and np.unknowns:
            np.head = "unknown"
        if (self.lang == "zh" and np.head is None and not np.attrs and np.count is None and np.det == "indef"
                and j < len(toks) and toks[j].cat in ("dir", "motion", "speed", "effect")):
            np.head = "one"  # 一个向左滚: "one of them"
        if not np.attrs and np.head is None and np.count is None:
            return None, j if j > i else i + 1  # a lone article ("the floor", "a long way")
        if not np.attrs and np.head is None and np.det == "count" and not np.unknowns and (
                j >= len(toks) or toks[j].cat in ("bound", "stop", "unknown")) and self.lang == "en":
            return None, j  # "Lesson 4, ...", "take 2": a number, not objects
        if self.lang == "en" and np.plural and np.head == "shape" and np.count is None and \
                np.det not in ("def", "both"):
            np.vague = True  # "balls roll left": how many?
        return np, j

    def np_objects(self, np: _NP, relation: bool) -> list[_Obj]:
        """Existing objects the phrase refers to, or new ones it introduces."""
        exclude = set()
        if relation or np.other:
            for s in (self.subject if isinstance(self.subject, list) else [],
                      self.prev_subject if isinstance(self.prev_subject, list) and not self.clause_subject else []):
                exclude |= {id(o) for o in s}
        n = np.count[0] if np.count else (2 if np.vague or np.det == "both" else 1)
        if n < 1:
            raise KinoraError(f"'{self.text[np.start:np.end]}' asks for no object; give a count from 1 to "
                              f"{MAX_OBJECTS}, or leave the object out")
        if np.vague:
            self.warn(f"'{self.text[np.start:np.end]}' does not say how many; assuming {n}")
        # 0. "一红一绿两个球，一个向左滚，一个向右滚": the next member of the last plural subject
        if np.head == "one" and not np.attrs and np.det != "def" and n == 1:
            free = [o for o in self.last_many if id(o) not in self.taken]
            if free:
                self.taken.add(id(free[0]))
                return [free[0]]
        # 1. a member of a counted group waiting to be told apart ("two balls: a red one ...")
        if n == 1 and np.det != "def":
            g = self.open_group(np) or (self.open_group(np, closed_too=True)
                                        if (np.head is None and np.attrs) or (np.head == "one" and "color" in np.attrs)
                                        else None)
            if g is not None:
                m = next(x for x in g.members if not x.filled)
                m.filled = True
                m.span = (np.start, np.end)
                for k, v in np.attrs.items():
                    m.fields.setdefault(k, v)
                if all(x.filled for x in g.members):
                    g.open = False
                return [m]
        # 2. a definite or bare phrase names an object already there ("the red ball", 红球)
        # ("another" in a relation names one already there when there is one: 撞上另一个红球)
        definite = np.det in ("def", "both")
        if (np.det is None or definite) and (definite or self.lang == "zh" or not np.plural) or (
                relation and np.det == "another"):
            want = {k: v[0] for k, v in np.attrs.items() if k in ("shape", "color", "size")}
            if np.head == "one" and "shape" not in want and self.last_np_shape and not want:
                want["shape"] = self.last_np_shape[0]
            mat = np.attrs.get("material", (None,))[0]
            cands = [o for o in self.objs if id(o) not in exclude
                     and all(o.fields.get(k, (None,))[0] == v for k, v in want.items())
                     and (mat is None or o.fields.get("material", (mat,))[0] == mat)]
            if cands and want:
                cands.sort(key=lambda o: -o.mentioned)
                found = cands if np.plural and np.det in ("def", "both") else cands[:1]
                for o in found:  # "the icy purple cube": what the phrase adds
                    for k, v in np.attrs.items():
                        o.fields.setdefault(k, v)
                return found
        # 3. new objects
        if len(self.objs) + n > MAX_OBJECTS:  # before making them: "100000000个球" is refused at once
            raise KinoraError(f"the prompt asks for {len(self.objs) + n} objects; the micro-world holds at most "
                              f"{MAX_OBJECTS}")
        attrs = dict(np.attrs)
        if "shape" not in attrs:
            if np.head == "one" or (np.det is not None and np.head is None):
                if self.last_np_shape is not None:
                    attrs["shape"] = self.last_np_shape
        objs = []
        group = _Group(members=objs) if n > 1 else None
        for _ in range(n):
            o = _Obj(span=(np.start, np.end), fields=dict(attrs), group=group)
            if np.count and n > 1:
                o.fields["count"] = (n, np.count[1])
            objs.append(o)
        self.objs.extend(objs)
        return objs

    # -- attaching words to subjects ----------------------------------------------------
    def attach(self, item: tuple, to) -> None:
        kind = item[0]
        if kind == "camverb" or to == "camera":
            self.attach_camera(item)
            return
        if to == "thing":
            return  # what a dog does is not shown either
        for o in to:
            if o.group is not None and o.group.open and all(m in to for m in o.group.members):
                o.group.open = False  # the group acts as one ("two balls fall")
            if kind == "motion":
                o.motions.append((item[1], item[2]))
            elif kind == "effect":
                o.effects.append((item[1], item[2]))
            elif kind == "dir":
                o.dirs.append((item[1], item[2]))
            elif kind == "speed":
                o.speeds.append((item[1], item[2]))
            elif kind == "attr":
                name, value, span = item[1], item[2], item[3]
                if name in o.fields and o.fields[name][0] != value:
                    self.warn(f"'{o.fields[name][0]}' and '{value}' both describe one object; using '{value}'")
                o.fields[name] = (value, span)
            elif kind == "rel":
                self.relate(o, item[1], item[2], item[3])

    def attach_camera(self, item: tuple) -> None:
        kind = item[0]
        span = item[-1]
        self.cam.spans.append(span)
        if kind == "camverb":
            move, d = item[1]
            if d == "cam":
                d = None
            self.cam.moves.append((move, d, span))
        elif kind == "motion":
            if item[1] == "still":
                self.cam.moves.append(("static", None, span))
            elif item[1] == "move":
                self.cam.moves.append(("move", None, span))
            else:
                self.warn(f"the camera cannot {item[1]}; ignoring '{self.text[span[0]:span[1]]}'")
        elif kind == "dir":
            self.cam.dirs.append((item[1], span))
        elif kind == "speed":
            self.cam.speeds.append((item[1], span))
        elif kind in ("effect", "attr"):
            self.warn(f"'{self.text[span[0]:span[1]]}' does not apply to the camera; ignoring it")

    def relate(self, o: _Obj, kind: str, ref: _Obj, span: Span) -> None:
        if ref is o:
            return
        # Refuse loops (a pushes b pushes a) and stacks three high: resolve() cannot build them.
        chain, x = set(), ref
        while x is not None and id(x) not in chain:
            if x is o:
                self.warn(f"'{self.text[span[0]:span[1]]}' would make objects depend on each other in a circle; "
                          "ignoring it")
                return
            chain.add(id(x))
            x = (x.target or x.on or (None,))[0]
        if kind == "target":
            if o.target is None:
                o.target = (ref, span)
        else:
            if ref.on is not None:
                self.warn(f"stacks are at most two high; ignoring '{self.text[span[0]:span[1]]}'")
                return
            if o.on is None:
                o.on = (ref, span)
            if kind == "off":
                o.off = span

    def give(self, item: tuple) -> None:
        """Attach to the clause's subject, or hold until the clause has one."""
        if item[0] == "camverb" and item[1][1] == "cam" and self.subject != "camera":
            # "turns", 旋转: a camera move only when the camera is what turns
            span = item[2]
            word = self.text[span[0]:span[1]]
            self.warn(f"unknown word '{word}'; nearest known word is '{'滚动' if self.lang == 'zh' else 'roll'}'")
            return
        if item[0] == "camverb":
            if self.pending and not self.clause_subject:
                self.set_subject("camera")  # "Slow pan left": the waiting words are the camera's
            self.subject = "camera"
            self.clause_subject = True
        if self.passive is not None and item[0] in ("dir", "speed"):
            self.attach(item, [self.passive])
        elif self.clause_subject and self.subject is not None:
            self.attach(item, self.subject)
            self.clause_attached = True
        else:
            self.pending.append(item)

    def set_subject(self, subj) -> None:
        if subj == "camera" and self.pending:
            # "Purple balls. Rolling forward. Pan left.": a motion the camera cannot do, waiting
            # before the camera, belongs to the objects named before it
            objects_only = any(it[0] == "effect" or (it[0] == "motion" and it[1] not in ("still", "move"))
                               for it in self.pending)
            last = next((x for x in (self.subject, self.prev_subject) if isinstance(x, list)), None)
            if objects_only and last:
                for item in self.pending:
                    self.attach(item, last)
                self.pending = []
        if self.compound and isinstance(self.subject, list) and isinstance(subj, list):
            subj = self.subject + [o for o in subj if o not in self.subject]
        if isinstance(subj, list) and len(subj) > 1:
            self.last_many, self.taken = list(subj), set()
        if isinstance(subj, list) and self.then is not None:
            before = self.prev_subject if isinstance(self.prev_subject, list) else []
            if not any(o in before for o in subj):  # "X falls, then Y rolls": Y starts after X
                for o in before:
                    if o.stage is None:
                        o.stage = (self.stage, self.then)
                self.stage += 1
                for o in subj:
                    if o.stage is None:
                        o.stage = (self.stage, self.then)
                self.sequenced = True
            self.then = None
        self.compound = False
        self.subject = subj
        self.clause_subject = True
        for item in self.pending:
            self.attach(item, subj)
        if self.pending:
            self.clause_attached = True
        self.pending = []

    def end_clause(self, sentence: bool) -> None:
        if self.expect is not None:
            self.unfilled_expect()
        if self.pending and not self.clause_subject:
            # "..., and bounces": the previous subject; "Slowly, a ball ...": the next one.
            if not self.clause_at_sentence_start and self.subject is not None:
                for item in self.pending:
                    self.attach(item, self.subject)
                self.pending = []
        if self.clause_subject:
            self.prev_subject = self.subject
        self.clause_subject = False
        self.clause_attached = False
        self.compound = False
        self.passive = None
        self.loc_on = None
        self.clause_at_sentence_start = sentence

    def unfilled_expect(self) -> None:
        t = self.expect
        self.expect = None
        if t.cat == "rel" and t.value == "off":  # "topples off." / "falls off"
            self.give(("motion", "topple", (t.start, t.end)))

    # -- the loop -------------------------------------------------------------------------
    def run(self) -> None:
        """Read the tokens left to right: noun phrases through read_np/handle_np, every other
        word through the handler of its category (on_*), then settle what waited."""
        toks = self.toks
        handlers = {"cam": self.on_cam, "duration": self.on_duration, "thing": self.on_thing,
                    "nomotion": self.on_nomotion, "allstill": self.on_allstill, "opposite": self.on_opposite,
                    "mutual": self.on_mutual, "ba": self.on_ba, "all": self.on_all, "relverb": self.on_relverb,
                    "rel": self.on_rel, "post": self.on_post, "scenery": self.on_scenery, "pron": self.on_pron,
                    "which": self.on_which, "timing": self.on_timing, "bound": self.on_bound, "and": self.on_and,
                    "unknown": self.on_unknown, "negnp": self.on_negnp}
        i = 0
        while i < len(toks):
            t = toks[i]
            if self.expect is not None and t.cat not in _NP_START | {"pron", "scenery", "stop", "de", "post",
                                                                      "unknown"}:
                self.unfilled_expect()
            if t.cat in _NP_START:
                np, j = self.read_np(i)
                if np is not None:
                    self.handle_np(np)
                i = j
                continue
            end = self.zh_clause(i)
            if end is not None:  # 正在弹跳的紫色球: the clause waits for its noun
                self.np_mods += [x for x in toks[i:end] if x.cat in _ATTACH]
                i = end + 1
                continue
            handler = self.on_attach if t.cat in _ATTACH else handlers.get(t.cat)
            nxt = handler(i, t) if handler is not None else None  # first, stop, known, de, unit: nothing
            i = i + 1 if nxt is None else nxt
        self.end_clause(True)
        if self.timing is not None:
            movers = [o for o in self.objs if [m for m, _ in o.motions if m != "still"] or o.effects]
            if len(movers) > 1:
                self.order(movers, self.timing)
            else:
                s0, e0 = self.timing
                self.warn(f"'{self.text[s0:e0]}' needs several moving objects; ignoring it")
        if self.all_still is not None:  # "nothing moves": every object not told to move stays still
            for o in self.objs:
                if not [m for m, _ in o.motions if m != "still"] and not o.effects and o.target is None \
                        and o.off is None:
                    o.motions.append(("still", self.all_still))
        if self.pending:
            if isinstance(self.subject, list) or self.subject == "camera":
                for item in self.pending:
                    self.attach(item, self.subject)
            else:
                words = ", ".join(f"'{self.text[it[-1][0]:it[-1][1]]}'" for it in self.pending)
                self.warn(f"{words} does not say which object it applies to; ignoring it")
            self.pending = []

    # -- one handler per category of word; each may return the next index ----------------
    def on_cam(self, i: int, t: Tok) -> None:
        self.set_subject("camera")
        self.cam.spans.append((t.start, t.end))

    def on_attach(self, i: int, t: Tok) -> None:
        """Motion, effect, direction, speed and camera words: to the clause's subject."""
        toks = self.toks
        if t.cat == "speed" and i + 1 < len(toks) and toks[i + 1].cat == "camverb" and (
                self.lang == "zh" or toks[i + 1].value[1] is None):
            self.attach_camera((t.cat, t.value, (t.start, t.end)))  # 慢慢转, "slowly pans"
        elif t.cat == "camverb" and t.value[1] == "cam" and self.cam.moves:
            self.cam.spans.append((t.start, t.end))  # 围绕圆柱慢慢转: the turn is the orbit itself
        else:
            self.give((t.cat, t.value, (t.start, t.end)))

    def on_duration(self, i: int, t: Tok) -> None:
        if self.duration is not None and self.duration[0] != t.value:
            self.warn(f"the prompt gives two lengths; using '{self.text[t.start:t.end]}'")
        self.duration = (t.value, (t.start, t.end))

    def on_thing(self, i: int, t: Tok) -> None:
        """A dog, a person, the sun: recorded and warned about, never made; what it does is dropped."""
        self.unrendered.append({"start": t.start, "end": t.end, "text": self.text[t.start:t.end],
                                "why": "not renderable: the micro-world has balls, cubes and cylinders"})
        self.warn(f"'{self.text[t.start:t.end]}' cannot be shown (the micro-world has balls, cubes and "
                  "cylinders); it is left out")
        if self.expect is not None:
            self.expect = None  # "rolls toward the dog"
        else:
            if self.clause_subject and not self.compound:
                self.end_clause(False)
            self.set_subject("thing")

    def on_nomotion(self, i: int, t: Tok) -> None:
        self.clause_attached = True  # "a black cube floats and a red ball rolls": two clauses
        self.warn(f"'{t.text}' is not a motion the micro-world has (it has still, fall, roll, slide, "
                  "push, topple); ignoring it")

    def on_allstill(self, i: int, t: Tok) -> None:
        self.all_still = (t.start, t.end)  # settled at the end: every object not told to move

    def on_opposite(self, i: int, t: Tok) -> None:
        """"in opposite directions": the first left, the next right, and so on; they travel."""
        pair = self.subject if isinstance(self.subject, list) else []
        if len(pair) < 2:
            self.warn(f"'{t.text}' needs two objects; ignoring it")
            return
        for k, o in enumerate(pair):
            o.dirs.append(("left" if k % 2 == 0 else "right", (t.start, t.end)))
            o.motions.append(("move", (t.start, t.end)))

    def on_mutual(self, i: int, t: Tok) -> None:
        """"towards each other": from both sides to the middle; they travel (两个圆柱互相靠近)."""
        pair = self.subject if isinstance(self.subject, list) else []
        if len(pair) != 2:
            self.warn(f"'{t.text}' needs two objects; ignoring it")
            return
        for o, d in zip(pair, ("right", "left")):
            o.dirs.append((d, (t.start, t.end)))
            o.motions.append(("move", (t.start, t.end)))

    def on_ba(self, i: int, t: Tok) -> None:
        """把X…: X is what the verb moves, the subject of what follows."""
        if self.clause_subject and not self.clause_attached:
            self.end_clause(False)  # 我把球…: the doer is not in the world

    def on_all(self, i: int, t: Tok) -> None:
        """"all", 都: the subject is every object named in the sentence."""
        group = self.sentence_objs if len(self.sentence_objs) > 1 else self.objs
        if len(group) > 1 and not (isinstance(self.subject, list) and set(map(id, self.subject)) ==
                                   set(map(id, group))):
            if self.clause_subject:
                self.end_clause(False)
            self.set_subject(list(group))

    def on_relverb(self, i: int, t: Tok) -> None:
        if self.passive is not None:
            return
        fronted = not self.clause_subject and any(it[0] == "rel" and it[1] == "target" for it in self.pending)
        self.give(("motion", "push", (t.start, t.end)))
        if not fronted:  # "Into the block crashes a marble": the next noun is the pusher
            self.expect = t

    def on_rel(self, i: int, t: Tok) -> None:
        self.expect = t

    def on_post(self, i: int, t: Tok) -> None:
        if self.lang == "zh" and self.expect is None and self.clause_subject and isinstance(self.subject, list) \
                and len(self.subject) == 1 and not self.clause_attached:
            # 绿方块上面放着一个紫球: the first noun is the support of the next one
            self.loc_on = (self.subject[0], (self.subject[0].span[0], t.end))

    def on_scenery(self, i: int, t: Tok) -> None:
        if self.expect is not None:
            self.expect = None  # "from above", "on the floor", 从空中

    def on_pron(self, i: int, t: Tok) -> None:
        if self.expect is not None and self.expect.value in ("target", "on", "off", "from"):
            rel, self.expect = self.expect, None
            mine = self.subject if isinstance(self.subject, list) else []
            refs = [o for o in self.objs if o not in mine]
            if refs and mine:  # "rolls into it": the last object named that is not the subject
                ref = max(refs, key=lambda o: o.mentioned)
                if not any(o.target is not None and o.target[0] is ref for o in mine):
                    kind = {"target": "target", "on": "on", "off": "off", "from": "off"}[rel.value]
                    self.give(("rel", kind, ref, (rel.start, t.end)))
        elif not self.clause_subject and isinstance(self.subject, list):
            self.set_subject(self.subject)  # "It bounces."

    def on_which(self, i: int, t: Tok) -> None:
        others = [o for o in self.objs if not (isinstance(self.subject, list) and o in self.subject)]
        if others:
            self.end_clause(False)
            self.set_subject([max(others, key=lambda o: o.mentioned)])

    def on_timing(self, i: int, t: Tok) -> None:
        """"one after another", 依次: the subject's objects (or, waiting, the movers) in order."""
        group = self.subject if isinstance(self.subject, list) and len(self.subject) > 1 else list(self.objs)
        if len(group) > 1:
            self.order(group, (t.start, t.end))
        else:
            self.timing = (t.start, t.end)  # "One by one, five marbles fall": settled at the end

    def on_bound(self, i: int, t: Tok) -> int | None:
        toks = self.toks
        if (t.value == "clause" and t.text in (",", "、") and self.clause_subject and not self.clause_attached
                and isinstance(self.subject, list) and i + 1 < len(toks) and toks[i + 1].cat in _NP_START
                and (toks[i + 1].cat in _NP_MORE or (i + 2 < len(toks) and toks[i + 2].cat in _NP_MORE))):
            self.compound = True  # "a red ball, a green ball and a blue ball fall"
            return None
        if t.value == "then" and self.clause_subject and not self.clause_attached and isinstance(self.subject, list):
            # 球再向右滚: the "then" comes after its subject
            self.then = (t.start, t.end)
            subj, self.subject, self.clause_subject = self.subject, self.prev_subject, False
            self.set_subject(subj)
            return None
        self.end_clause(t.value == "sentence")
        if t.value == "sentence":
            self.sentence_objs = []
        if t.value == "then":
            self.then = (t.start, t.end)
        return None

    def on_and(self, i: int, t: Tok) -> None:
        nxt = self.toks[i + 1] if i + 1 < len(self.toks) else None
        if (self.clause_subject and not self.clause_attached and isinstance(self.subject, list)
                and nxt is not None and nxt.cat in _NP_START):
            self.compound = True  # "a red ball and a blue cube fall"
        else:
            self.end_clause(False)

    def on_unknown(self, i: int, t: Tok) -> None:
        self.unknown(t)

    def on_negnp(self, i: int, t: Tok) -> None:
        self.warn(f"'{self.text[t.start:t.end]}' says there is none; nothing is made for it")

    def order(self, group: list[_Obj], span: Span) -> None:
        base = self.stage
        for k, o in enumerate(group):
            o.stage = (base + k, span)
        self.stage = base + len(group) - 1
        self.sequenced = True

    def zh_clause(self, i: int) -> int | None:
        """The index of the 的 that ends a clause before a noun starting at i (向左滚的, 快速的,
        正在弹跳的), or None: motion, direction and speed words then 的, then a noun phrase."""
        toks = self.toks
        if self.lang != "zh" or toks[i].cat not in _ZH_CLAUSE:
            return None
        k = i
        while k < len(toks) and (toks[k].cat in _ZH_CLAUSE or (k > i and toks[k].text in _ZH_PARTICLES)):
            k += 1
        if k == i or k + 1 >= len(toks) or toks[k].cat != "de" or toks[k + 1].cat not in _NP_START:
            return None
        return k

    def handle_np(self, np: _NP) -> None:
        for k, t in enumerate(np.unknowns):
            # Last word of the phrase: a noun, so name the nearest shape; before it, an adjective.
            cats = ("shape",) if k == len(np.unknowns) - 1 and np.head == "unknown" else ("color", "size", "material")
            self.unknown(t, cats)
        if self.expect is not None and self.subject == "camera" and self.clause_subject:
            self.expect = None  # "zooms in on the red ball": the camera has no relations
        # Bare adjectives after a subject ("the ball is red", "made of rubber") describe it.
        headless = np.head is None and np.count is None and self.expect is None and np.attrs
        if headless and np.det in (None, "def", "both") and self.clause_subject and isinstance(self.subject, list):
            for name, (value, span) in np.attrs.items():
                self.give(("attr", name, value, span))
            return
        last = self.subject if isinstance(self.subject, list) else None
        if headless and np.det is None and not self.clause_subject and last and self.open_group(np) is None and \
                not any(all(o.fields.get(k, (None,))[0] == v[0] for k, v in np.attrs.items()) for o in self.objs):
            for name, (value, span) in np.attrs.items():  # "One ball. Red. Bounces."
                self.attach(("attr", name, value, span), last)
            return
        if self.expect is not None and self.expect.cat == "rel" and self.expect.value in ("from", "by") and \
                not self.clause_subject and any(it[0] in ("motion", "effect") for it in self.pending) and \
                self.lang == "en":
            self.expect = None  # the waiting motion is this phrase's: "a slide to the right by the cylinder"
        if self.expect is not None:  # the object of "into", "on top of", "off", 从, 向, 被 ...
            rel = self.expect
            self.expect = None
            objs = self.np_objects(np, relation=True)
            self.mention(objs)
            span = (rel.start, np.end)
            self.attach_mods(np, objs)
            # 紫色的方块，被一颗绿弹珠撞上了: the pushed one may be the previous clause's subject
            pushed = self.subject if self.clause_subject else self.prev_subject if rel.text == "被" else None
            if rel.value == "by":  # "the box is pushed by a ball", 方块被红球撞开: the other way round
                if isinstance(pushed, list) and objs[0] not in pushed:
                    if not self.clause_subject:
                        self.subject, self.clause_subject = pushed, True
                    self.passive = objs[0]  # 被红球推向左边: the words after it are the pusher's
                    objs[0].motions.append(("push", span))
                    for o in pushed:
                        self.relate(objs[0], "target", o, span)
                else:
                    self.warn(f"'{self.text[span[0]:span[1]]}' does not say what is pushed; ignoring it")
            else:
                kind = {"target": "target", "on": "on", "off": "off", "from": "off"}[rel.value]
                self.give(("rel", kind, objs[0], span))
            if "shape" in np.attrs:
                self.last_np_shape = np.attrs["shape"]
            return
        objs = self.np_objects(np, relation=False)
        self.mention(objs)
        if "shape" in np.attrs:
            self.last_np_shape = np.attrs["shape"]
        loc = self.loc_on
        if not self.compound and self.clause_subject:
            # A second subject in one clause without a boundary: a new clause begins.
            self.end_clause(False)
        self.set_subject(objs)
        self.attach_mods(np, objs)
        if loc is not None and loc[0] not in objs:
            self.relate(objs[0], "on", loc[0], loc[1])

    def attach_mods(self, np: _NP, objs: list[_Obj]) -> None:
        """Participles and speed words inside a phrase, or waiting before it, describe its objects."""
        for t in np.mods + self.np_mods:
            self.attach((t.cat, t.value, (t.start, t.end)), objs)
        self.np_mods = []

    def unknown(self, t: Tok, cats: tuple[str, ...] | None = None) -> None:
        w = t.value
        if w.lower() in NO_SUCH_COLOR:
            self.warn(f"unknown colour '{t.text}'; the micro-world's colours are {', '.join(COLORS)}")
            return
        near = nearest_known(w, self.lang, self.encoder, cats)
        self.warn(f"unknown word '{t.text}'; nearest known word is '{near}'")
