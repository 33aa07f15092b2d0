"""Simulator in the loop: the physics signal that guides one generation, for every task.

`kinora generate --physics` (KinoraPipeline(..., physics=True)) lets the micro-world's
physics engine decide where every object is in every frame and leaves the pictures to
the DiT (PhysGen, ECCV 2024; PSIVG, CVPR 2026). This module asks the simulator for that:

1. `fit_spec`: the shot's ShotSpec at the generation's size, frame rate and length;
2. `place_from_frame`: a known frame (i2v's first image, an extension's first context
   frame, the first frame of a video being inpainted) puts its objects into the
   simulator's initial state. Each object of the spec is looked for in the frame by the
   analyzer (kinora.verify.detect), by colour and then shape; the ray through its
   centroid meets the horizontal plane at the height the spec would start its centre at
   (on the floor; for a faller, first the spec's guess, then the height at which it shows
   the area it has in the frame), and that point becomes its position. A cube's area also
   depends on how it is turned, which one frame does not pin down: a falling cube is placed
   to within about 0.25 m, a ball to about 0.1 m.
   A silhouette's centroid is not its centre's image (a cube shows its top face, a ball
   in front hides part of what stands behind it), so the points are refined: the objects
   are rendered where they were put, and each pixel aimed at moves by the difference
   between the centroid seen and the one rendered, a few times.
   Objects that stand on another one follow their support; objects the frame does not
   show keep a place of their own, and the notes say which;
   An extension's context (several known frames) says more: a later frame tells a
   faller's distance from how far it fell on screen, and `fit_to_context` chooses what
   the prompt left unsaid (each mover's material and speed) by simulating the choices
   and keeping the one whose centroids follow the context's;
3. `physics_features`: simulate and turn the segmentation into per-frame features
   (kinora.world.signal.frame_features), aligned with the frames the pipeline samples.
   The pipeline slices them per window and pools them into latent time.

Backward extension has no simulation to run (the engine does not run backwards): the
objects the video opens with hold still before it, under a still camera, so their
identity, colour and size are kept and nothing appears from nowhere. A loop's signal goes
there and back (the simulation over half the loop, then the same frames in reverse), so it
ends where it began, as the loop's frames must. A bridge simulates from its first image;
its last image is kept as given.
"""

from __future__ import annotations

import math

import numpy as np

from kinora.errors import KinoraError
from kinora.world.spec import ARENA_X, ARENA_Y, GRAVITY, ShotSpec, half_height, resolve

REFINE_STEPS = 8  # a faller's depth settles in 5-8 (its area changes as fast as its distance)
REFINE_PX = 0.25  # close enough: a quarter pixel
HIDDEN_CONTACT = 0.15  # a detection touching others over more of its outline is partly hidden (kinora.verify)
MIN_DROP_PX = 1.5  # a fall shorter than this on screen says too little about distance
MISS_PX = 16.0  # an object the simulation does not show where the frame does (kinora.eval.physics' penalty)
FIT_GAIN_PX = 0.05  # a choice is kept only if it brings the centroids at least this much closer


def fit_spec(spec: ShotSpec, fps: int, width: int, height: int, frames: int) -> ShotSpec:
    """A copy of `spec` that renders `frames` frames of width x height at `fps`."""
    s = spec.copy()
    s.fps, s.width, s.height = int(fps), int(width), int(height)
    s.duration = frames / fps
    if s.num_frames != frames:  # duration * fps rounds back to frames for any frames >= 1
        raise KinoraError(f"cannot fit the shot to {frames} frames at {fps} fps")
    return s


def unproject(pose, width: int, height: int, px: float, py: float, z: float) -> tuple[float, float] | None:
    """The point at height z whose image is pixel (px, py) (kinora.world.sim.project's inverse);
    None when that ray does not come down to z in front of the camera."""
    ex, ey, ez = pose.eye
    fx, fy, fz = (pose.target[i] - pose.eye[i] for i in range(3))
    n = math.sqrt(fx * fx + fy * fy + fz * fz)
    fx, fy, fz = fx / n, fy / n, fz / n
    rx, ry = fy, -fx  # right = forward x up(0, 0, 1), as in project()
    n = math.hypot(rx, ry)
    rx, ry = rx / n, ry / n
    ux, uy, uz = ry * fz, -rx * fz, rx * fy - ry * fx  # up = right x forward
    f = (height / 2) / math.tan(math.radians(pose.fov) / 2)
    a, b = (px + 0.5 - width / 2) / f, -(py + 0.5 - height / 2) / f  # pixel centres, as project() shifts them
    dx, dy, dz = fx + a * rx + b * ux, fy + a * ry + b * uy, fz + b * uz  # the ray's direction
    if abs(dz) < 1e-9:
        return None
    k = (z - ez) / dz
    if k <= 0:
        return None
    return ex + k * dx, ey + k * dy


