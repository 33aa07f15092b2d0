"""From what was read to a ShotSpec: objects, camera, and the provenance of each field.

The reader's objects become ObjectSpecs (a relation decides the motion, then the verbs,
then the effect words; the material is named or told by its effect) and its camera
words a CameraSpec, with a warning wherever the prompt asks for something the
micro-world cannot do or says it twice.

Provenance, so news mode can forbid invention. Each object's `source` is the span of the
noun phrase that introduced it, {"start", "end", "text"}, plus "fields": for each of
shape, color, size, material, motion, direction, speed, target, on (and count for a
counted group) either the span of the words that said it or {"invented": true} where
the parser had to choose (a colour nobody gave, the default motion "still"). The
camera's `source` is the span of its phrase, or {"invented": true} when the text never
mentions it; its "fields" say the same for motion and speed. Offsets index `text`.
"""

from __future__ import annotations

import random
from typing import Any

from kinora.defaults import SEQUENCE_GAP_S
from kinora.plan.reading import Reader, Span
from kinora.world import captions as C
from kinora.world.spec import COLORS, CameraSpec, ObjectSpec, motion_allowed


def _src(text: str, span: Span) -> dict:
    return {"start": span[0], "end": span[1], "text": text[span[0]:span[1]]}


_INVENTED = {"invented": True}


def _first(values: list[tuple[str, Span]], what: str, warn) -> tuple[str, Span] | None:
    if not values:
        return None
    distinct = list(dict.fromkeys(v for v, _ in values))
    if len(distinct) > 1:
        warn(f"conflicting {what}: {', '.join(repr(v) for v in distinct)}; using {distinct[0]!r}")
    return values[0]


