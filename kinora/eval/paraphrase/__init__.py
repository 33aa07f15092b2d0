"""The paraphrase suite: prompts written the way people write, with the fields they state.

The data lives next to this file (`dev-*.jsonl`, `heldout-*.jsonl`); the format and the
labelling conventions are in docs/UNDERSTANDING.md. `load_suite` reads and checks it;
`kinora.eval.understanding` scores the reader on it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kinora.errors import KinoraError
from kinora.eval.suite import jsonl_records
from kinora.world.spec import CAMERA_MOTIONS, COLORS, DIRECTIONS, MATERIALS, MAX_OBJECTS, MOTIONS, SHAPES, SIZES, SPEEDS

HERE = Path(__file__).parent
SPLITS = ("dev", "heldout")
CLASSES = ("basic", "synonym", "list", "count", "negation", "participle", "relation", "sequence", "camera",
           "word_order", "punctuation", "typo", "filler", "offworld", "unrenderable", "traditional", "duration",
           "other_language")
OBJECT_FIELDS: dict[str, tuple] = {
    "shape": tuple(SHAPES), "color": tuple(COLORS), "size": tuple(SIZES), "material": tuple(MATERIALS),
    "motion": MOTIONS, "direction": DIRECTIONS, "speed": tuple(SPEEDS),
}
CAMERA_VALUES = CAMERA_MOTIONS + ("pan", "orbit")
ITEM_KEYS = {"id", "lang", "text", "classes", "objects", "camera", "duration", "warn", "unrendered", "error",
             "not_read", "note"}


@dataclass
class Item:
    id: str
    lang: str
    text: str
    classes: list[str]
    objects: list[dict[str, Any]] | None
    camera: dict[str, Any] = field(default_factory=dict)
    duration: float | None = None
    warn: list[str] = field(default_factory=list)
    unrendered: list[str] = field(default_factory=list)
    error: bool = False
    not_read: bool = False
    split: str = "dev"


def _check_item(d: Any, where: str) -> Item:
    def bad(msg: str):
        raise KinoraError(f"{where}: {msg}")

    if not isinstance(d, dict):
        bad("each line must be a JSON object")
    unknown = set(d) - ITEM_KEYS
    if unknown:
        bad(f"unknown keys {sorted(unknown)}; allowed: {sorted(ITEM_KEYS)}")
    for k in ("id", "lang", "text", "classes"):
        if k not in d:
            bad(f"missing {k!r}")
    if d["lang"] not in ("en", "zh"):
        bad(f"lang must be 'en' or 'zh', got {d['lang']!r}")
    if not isinstance(d["text"], str) or not d["text"].strip():
        bad("text must be a non-empty string")
    if not isinstance(d["classes"], list) or not d["classes"] or any(c not in CLASSES for c in d["classes"]):
        bad(f"classes must be a non-empty list from {CLASSES}, got {d['classes']!r}")
    objs = d.get("objects", [])
    if objs is not None:
        if not isinstance(objs, list):
            bad("objects must be a list (or null for a vague count)")
        if len(objs) > MAX_OBJECTS and not d.get("error"):
            bad(f"more than {MAX_OBJECTS} objects must be labelled error: true")
        for i, o in enumerate(objs):
            if not isinstance(o, dict):
                bad(f"objects[{i}] must be an object")
            for k, v in o.items():
                if k in OBJECT_FIELDS:
                    if v not in OBJECT_FIELDS[k]:
                        bad(f"objects[{i}].{k} = {v!r}; allowed: {OBJECT_FIELDS[k]}")
                elif k in ("target", "on"):
                    if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v < len(objs) or v == i:
                        bad(f"objects[{i}].{k} must be the index of another object in the list, got {v!r}")
                elif k == "order":
                    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                        bad(f"objects[{i}].order must be a 0-based rank, got {v!r}")
                else:
                    bad(f"objects[{i}] has unknown field {k!r}")
    cam = d.get("camera", {})
    if not isinstance(cam, dict) or set(cam) - {"motion", "speed"}:
        bad("camera must be an object with at most 'motion' and 'speed'")
    if "motion" in cam and cam["motion"] not in CAMERA_VALUES:
        bad(f"camera.motion = {cam['motion']!r}; allowed: {CAMERA_VALUES}")
    if "speed" in cam and cam["speed"] not in SPEEDS:
        bad(f"camera.speed = {cam['speed']!r}; allowed: {tuple(SPEEDS)}")
    dur = d.get("duration")
    if dur is not None and (isinstance(dur, bool) or not isinstance(dur, (int, float)) or not 0 < dur <= 600):
        bad(f"duration must be seconds in (0, 600], got {dur!r}")
    for k in ("error", "not_read"):
        if k in d and not isinstance(d[k], bool):
            bad(f"{k} must be true or false, got {d[k]!r}")
    for k in ("warn", "unrendered"):
        v = d.get(k, [])
        if not isinstance(v, list) or any(not isinstance(w, str) or not w for w in v):
            bad(f"{k} must be a list of words")
        for w in v:
            if w.lower() not in d["text"].lower():
                bad(f"{k} word {w!r} does not occur in the text")
    return Item(id=d["id"], lang=d["lang"], text=d["text"], classes=list(d["classes"]), objects=objs,
                camera=dict(cam), duration=dur, warn=list(d.get("warn", [])), unrendered=list(d.get("unrendered", [])),
                error=bool(d.get("error", False)), not_read=bool(d.get("not_read", False)))


def read_file(path: Path, split: str) -> list[Item]:
    items = []
    for where, d in jsonl_records(Path(path), lambda k: f"{Path(path).name} line {k}"):
        item = _check_item(d, where)
        item.split = split
        items.append(item)
    return items


def load_suite(split: str = "heldout", folder: Path = HERE) -> list[Item]:
    """All items of one split ('dev', 'heldout' or 'all'), checked; ids must be unique."""
    if split not in SPLITS + ("all",):
        raise KinoraError(f"unknown split {split!r}; choose one of {SPLITS + ('all',)}")
    items: list[Item] = []
    for s in SPLITS if split == "all" else (split,):
        for path in sorted(Path(folder).glob(f"{s}-*.jsonl")):
            items += read_file(path, s)
    seen: set[str] = set()
    for it in items:
        if it.id in seen:
            raise KinoraError(f"paraphrase suite: id {it.id!r} appears twice")
        seen.add(it.id)
    return items