def place_from_frame(spec: ShotSpec, frame: np.ndarray, t: float = 0.0, later: np.ndarray | None = None,
                     later_index: int = 0) -> tuple[ShotSpec, list[str]]:
    """`spec` resolved with its objects where `frame` (H, W, 3) uint8, seen at time t of the
    shot's camera move, shows them; (resolved spec, notes on objects not found). `later`, the
    frame `later_index` frames after it (an extension's context), tells a faller's distance
    from how far it has fallen on screen in that time."""
    from kinora.verify.detect import detect
    from kinora.world.sim import camera_pose

    first = resolve(spec)  # the heights the spec starts each centre at, and the camera
    dets = detect(frame[None])[0][0]
    dets_later = detect(later[None])[0][0] if later is not None and later_index > 0 else []
    pose = camera_pose(first, t)
    height, width = frame.shape[:2]
    used: set[int] = set()
    seen: dict[int, tuple[float, float]] = {}  # object index -> the centroid the frame shows
    area: dict[int, int] = {}  # fallers seen whole: their pixel area, which tells how far away they are
    drop: dict[int, float] = {}  # fallers seen in both frames: how many pixels they fell between them
    at: dict[int, int] = {}  # the frame each object is matched in: 0, or `later_index` for a faller the
    # first frame cuts off (one that starts high and near shows only its bottom) but the later one shows whole
    notes = []
    for i, o in enumerate(first.objects):
        if o.on is not None:
            continue  # stands on its support, wherever that is put
        same = [d for d in dets if d.color == o.color and d.index not in used]
        if not same:
            notes.append(f"the {o.color} {o.shape} is not in the known frame; the simulator places it itself")
            continue
        d = max(same, key=lambda d: (d.shape == o.shape, d.area))
        used.add(d.index)
        seen[i], at[i] = d.centroid, 0
        after = [e for e in dets_later if e.color == o.color and not e.at_edge] if o.motion == "fall" else []
        whole = not d.at_edge and d.contact < HIDDEN_CONTACT
        if o.motion == "fall" and whole:
            area[i] = d.area
            if after:
                fell = max(after, key=lambda e: e.area).centroid[1] - d.centroid[1]
                if fell > MIN_DROP_PX:
                    drop[i] = fell
        elif after:  # cut off now, whole later: match it where it is whole
            e = max(after, key=lambda e: e.area)
            seen[i], at[i] = e.centroid, later_index
            if e.contact < HIDDEN_CONTACT:
                area[i] = e.area
    # Aim each object's ray at the centroid seen, render them all there (so one that hides
    # part of another is accounted for), move each aim by what its centroid missed, repeat.
    # A faller's distance along its ray: from how far it fell on screen when a later frame
    # shows it (falling is the same everywhere, so k times the pixels rendered means k times
    # nearer), else from its area (k times the area rendered: k^(1/2) times nearer; a turned
    # cube or cylinder shows more or less area, so this is the rougher cue).
    aim = dict(seen)
    z = {i: first.objects[i].position[2] for i in seen}
    # How far a faller matched in the later frame has dropped by then (from rest, under gravity).
    fallen = 0.5 * GRAVITY * (later_index / first.fps) ** 2
    placed = spec.copy()
    frames = [0, later_index] if drop or any(at.values()) else [0]
    for _ in range(REFINE_STEPS):
        for i, (px, py) in aim.items():
            dz = fallen if at[i] else 0.0
            hit = unproject(pose, width, height, px, py, z[i] - dz)
            if hit is not None:
                x = min(max(hit[0], ARENA_X[0]), ARENA_X[1])
                y = min(max(hit[1], ARENA_Y[0]), ARENA_Y[1])
                placed.objects[i].position = [x, y, z[i]]
        got = _centroids(placed, list(aim), frames)
        now = {i: got[at[i]][i] for i in aim}  # each object in the frame it is matched in
        miss = {i: (seen[i][0] - now[i][0], seen[i][1] - now[i][1]) for i in aim if now.get(i) is not None}
        scale = {i: math.sqrt(now[i][2] / area[i]) for i in area if now.get(i) is not None}
        for i, fell in drop.items():
            if now.get(i) is not None and got[later_index].get(i) is not None:
                rendered = got[later_index][i][1] - now[i][1]
                if rendered > MIN_DROP_PX:
                    scale[i] = rendered / fell
        if all(math.hypot(*m) < REFINE_PX for m in miss.values()) and all(abs(k - 1) < 0.02 for k in scale.values()):
            break
        aim = {i: (aim[i][0] + miss[i][0], aim[i][1] + miss[i][1]) if i in miss else aim[i] for i in aim}
        for i, k in scale.items():
            dz = fallen if at[i] else 0.0  # scale about the eye where the object is when matched
            eye_z, obj_z = pose.eye[2], placed.objects[i].position[2] - dz
            lowest = half_height(first.objects[i]) + 0.01
            z[i] = max(lowest + dz, eye_z + k * (obj_z - eye_z) + dz)
    return resolve(placed), notes


