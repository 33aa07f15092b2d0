"""ShotSpec: the one structure that describes a shot of the micro-world.

Prompts are parsed into it, the simulator renders it, the analyzer checks videos
against it and edits change it. A spec has two layers:

* what a person says: objects (shape, colour, size, material), what each does
  (motion, direction, speed, what it hits or stands on), the camera move, the duration;
* what the simulator needs: exact initial poses and velocities. `resolve()` fills these
  deterministically from the first layer and the spec's seed, so a spec parsed from
  "a red ball rolls left" and a random training spec go through the same renderer.

Every element may carry `source`: where in the source text it came from
({"start", "end", "text"}) or {"invented": true}; news mode later forbids invention.

The vocabulary (shapes, colours, sizes, materials, motions, camera moves) lives here
once, with the English and Chinese words for it, so captions, the prompt parser and
the analyzer can never disagree about it.
"""

from __future__ import annotations

import dataclasses
import json
import math
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kinora.defaults import DEFAULT_SECONDS, MAX_SECONDS
from kinora.errors import KinoraError

SPEC_VERSION = 1

# ---------------------------------------------------------------------------------
# Vocabulary
# ---------------------------------------------------------------------------------

SHAPES: dict[str, dict[str, str]] = {
    "sphere": {"en": "ball", "zh": "球"},
    "cube": {"en": "cube", "zh": "方块"},
    "cylinder": {"en": "cylinder", "zh": "圆柱"},
}

# Six hues about 60 degrees apart, all strongly saturated, so that neither the grey
# floor, the white sky nor the shading of another object can be mistaken for them.
# `rgb` is the diffuse colour handed to the renderer (0..1).
COLORS: dict[str, dict[str, Any]] = {
    "red": {"rgb": (0.86, 0.10, 0.10), "zh": "红色"},
    "yellow": {"rgb": (0.95, 0.82, 0.08), "zh": "黄色"},
    "green": {"rgb": (0.10, 0.70, 0.16), "zh": "绿色"},
    "cyan": {"rgb": (0.08, 0.78, 0.85), "zh": "青色"},
    "blue": {"rgb": (0.12, 0.24, 0.92), "zh": "蓝色"},
    "purple": {"rgb": (0.78, 0.12, 0.78), "zh": "紫色"},
}

# `scale` is the object's characteristic half-size in metres (sphere radius, cube
# half-edge, cylinder radius; a cylinder is 2.2 * scale tall).
SIZES: dict[str, dict[str, Any]] = {
    "small": {"scale": 0.20, "zh": "小"},
    "large": {"scale": 0.34, "zh": "大"},
}

# Materials differ in bounciness (restitution) and friction; they look alike, so the
# caption only names a material when the clip shows its effect (see captions.py).
MATERIALS: dict[str, dict[str, Any]] = {
    "rubber": {"restitution": 0.82, "friction": 0.9, "rolling_friction": 0.04, "density": 1.0, "zh": "橡胶"},
    "wood": {"restitution": 0.35, "friction": 0.5, "rolling_friction": 0.03, "density": 0.7, "zh": "木头"},
    "metal": {"restitution": 0.5, "friction": 0.3, "rolling_friction": 0.015, "density": 7.8, "zh": "金属"},
    "ice": {"restitution": 0.1, "friction": 0.04, "rolling_friction": 0.01, "density": 0.9, "zh": "冰"},
}

# What an object does. `push`: moves towards `target` and collides with it;
# `topple`: starts on top of `on`, off balance, and falls off.
MOTIONS = ("still", "fall", "roll", "slide", "push", "topple")
# Directions are relative to the camera at the start of the shot: left/right across
# the screen, forward = away from the camera, backward = towards it.
DIRECTIONS = ("left", "right", "forward", "backward")
SPEEDS: dict[str, float] = {"slow": 0.6, "normal": 1.0, "fast": 1.6}
GRAVITY = 9.81  # m/s^2: what the simulator applies, and what captions and placement reckon with
CAMERA_MOTIONS = ("static", "pan_left", "pan_right", "orbit_left", "orbit_right", "zoom_in", "zoom_out")

