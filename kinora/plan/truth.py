"""What each truth mode does with what the text leaves unsaid (ROADMAP, "Truthfulness modes").

Every element of a shot (an entity's shape, colour, size, material; an object's motion,
direction, speed; the camera's move and speed) either traces to a span of the text or is
chosen. How it is chosen, and how that is marked in the element's `source`, is the mode:

* story: chosen freely by the reader (a colour nobody gave) and marked {"invented": true};
  a recurring entity's look is chosen once and kept in every shot.
* knowledge: chosen as a plausible value the same way, marked {"filled": true} (filled in,
  not stated); the film checks the physics against the simulator.
* news: nothing is invented. An attribute the text does not give takes the world's fixed
  neutral convention, the same for every text (NEWS_CONVENTION below: small, rubber,
  normal speed, still, static camera, movers going right; a colour the text does not give
  is the first palette colour no other thing in the text has, in the palette's fixed
  order), and is marked {"unstated": true, "shown_as": value, "rule": NEWS_RULE}. Users can
  trust it because it never depends on a random draw and is always disclosed: the
  storyboard prints "not stated" beside it and provenance.json lists it. A value the
  world lacks ("an orange ball": shown yellow) is a flag on the shot, not a silent swap.

`count_invented` is what news mode promises is zero in every emitted shot.
"""

from __future__ import annotations

import random

from kinora.world.spec import COLORS, ShotSpec

NEWS_RULE = ("news: not stated by the source; shown with Kinora's fixed neutral convention "
             "(docs/FILM.md), not a claim about what happened")
NEWS_CONVENTION = {"size": "small", "material": "rubber", "speed": "normal", "motion": "still",
                   "direction": "right", "camera": "static", "shape": "sphere"}
FILLED_WHY = "knowledge: not stated; filled in with a plausible value"
LOOK = ("shape", "color", "size", "material")


def _mark(value, mode: str) -> dict:
    if mode == "news":
        return {"unstated": True, "shown_as": value, "rule": NEWS_RULE}
    if mode == "knowledge":
        return {"filled": True, "why": FILLED_WHY}
    return {"invented": True}


def choose_look(ent, mode: str, taken: dict[str, set[str]], rng: random.Random, others: list) -> None:
    """Fix an entity's shape, colour, size and material once: the stated value where the text gives
    one, else by the mode (see the module docstring). `taken`: colours already fixed per shape, so
    two unnamed balls do not come out alike."""
    for f in LOOK:
        if f in ent.stated:
            setattr(ent, f, ent.stated[f])
            continue
        if mode == "news":
            if f == "color":
                # the first palette colour no other thing has (stated, or given by this rule before it)
                have = {o.stated.get("color") for o in others} | {c for cs in taken.values() for c in cs}
                value = next((c for c in COLORS if c not in have), "red")
            else:
                value = NEWS_CONVENTION[f]
        else:
            value = ent.chosen.get(f)
            if f == "color":
                used = taken.get(ent.stated.get("shape", ent.chosen.get("shape")), set())
                if value in used:
                    free = [c for c in COLORS if c not in used]
                    value = rng.choice(free) if free else value
        setattr(ent, f, value)
        ent.fields[f] = _mark(value, mode)


def mark_motion(spec: ShotSpec, mode: str) -> None:
    """Mark (and in news, set) what the text left unsaid about motion and camera in one shot."""
    for o in spec.objects:
        fields = o.source.setdefault("fields", {})
        for f in ("motion", "direction", "speed"):
            src = fields.get(f)
            if src is None or not src.get("invented"):
                continue
            if mode == "news":
                if f == "motion":
                    o.motion = NEWS_CONVENTION["motion"] if not (o.target or o.on) else o.motion
                elif f == "speed":
                    o.speed = NEWS_CONVENTION["speed"]
                elif f == "direction" and o.motion in ("roll", "slide") and "resolve" not in src.get("note", ""):
                    o.direction = NEWS_CONVENTION["direction"]
                if f == "direction" and "resolve" in src.get("note", ""):
                    fields[f] = {"derived": True, "note": "follows from where the simulator places the two things"}
                    continue
                fields[f] = _mark(getattr(o, f), mode)
            else:
                fields[f] = {**_mark(getattr(o, f), mode), **{k: v for k, v in src.items() if k == "note"}}
    cam = spec.camera
    if cam.source.get("invented"):
        if mode == "news":
            cam.motion, cam.speed = NEWS_CONVENTION["camera"], "normal"
        cam.source = {**_mark(cam.motion, mode), "fields": {"motion": _mark(cam.motion, mode),
                                                             "speed": _mark(cam.speed, mode)}}
    else:
        for f, src in cam.source.get("fields", {}).items():
            if src.get("invented"):
                if mode == "news" and f == "speed":
                    cam.speed = "normal"
                cam.source["fields"][f] = _mark(getattr(cam, f), mode)


def substitutions(spec: ShotSpec) -> list[str]:
    """What a shot shows other than the text states it: a value the world lacks, read as the nearest."""
    out = []
    for o in spec.objects:
        if o.source.get("carried"):  # flagged in the shot that showed it first
            continue
        for f, src in o.source.get("fields", {}).items():
            if src.get("asked") and src.get("used") and src["asked"] != src["used"]:
                out.append(f"the text says {src['asked']!r} for the {f} of {o.id}; the micro-world shows "
                           f"{src['used']!r}")
    return out


def count_invented(spec_dict: dict) -> list[str]:
    """Every element of a shot (as a ShotSpec dict) marked invented: what news mode promises is none."""
    out = []
    for o in spec_dict.get("objects", []):
        for f, src in o.get("source", {}).get("fields", {}).items():
            if isinstance(src, dict) and src.get("invented"):
                out.append(f"{o['id']}.{f}")
        if o.get("source", {}).get("invented"):
            out.append(f"{o['id']}")
    cam = spec_dict.get("camera", {}).get("source", {})
    if cam.get("invented"):
        out.append("camera")
    for f, src in cam.get("fields", {}).items():
        if isinstance(src, dict) and src.get("invented"):
            out.append(f"camera.{f}")
    return out