def build(reader: Reader, text: str, seed: int, duration: float) -> tuple[list[ObjectSpec], CameraSpec]:
    rng = random.Random(seed)
    stages = sorted({o.stage[0] for o in reader.objs if o.stage is not None})
    # A sequence spreads its starts over the shot: one SEQUENCE_GAP_S apart, closer in a short shot.
    gap = min(SEQUENCE_GAP_S, duration / (len(stages) + 1)) if reader.sequenced else 0.0
    warn = reader.warn
    ids = {id(o): f"obj{i}" for i, o in enumerate(reader.objs)}
    used_colors = {o.fields["color"][0] for o in reader.objs if "color" in o.fields}
    out: list[ObjectSpec] = []
    for o in reader.objs:
        f: dict[str, dict] = {}
        vals: dict[str, Any] = {}

        def take(name, got, default, vals=vals, f=f):  # bound to this object's dicts; only called in this iteration
            if got is None:
                vals[name], f[name] = default, dict(_INVENTED)
            else:
                vals[name], f[name] = got[0], _src(text, got[1])
                if tuple(got[1]) in reader.asked_at:  # "orange": asked for, the nearest used
                    f[name].update(asked=reader.asked_at[tuple(got[1])][0], used=vals[name])

        take("shape", o.fields.get("shape"), "sphere")
        free = [c for c in COLORS if c not in used_colors] or list(COLORS)
        take("color", o.fields.get("color"), rng.choice(free))
        used_colors.add(vals["color"])
        take("size", o.fields.get("size"), "small")  # the spec's default; small things crowd the floor less
        if "count" in o.fields:
            f["count"] = _src(text, o.fields["count"][1])
        label = f"the {vals['color']} {C.EN_SHAPES[vals['shape']][0]}"

        # Motion: a relation decides it, then the verbs, then the effect words.
        moves = [(m, s) for m, s in o.motions if m != "push"]
        pushes = [(m, s) for m, s in o.motions if m == "push"]
        effects = o.effects
        motion: tuple[str, Span] | None = None
        if o.target is not None:
            motion = ("push", (pushes or [("push", o.target[1])])[0][1])
        elif o.on is not None and o.off is None and not any(m == "topple" for m, _ in moves) and any(
                m == "fall" and s[0] < o.on[1][0] for m, s in moves):
            # "falls onto the cylinder": a fall cannot be aimed at an object in this world
            warn(f"{label} cannot be made to land on another object; it falls beside it")
            o.on = None
            motion = next((m, s) for m, s in moves if m == "fall")
        elif o.on is not None:
            falls = [(m, s) for m, s in moves if m in ("fall", "topple")]
            if o.off is not None or falls:
                motion = ("topple", (falls[0][1] if falls else o.off))
            else:
                if any(m in ("roll", "slide", "move") for m, _ in moves):
                    warn(f"{label} stands on another object, so it stays still there")
                still = [s for m, s in moves if m == "still"]
                motion = ("still", still[0] if still else o.on[1])
        else:
            if pushes:
                warn(f"{label} pushes nothing that the prompt names; it moves on its own")
            named = [(m, s) for m, s in moves if m not in ("move", "still")]
            if any(m == "topple" for m, _ in named):
                warn(f"{label} has nothing to topple off; it falls instead")
                named = [("fall" if m == "topple" else m, s) for m, s in named]
            if named:
                if len({m for m, _ in named}) > 1:
                    warn(f"{label} is given several motions ({', '.join(dict.fromkeys(m for m, _ in named))}); "
                         f"using '{named[0][0]}'")
                motion = named[0]
            elif any(e in ("bounce", "no_bounce") for e, _ in effects):
                motion = ("fall", next(s for e, s in effects if e in ("bounce", "no_bounce")))
            elif any(e == "glide" for e, _ in effects):
                motion = ("slide", next(s for e, s in effects if e == "glide"))
            elif any(m == "move" for m, _ in moves) or pushes:
                span = next(s for m, s in moves + pushes if m in ("move", "push"))
                motion = ("roll" if vals["shape"] in ("sphere", "cylinder") else "slide", span)
            elif moves:
                motion = moves[0]
        take("motion", motion, "still")
        if not motion_allowed(vals["shape"], vals["motion"]):
            said = f" ('{f['motion']['text']}')" if "text" in f["motion"] else ""
            warn(f"a {C.EN_SHAPES[vals['shape']][0]} cannot {vals['motion']}{said}; {label} slides instead")
            vals["motion"] = "slide"

        # Material: named outright, else told by its effect (bounces: rubber; glides: ice).
        by_effect = {"bounce": "rubber", "no_bounce": "ice", "glide": "ice"}
        mat = o.fields.get("material")
        eff = _first([(by_effect[e], s) for e, s in effects], f"hints at the material of {label}", warn)
        if mat is not None and eff is not None and mat[0] != eff[0]:
            warn(f"{label} is {mat[0]}, which does not match '{text[eff[1][0]:eff[1][1]]}'; using {mat[0]}")
        take("material", mat or eff, "wood")

        d = _first(o.dirs, f"directions for {label}", warn)
        if vals["motion"] in ("roll", "slide"):
            take("direction", d, rng.choice(["left", "right"]))
        elif vals["motion"] == "push":
            take("direction", d, None)
            if d is None:
                f["direction"] = {"invented": True, "note": "chosen by resolve()"}
        else:
            if d is not None:
                warn(f"'{text[d[1][0]:d[1][1]]}' has no effect on {label}, which does not travel")
            vals["direction"], f["direction"] = None, {}
        take("speed", _first(o.speeds, f"speeds for {label}", warn), "normal")
        vals["target"] = ids[id(o.target[0])] if o.target and vals["motion"] == "push" else None
        vals["on"] = ids[id(o.on[0])] if o.on else None
        if o.target:
            f["target"] = _src(text, o.target[1])
        if o.on:
            f["on"] = _src(text, o.on[1])
        if o.stage is not None and gap > 0 and vals["motion"] != "still":
            vals["start"] = round(stages.index(o.stage[0]) * gap, 4)
            f["start"] = _src(text, o.stage[1])
        source = {**_src(text, o.span), "fields": f}
        out.append(ObjectSpec(id=ids[id(o)], source=source, **vals))

    cam = reader.cam
    cs: dict[str, Any] = {}
    moves = cam.moves
    d = _first(cam.dirs, "camera directions", warn)
    motion = None
    if moves:
        # "跟着…向右平移": of several words for one move, the one that gives its side
        real = [m for m in moves if m[0] != "move"] or moves  # "moves and then zooms in": the zoom
        kind, md, span = next((m for m in real if m[0] == real[0][0] and m[1] is not None), real[0])
        if len({m for m, _, _ in moves} - {"move"}) > 1:
            warn(f"the camera is given several moves; using '{text[span[0]:span[1]]}'")
        dd = md or (d[0] if d else None)
        dspan = span if md else (d[1] if d else None)
        if kind == "move":
            kind = {"left": "pan", "right": "pan", "forward": "zoom_in", "backward": "zoom_out"}.get(dd, "static")
            if kind == "static":
                warn(f"'{text[span[0]:span[1]]}' does not say where the camera moves; it stays static")
        if kind == "zoom":
            kind = {"forward": "zoom_in", "backward": "zoom_out"}.get(dd)
            if kind is None:
                warn(f"'{text[span[0]:span[1]]}' does not say in or out; zooming in")
                kind, dspan = "zoom_in", None
        if kind in ("pan", "orbit"):
            if dd not in ("left", "right"):
                warn(f"'{text[span[0]:span[1]]}' does not say left or right; using left")
                dd, dspan = "left", None
            kind = f"{kind}_{dd}"
        full = (min(span[0], dspan[0]), max(span[1], dspan[1])) if dspan else span
        motion = (kind, full if kind not in ("zoom_in", "zoom_out", "static") or dspan else span)
    elif d is not None:
        kind = {"left": "pan_left", "right": "pan_right", "forward": "zoom_in", "backward": "zoom_out"}[d[0]]
        motion = (kind, d[1])
    camera = CameraSpec()
    if motion is not None:
        camera.motion, cs["motion"] = motion[0], _src(text, motion[1])
    else:
        cs["motion"] = dict(_INVENTED)
    sp = _first(cam.speeds, "camera speeds", warn)
    if sp is not None:
        camera.speed, cs["speed"] = sp[0], _src(text, sp[1])
    else:
        cs["speed"] = dict(_INVENTED)
    if cam.spans:
        lo, hi = min(s for s, _ in cam.spans), max(e for _, e in cam.spans)
        camera.source = {**_src(text, (lo, hi)), "fields": cs}
    else:
        camera.source = {"invented": True, "fields": cs}
    return out, camera