SIZE_MIN, SIZE_MAX = 32, 512
FPS_MIN, FPS_MAX = 1, 60
DURATION_MAX_S = MAX_SECONDS  # ten minutes; longer films are sequences of shots
MAX_OBJECTS = 6

# The stage: objects start inside this rectangle (metres) of the floor.
ARENA_X = (-1.5, 1.5)
ARENA_Y = (-1.2, 1.2)


def motion_allowed(shape: str, motion: str) -> bool:
    """Physics sense: a cube cannot roll, and only a free object can fall or topple."""
    if motion == "roll":
        return shape in ("sphere", "cylinder")
    return True


# ---------------------------------------------------------------------------------
# The structures
# ---------------------------------------------------------------------------------


@dataclass
class ObjectSpec:
    id: str
    shape: str = "sphere"
    color: str = "red"
    size: str = "small"
    material: str = "rubber"
    motion: str = "still"
    direction: str | None = None  # for roll / slide / push
    speed: str = "normal"
    target: str | None = None  # push: the id it runs into
    on: str | None = None  # topple or stack: the id it stands on
    start: float = 0.0  # seconds into the shot when its motion begins; held in its initial pose until then
    # Filled by resolve(): initial pose (metres, quaternion xyzw) and velocities.
    position: list[float] | None = None
    orientation: list[float] | None = None
    velocity: list[float] | None = None
    angular_velocity: list[float] | None = None
    source: dict[str, Any] = field(default_factory=dict)


@dataclass
class CameraSpec:
    motion: str = "static"
    speed: str = "normal"
    distance: float = 4.0  # metres from the look-at point at the start
    elevation: float = 30.0  # degrees above the floor
    fov: float = 50.0  # vertical field of view, degrees
    source: dict[str, Any] = field(default_factory=dict)