def _centroids(spec: ShotSpec, which: list[int], frames: list[int]) -> dict[int, dict[int, tuple | None]]:
    """For each frame index in `frames`: centroids (x, y) in pixels and areas of objects `which`
    in that frame of `spec` (simulated and rendered)."""
    from kinora.world.sim import simulate

    one = spec.copy()
    one.duration = (max(frames) + 1) / one.fps
    for o in one.objects:  # one that starts later is held through these frames either way
        o.start = min(o.start, one.duration * (1 - 1e-6))
    seg = simulate(one).seg
    out: dict[int, dict[int, tuple | None]] = {}
    for f in frames:
        out[f] = {}
        for i in which:
            ys, xs = np.nonzero(seg[f] == i)
            out[f][i] = (float(xs.mean()), float(ys.mean()), len(xs)) if len(xs) else None
    return out


def _stated(o, field: str) -> bool:
    """Whether the prompt said this field of the object (kinora.plan keeps the words behind each)."""
    f = (o.source or {}).get("fields", {}).get(field)
    return bool(f) and not f.get("invented")


def fit_to_context(placed: ShotSpec, context: np.ndarray) -> tuple[ShotSpec, list[str]]:
    """Choose what the prompt left unsaid (an object's material, a mover's speed) so that the
    simulation moves as the known frames `context` (C, H, W, 3) show: a slide that slows fast
    is rubber, one that barely slows is ice, a mover that covers ground quickly is fast.
    One object at a time, each choice kept where it brings the simulated centroids closer to
    the seen ones over the context; returns the spec and what was chosen."""
    from kinora.verify.detect import detect
    from kinora.world.spec import MATERIALS, SPEEDS

    C = len(context)
    movers = [i for i, o in enumerate(placed.objects) if o.motion != "still"]
    if C < 3 or not movers:
        return placed, []
    dets = detect(context)[0]
    seen = {}  # object index -> {frame: centroid} of its colour's largest detection
    for i in movers:
        col = placed.objects[i].color
        track = {f: max((d for d in ds if d.color == col), key=lambda d: d.area).centroid
                 for f, ds in enumerate(dets) if any(d.color == col for d in ds)}
        if len(track) >= 3:
            seen[i] = track

    def error(spec: ShotSpec) -> float:
        got = _centroids(spec, list(seen), list(range(C)))
        errs = [math.hypot(got[f][i][0] - c[0], got[f][i][1] - c[1]) if got[f].get(i) else MISS_PX
                for i, track in seen.items() for f, c in track.items() if f > 0]
        return float(np.mean(errs)) if errs else 0.0

    best, best_err = placed, error(placed) if seen else 0.0
    chosen = []
    for i in seen:  # material and speed together: a slow slide on ice and a fast one on rubber can start alike
        o = placed.objects[i]
        materials = [o.material] if _stated(o, "material") else list(MATERIALS)
        speeds = list(SPEEDS) if o.motion in ("roll", "slide", "push") and not _stated(o, "speed") else [o.speed]
        pick = None
        for material in materials:
            for speed in speeds:
                if (material, speed) == (o.material, o.speed):
                    continue
                trial = best.copy()
                t = trial.objects[i]
                k = SPEEDS[speed] / SPEEDS[t.speed]  # a resolved mover's velocities scale with its speed
                t.velocity = [v * k for v in t.velocity]
                t.angular_velocity = [v * k for v in t.angular_velocity]
                t.material, t.speed = material, speed
                err = error(trial)
                if err < best_err - FIT_GAIN_PX:
                    best, best_err, pick = trial, err, (material, speed)
        if pick is not None:
            chosen.append(f"the {o.color} {o.shape}: {pick[0]}, {pick[1]}, as the known frames show it move")
    return best, chosen


def held_still(spec: ShotSpec) -> ShotSpec:
    """The resolved spec with every object held in its initial pose and the camera where it
    starts, for the whole shot (backward extension: the simulator holds an object until its
    start, kinora.world.sim; the known frame was placed with the camera's starting pose)."""
    s = resolve(spec)
    s.camera.motion = "static"
    for o in s.objects:
        o.start = s.duration * (1 - 1e-6)  # the last frame is at (T - 1) / fps < duration: all held
    return s


def physics_features(spec: ShotSpec) -> np.ndarray:
    """Simulate `spec` (resolved or not); its per-frame signal (T, S, H/4, W/4) float32."""
    from kinora.world.signal import frame_features
    from kinora.world.sim import simulate

    clip = simulate(spec)
    return frame_features(clip.seg, clip.spec)