@dataclass
class ShotSpec:
    objects: list[ObjectSpec] = field(default_factory=list)
    camera: CameraSpec = field(default_factory=CameraSpec)
    duration: float = DEFAULT_SECONDS  # seconds
    fps: int = 8
    width: int = 64
    height: int = 64
    seed: int = 0
    text: str = ""  # the source text, when the spec came from one
    # What the text asked for that the micro-world cannot show at all ("a dog"): each
    # {"start", "end", "text", "why"}, so provenance keeps it rather than dropping it.
    unrendered: list[dict] = field(default_factory=list)
    version: int = SPEC_VERSION

    @property
    def num_frames(self) -> int:
        return max(1, int(round(self.duration * self.fps)))

    def object(self, oid: str) -> ObjectSpec:
        for o in self.objects:
            if o.id == oid:
                return o
        raise KinoraError(f"no object with id {oid!r} in the spec; ids are {[o.id for o in self.objects]}")

    # --- JSON ----------------------------------------------------------------------
    def to_dict(self) -> dict:
        # Fields added after version 1 are written only when they say something, so a spec
        # without them reads and hashes as it always did.
        d = dataclasses.asdict(self)
        if not d["unrendered"]:
            del d["unrendered"]
        for o in d["objects"]:
            if not o["start"]:
                del o["start"]
        return d

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=indent)

    def copy(self) -> "ShotSpec":
        """A deep copy, through JSON (what is saved is what is copied)."""
        return ShotSpec.from_dict(json.loads(self.to_json(indent=None)))

    @classmethod
    def from_dict(cls, d: Any, where: str = "spec") -> "ShotSpec":
        if not isinstance(d, dict):
            raise KinoraError(f"{where}: a ShotSpec must be a JSON object, got {type(d).__name__}")
        _check_keys(d, cls, where)
        cam = d.get("camera", {})
        if not isinstance(cam, dict):
            raise KinoraError(f"{where}.camera must be an object like {{\"motion\": \"static\"}}")
        _check_keys(cam, CameraSpec, f"{where}.camera")
        objs = d.get("objects", [])
        if not isinstance(objs, list):
            raise KinoraError(f"{where}.objects must be a list of objects")
        objects = []
        for i, o in enumerate(objs):
            if not isinstance(o, dict):
                raise KinoraError(f"{where}.objects[{i}] must be an object with at least an \"id\"")
            _check_keys(o, ObjectSpec, f"{where}.objects[{i}]")
            if "id" not in o:
                o = {**o, "id": f"obj{i}"}
            objects.append(ObjectSpec(**o))
        rest = {k: v for k, v in d.items() if k not in ("camera", "objects")}
        spec = cls(objects=objects, camera=CameraSpec(**cam), **rest)
        validate(spec, where)
        return spec

    @classmethod
    def from_json(cls, text: str, where: str = "spec") -> "ShotSpec":
        try:
            d = json.loads(text)
        except json.JSONDecodeError as e:
            raise KinoraError(f"{where}: malformed JSON at line {e.lineno} column {e.colno}: {e.msg}") from None
        return cls.from_dict(d, where)

    def save(self, path: str | Path, force: bool = False) -> Path:
        """Write the spec as JSON at `path`; an existing file is replaced only with `force`."""
        from kinora.io.atomic import claim_output, write_text_atomic

        with claim_output(path, force=force) as path:
            write_text_atomic(path, self.to_json() + "\n")
        return path

    @classmethod
    def load(cls, path: str | Path) -> "ShotSpec":
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise KinoraError(f"spec file not found: {path}") from None
        except IsADirectoryError:
            raise KinoraError(f"spec file {path} is a folder; give a JSON file ('kinora world schema')") from None
        except (OSError, UnicodeDecodeError) as e:
            raise KinoraError(f"cannot read spec file {path}: {e}") from None
        return cls.from_json(text, where=str(path))


def _check_keys(d: dict, cls, where: str) -> None:
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(d) - known)
    if unknown:
        raise KinoraError(f"{where}: unknown field(s) {unknown}; known fields are {sorted(known)}")


def _one_of(value, allowed, what: str, where: str) -> None:
    if value not in allowed:
        raise KinoraError(f"{where}: unknown {what} {value!r}; use one of {', '.join(map(str, allowed))}")


def _is_num(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def validate(spec: ShotSpec, where: str = "spec") -> None:
    """Raise KinoraError naming the first thing wrong with `spec`."""
    if not _is_num(spec.duration) or spec.duration <= 0 or spec.duration > DURATION_MAX_S:
        raise KinoraError(
            f"{where}: duration {spec.duration!r} s is out of range; use a number of seconds in (0, {DURATION_MAX_S:g}]"
        )
    if not isinstance(spec.fps, int) or isinstance(spec.fps, bool) or not FPS_MIN <= spec.fps <= FPS_MAX:
        raise KinoraError(f"{where}: fps {spec.fps!r} is not supported; use a whole number from {FPS_MIN} to {FPS_MAX}")
    for name in ("width", "height"):
        v = getattr(spec, name)
        if not isinstance(v, int) or isinstance(v, bool) or not SIZE_MIN <= v <= SIZE_MAX or v % 8:
            raise KinoraError(
                f"{where}: {name} {v!r} is not supported; "
                f"use a multiple of 8 from {SIZE_MIN} to {SIZE_MAX} (e.g. 64 or 128)"
            )
    if not isinstance(spec.seed, int) or isinstance(spec.seed, bool):
        raise KinoraError(f"{where}: seed must be a whole number, got {spec.seed!r}")
    if not isinstance(spec.text, str):
        raise KinoraError(f"{where}: text must be a string")
    if not isinstance(spec.unrendered, list) or not all(isinstance(u, dict) for u in spec.unrendered):
        raise KinoraError(f"{where}: unrendered must be a list of objects like {{\"text\": \"dog\"}}")
    if spec.version != SPEC_VERSION:
        raise KinoraError(f"{where}: spec version {spec.version!r} is not supported; "
                          f"this Kinora reads version {SPEC_VERSION}")
    cam = spec.camera
    _one_of(cam.motion, CAMERA_MOTIONS, "camera motion", f"{where}.camera")
    _one_of(cam.speed, tuple(SPEEDS), "camera speed", f"{where}.camera")
    for name, lo, hi in (("distance", 1.5, 20.0), ("elevation", 5.0, 85.0), ("fov", 15.0, 100.0)):
        v = getattr(cam, name)
        if not _is_num(v) or not lo <= v <= hi:
            raise KinoraError(f"{where}.camera: {name} {v!r} is out of range; use a number in [{lo:g}, {hi:g}]")
    if len(spec.objects) > MAX_OBJECTS:
        raise KinoraError(f"{where}: {len(spec.objects)} objects is too many; "
                          f"the micro-world holds at most {MAX_OBJECTS}")
    ids = [o.id for o in spec.objects]
    for i, o in enumerate(spec.objects):
        w = f"{where}.objects[{i}]"
        if not isinstance(o.id, str) or not o.id:
            raise KinoraError(f"{w}: id must be a non-empty string")
        if ids.count(o.id) > 1:
            raise KinoraError(f"{w}: id {o.id!r} is used twice; give every object its own id")
        _one_of(o.shape, tuple(SHAPES), "shape", w)
        _one_of(o.color, tuple(COLORS), "colour", w)
        _one_of(o.size, tuple(SIZES), "size", w)
        _one_of(o.material, tuple(MATERIALS), "material", w)
        _one_of(o.motion, MOTIONS, "motion", w)
        _one_of(o.speed, tuple(SPEEDS), "speed", w)
        if not motion_allowed(o.shape, o.motion):
            raise KinoraError(f"{w}: a {o.shape} cannot {o.motion}; use slide for a cube")
        if o.direction is not None:
            _one_of(o.direction, DIRECTIONS, "direction", w)
        if o.motion in ("roll", "slide") and o.direction is None and o.velocity is None:
            raise KinoraError(f"{w}: motion {o.motion!r} needs a direction ({', '.join(DIRECTIONS)})")
        if o.motion == "push":
            if o.target is None or o.target not in ids or o.target == o.id:
                raise KinoraError(f"{w}: motion 'push' needs a target that is another object's id, one of {ids}")
        elif o.target is not None:
            raise KinoraError(f"{w}: target is only used with motion 'push'")
        if o.on is not None:
            if o.on not in ids or o.on == o.id:
                raise KinoraError(f"{w}: on must be another object's id, one of {ids}")
            if spec.object(o.on).on is not None:
                raise KinoraError(f"{w}: stacks are at most two high; {o.on!r} already stands on something")
        if not _is_num(o.start) or not 0 <= o.start < spec.duration:
            raise KinoraError(f"{w}: start {o.start!r} s must be a number from 0 to below the duration "
                              f"({spec.duration:g} s)")
        if o.motion == "topple" and o.on is None:
            raise KinoraError(f"{w}: motion 'topple' needs on = the id of the object it starts on")
        for name, n in (("position", 3), ("velocity", 3), ("angular_velocity", 3), ("orientation", 4)):
            v = getattr(o, name)
            if v is not None and (not isinstance(v, (list, tuple)) or len(v) != n or not all(map(_is_num, v))):
                raise KinoraError(f"{w}: {name} must be a list of {n} numbers")
        if not isinstance(o.source, dict):
            raise KinoraError(f"{w}: source must be an object")


# ---------------------------------------------------------------------------------
# Geometry helpers shared by resolve() and the simulator
# ---------------------------------------------------------------------------------

_DIR_VEC = {"left": (-1.0, 0.0), "right": (1.0, 0.0), "forward": (0.0, 1.0), "backward": (0.0, -1.0)}


def direction_vector(direction: str) -> tuple[float, float]:
    return _DIR_VEC[direction]


def half_height(o: ObjectSpec) -> float:
    """Height of the object's centre above its support when it rests upright."""
    s = SIZES[o.size]["scale"]
    if o.shape == "cylinder":
        # A rolling cylinder lies on its side; otherwise it stands on its base.
        return s if o.motion == "roll" else 1.1 * s
    return s


def footprint(o: ObjectSpec) -> float:
    """Radius of the circle the object covers on the floor."""
    s = SIZES[o.size]["scale"]
    if o.shape == "cube":
        return s * math.sqrt(2)
    if o.shape == "cylinder" and o.motion == "roll":
        return 1.1 * s * math.sqrt(2)
    return s


def _quat_about(axis: str, angle: float) -> list[float]:
    h = angle / 2
    if axis == "x":
        return [math.sin(h), 0.0, 0.0, math.cos(h)]
    if axis == "y":
        return [0.0, math.sin(h), 0.0, math.cos(h)]
    return [0.0, 0.0, math.sin(h), math.cos(h)]


# ---------------------------------------------------------------------------------
# resolve(): from what a person says to exact initial conditions
# ---------------------------------------------------------------------------------

ROLL_SPEED = 1.2  # m/s at speed "normal"
SLIDE_SPEED = 2.0
PUSH_SPEED = 2.2
FALL_HEIGHT = (0.9, 1.6)  # metres above the floor, bottom of the object


def resolve(spec: ShotSpec) -> ShotSpec:
    """Return a copy of `spec` in which every object has a pose and velocities.

    Objects that already have a position keep it. The others are placed so that
    nothing overlaps, movers have room to move, a pusher starts in line with its
    target, and a stacked object starts on its support. Deterministic in spec.seed.
    """
    validate(spec)
    spec = spec.copy()
    rng = random.Random(spec.seed * 7919 + 17)
    placed: list[tuple[float, float, float]] = []  # (x, y, radius) on the floor

    for o in spec.objects:
        if o.position is not None:
            placed.append((o.position[0], o.position[1], footprint(o)))

    def free(x: float, y: float, r: float) -> bool:
        return all(math.hypot(x - px, y - py) > r + pr + 0.08 for px, py, pr in placed)

    def place(o: ObjectSpec, room: tuple[float, float] | None = None) -> tuple[float, float]:
        """A free floor point for `o`; `room` = (dx, dy) * distance it wants ahead of it."""
        r = footprint(o)
        x0, x1 = ARENA_X[0] + r, ARENA_X[1] - r
        y0, y1 = ARENA_Y[0] + r, ARENA_Y[1] - r
        if room is not None:
            # Start on the side opposite to the direction of travel so it crosses the stage.
            dx, dy = room
            if dx > 0:
                x1 = min(x1, ARENA_X[0] + 1.0)
            elif dx < 0:
                x0 = max(x0, ARENA_X[1] - 1.0)
            if dy > 0:
                y1 = min(y1, ARENA_Y[0] + 0.6)
            elif dy < 0:
                y0 = max(y0, ARENA_Y[1] - 0.6)
        for _ in range(200):
            x, y = rng.uniform(x0, x1), rng.uniform(y0, y1)
            if free(x, y, r):
                return x, y
        for _ in range(400):  # fall back to anywhere in the arena
            x, y = rng.uniform(ARENA_X[0] + r, ARENA_X[1] - r), rng.uniform(ARENA_Y[0] + r, ARENA_Y[1] - r)
            if free(x, y, r):
                return x, y
        raise KinoraError("cannot place all objects without overlap; use fewer or smaller objects")

    # Order: supports and targets first, then what depends on them.
    deps = {o.id: [d for d in (o.on, o.target) if d] for o in spec.objects}
    order: list[ObjectSpec] = []
    seen: set[str] = set()

    def visit(o: ObjectSpec, stack: tuple[str, ...] = ()) -> None:
        if o.id in seen:
            return
        if o.id in stack:
            raise KinoraError(f"objects {list(stack)} depend on each other in a circle (on/target)")
        for d in deps[o.id]:
            visit(spec.object(d), stack + (o.id,))
        seen.add(o.id)
        order.append(o)

    for o in spec.objects:
        visit(o)

    for o in order:
        s = SIZES[o.size]["scale"]
        speed = SPEEDS[o.speed]
        yaw = rng.uniform(-math.pi, math.pi)
        orient = _quat_about("z", yaw) if o.shape != "sphere" else [0.0, 0.0, 0.0, 1.0]
        vel = [0.0, 0.0, 0.0]
        ang = [0.0, 0.0, 0.0]
        if o.on is not None:
            sup = spec.object(o.on)
            sx, sy, sz = sup.position
            top = sz + half_height(sup)
            ss = SIZES[sup.size]["scale"]
            # Lean out across the middle of one of the support's faces (a cube's faces
            # turn with its yaw), where the edge is nearest the centre.
            sup_yaw = 2 * math.atan2(sup.orientation[2], sup.orientation[3]) if sup.shape == "cube" else 0.0
            ang_off = sup_yaw + rng.randrange(4) * math.pi / 2
            if o.position is None:
                if o.motion == "topple":
                    # Centre of mass beyond the edge: it must tip over and fall.
                    off = 0.3 * ss if sup.shape == "sphere" else ss + 0.5 * s
                else:
                    off = 0.05 * ss
                o.position = [sx + off * math.cos(ang_off), sy + off * math.sin(ang_off), top + half_height(o) + 0.01]
            if o.motion == "topple":
                tilt = 0.35  # radians, leaning outwards about the axis across the offset
                orient = [-math.sin(ang_off) * math.sin(tilt / 2), math.cos(ang_off) * math.sin(tilt / 2), 0.0,
                          math.cos(tilt / 2)]
        elif o.motion in ("roll", "slide", "push"):
            if o.motion == "push":
                tgt = spec.object(o.target)
                if o.position is None:
                    # Line up behind the target, on the side opposite to `direction` if given.
                    dx, dy = direction_vector(o.direction) if o.direction else (
                        (1.0, 0.0) if tgt.position[0] < 0 else (-1.0, 0.0))
                    o.direction = o.direction or (
                        "right" if dx > 0 else "left" if dx < 0 else "forward" if dy > 0 else "backward")
                    gap = footprint(o) + footprint(tgt) + rng.uniform(0.5, 0.9)
                    o.position = [tgt.position[0] - dx * gap, tgt.position[1] - dy * gap, half_height(o)]
                    placed.append((o.position[0], o.position[1], footprint(o)))
                base = PUSH_SPEED
            else:
                base = ROLL_SPEED if o.motion == "roll" else SLIDE_SPEED
            dx, dy = direction_vector(o.direction) if o.direction else (1.0, 0.0)
            if o.position is None:
                x, y = place(o, (dx, dy))
                o.position = [x, y, half_height(o)]
                placed.append((x, y, footprint(o)))
            vel = [dx * base * speed, dy * base * speed, 0.0]
            if o.shape == "cylinder" and o.motion == "roll":
                # Lie on the side with the axis across the direction of travel.
                orient = _quat_about("x", math.pi / 2) if dx != 0 else _quat_about("y", math.pi / 2)
            if o.motion == "roll" or o.shape == "sphere":
                r = SIZES[o.size]["scale"] if o.shape == "sphere" else 1.1 * s
                # Rolling without slipping from the first frame: w = v / r about the axis (-dy, dx).
                ang = [-vel[1] / r, vel[0] / r, 0.0]
        elif o.motion == "fall":
            if o.position is None:
                x, y = place(o)
                o.position = [x, y, half_height(o) + rng.uniform(*FALL_HEIGHT)]
                placed.append((x, y, footprint(o)))
        else:  # still
            if o.position is None:
                x, y = place(o)
                o.position = [x, y, half_height(o)]
                placed.append((x, y, footprint(o)))
        if o.orientation is None:
            o.orientation = orient
        if o.velocity is None:
            o.velocity = vel
        if o.angular_velocity is None:
            o.angular_velocity = ang
    return spec


# ---------------------------------------------------------------------------------
# Random specs for training data
# ---------------------------------------------------------------------------------


@dataclass
class SpecDistribution:
    """The distribution random training shots are drawn from."""

    min_objects: int = 1
    max_objects: int = 3
    duration: tuple[float, float] = (DEFAULT_SECONDS, DEFAULT_SECONDS)
    fps: int = 8
    width: int = 64
    height: int = 64
    # Relative weights of what one object does.
    motion_weights: dict[str, float] = field(
        default_factory=lambda: {"still": 1.0, "fall": 1.2, "roll": 1.2, "slide": 0.8, "push": 0.6, "topple": 0.4}
    )
    camera_weights: dict[str, float] = field(
        default_factory=lambda: {"static": 3.0, "pan_left": 0.5, "pan_right": 0.5, "orbit_left": 0.5,
                                 "orbit_right": 0.5, "zoom_in": 0.5, "zoom_out": 0.5}
    )
    colors: tuple[str, ...] = tuple(COLORS)
    shapes: tuple[str, ...] = tuple(SHAPES)
    distinct_colors: bool = True  # so a caption's "the red ball" is unambiguous

    def __post_init__(self):
        most = min(MAX_OBJECTS, len(self.colors)) if self.distinct_colors else MAX_OBJECTS
        if not 1 <= self.min_objects <= self.max_objects <= most:
            raise KinoraError(f"objects per shot {self.min_objects}..{self.max_objects} are out of range; the world "
                              f"shows 1 to {most} objects in a shot (--max-objects at most {most})")


def _pick(rng: random.Random, weights: dict[str, float]) -> str:
    keys = list(weights)
    return rng.choices(keys, weights=[weights[k] for k in keys])[0]


def random_spec(seed: int, dist: SpecDistribution | None = None) -> ShotSpec:
    """A random, physically sensible, fully resolved ShotSpec; same seed, same spec."""
    dist = dist or SpecDistribution()
    rng = random.Random(seed)
    n = rng.randint(dist.min_objects, dist.max_objects)
    colors = rng.sample(list(dist.colors), n) if dist.distinct_colors else [rng.choice(dist.colors) for _ in range(n)]
    objects: list[ObjectSpec] = []
    for i in range(n):
        objects.append(ObjectSpec(
            id=f"obj{i}", shape=rng.choice(dist.shapes), color=colors[i], size=rng.choice(list(SIZES)),
            material=rng.choice(list(MATERIALS)),
        ))
    anchored: set[str] = set()  # targets and supports: they must stay still until hit
    for o in objects:
        m = _pick(rng, dist.motion_weights)
        if o.id in anchored:
            continue
        others = [p for p in objects if p is not o and p.on is None and p.target is None and p.motion in ("still",)
                  and p.shape != "sphere" and not any(q.on == p.id for q in objects)]
        if m in ("push", "topple") and not others:
            m = "fall"
        if m == "topple" and (o.motion != "still" or any(p.on == o.id or p.target == o.id for p in objects)):
            m = "still"
        if m == "roll" and o.shape == "cube":
            m = "slide"
        o.motion = m
        if m in ("roll", "slide"):
            o.direction = rng.choice(DIRECTIONS[:2] if rng.random() < 0.7 else DIRECTIONS)
            o.speed = rng.choice(list(SPEEDS))
        elif m == "push":
            o.target = rng.choice(others).id
            o.speed = rng.choice(list(SPEEDS))
            anchored.add(o.target)
        elif m == "topple":
            sup = rng.choice(others)
            o.on = sup.id
            anchored.add(sup.id)
            if o.shape == "cylinder":
                o.shape = "cube"  # a tall cylinder on top reads poorly at 64x64
    cam = CameraSpec(motion=_pick(rng, dist.camera_weights), speed=rng.choice(list(SPEEDS)))
    lo, hi = dist.duration
    duration = round(rng.uniform(lo, hi) * dist.fps) / dist.fps if hi > lo else lo
    spec = ShotSpec(objects=objects, camera=cam, duration=duration, fps=dist.fps,
                    width=dist.width, height=dist.height, seed=seed)
    validate(spec)  # a bad size or fps is the user's to fix, not a layout to retry
    for attempt in range(40):
        try:
            return resolve(spec)
        except KinoraError:
            # A crowded draw: try another layout (the spec records the layout seed used);
            # after 20 tries, drop the last free object that nothing depends on.
            spec.seed = seed + 1_000_003 * (attempt + 1)
            if attempt >= 19 and len(spec.objects) > 1:
                used = {o.on for o in spec.objects} | {o.target for o in spec.objects}
                free = [o for o in spec.objects if o.id not in used and o.on is None and o.target is None]
                if free:
                    spec.objects.remove(free[-1])
    raise KinoraError(f"could not lay out random spec {seed}; lower max_objects")


def json_schema() -> dict:
    """A JSON Schema (draft 2020-12) of the ShotSpec file format."""
    vec = lambda n: {"type": ["array", "null"], "items": {"type": "number"}, "minItems": n, "maxItems": n}  # noqa: E731
    src = {"type": "object", "description": "where the element came from: {start, end, text} or {invented: true}"}
    obj = {
        "type": "object",
        "required": ["id"],
        "additionalProperties": False,
        "properties": {
            "id": {"type": "string", "minLength": 1},
            "shape": {"enum": list(SHAPES)},
            "color": {"enum": list(COLORS)},
            "size": {"enum": list(SIZES)},
            "material": {"enum": list(MATERIALS)},
            "motion": {"enum": list(MOTIONS)},
            "direction": {"enum": [*DIRECTIONS, None]},
            "speed": {"enum": list(SPEEDS)},
            "target": {"type": ["string", "null"]},
            "on": {"type": ["string", "null"]},
            "start": {"type": "number", "minimum": 0, "description": "seconds into the shot when it starts moving"},
            "position": vec(3), "orientation": vec(4), "velocity": vec(3), "angular_velocity": vec(3),
            "source": src,
        },
    }
    cam = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "motion": {"enum": list(CAMERA_MOTIONS)},
            "speed": {"enum": list(SPEEDS)},
            "distance": {"type": "number", "minimum": 1.5, "maximum": 20},
            "elevation": {"type": "number", "minimum": 5, "maximum": 85},
            "fov": {"type": "number", "minimum": 15, "maximum": 100},
            "source": src,
        },
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Kinora ShotSpec",
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "objects": {"type": "array", "items": obj, "maxItems": MAX_OBJECTS},
            "camera": cam,
            "duration": {"type": "number", "exclusiveMinimum": 0, "maximum": DURATION_MAX_S},
            "fps": {"type": "integer", "minimum": FPS_MIN, "maximum": FPS_MAX},
            "width": {"type": "integer", "minimum": SIZE_MIN, "maximum": SIZE_MAX, "multipleOf": 8},
            "height": {"type": "integer", "minimum": SIZE_MIN, "maximum": SIZE_MAX, "multipleOf": 8},
            "seed": {"type": "integer"},
            "text": {"type": "string"},
            "unrendered": {"type": "array", "items": {"type": "object"},
                           "description": "what the text asked for that the world cannot show: "
                                          "{start, end, text, why}"},
            "version": {"const": SPEC_VERSION},
        },
    }
