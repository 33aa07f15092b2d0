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
from kinora.world.spec import ARENA_X, ARENA_Y, ShotSpec, half_height, resolve

REFINE_STEPS = 8  # a faller's depth settles in 5-8 (its area changes as fast as its distance)
REFINE_PX = 0.25  # close enough: a quarter pixel
HIDDEN_CONTACT = 0.15  # a detection touching others over more of its outline is partly hidden (kinora.verify)


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


def place_from_frame(spec: ShotSpec, frame: np.ndarray, t: float = 0.0) -> tuple[ShotSpec, list[str]]:
    """`spec` resolved with its objects where `frame` (H, W, 3) uint8, seen at time t of the
    shot's camera move, shows them; (resolved spec, notes on objects not found)."""
    from kinora.verify.detect import detect
    from kinora.world.sim import camera_pose

    first = resolve(spec)  # the heights the spec starts each centre at, and the camera
    dets = detect(frame[None])[0][0]
    pose = camera_pose(first, t)
    height, width = frame.shape[:2]
    used: set[int] = set()
    seen: dict[int, tuple[float, float]] = {}  # object index -> the centroid the frame shows
    area: dict[int, int] = {}  # fallers seen whole: their pixel area, which tells how far away they are
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
        seen[i] = d.centroid
        if o.motion == "fall" and not d.at_edge and d.contact < HIDDEN_CONTACT:
            area[i] = d.area
    # Aim each object's ray at the centroid seen, render them all there (so one that hides
    # part of another is accounted for), move each aim by what its centroid missed, repeat.
    # A faller's height is not the spec's guess but what its size says: k times the area
    # rendered means k^(1/2) times nearer than it should be, along its ray.
    aim = dict(seen)
    z = {i: first.objects[i].position[2] for i in seen}
    placed = spec.copy()
    for _ in range(REFINE_STEPS):
        for i, (px, py) in aim.items():
            hit = unproject(pose, width, height, px, py, z[i])
            if hit is not None:
                x = min(max(hit[0], ARENA_X[0]), ARENA_X[1])
                y = min(max(hit[1], ARENA_Y[0]), ARENA_Y[1])
                placed.objects[i].position = [x, y, z[i]]
        got = _first_frame_centroids(placed, list(aim))
        miss = {i: (seen[i][0] - got[i][0], seen[i][1] - got[i][1]) for i in aim if got.get(i) is not None}
        scale = {i: math.sqrt(got[i][2] / area[i]) for i in area if got.get(i) is not None}
        if all(math.hypot(*m) < REFINE_PX for m in miss.values()) and all(abs(k - 1) < 0.02 for k in scale.values()):
            break
        aim = {i: (aim[i][0] + miss[i][0], aim[i][1] + miss[i][1]) if i in miss else aim[i] for i in aim}
        for i, k in scale.items():
            eye_z, obj_z = pose.eye[2], placed.objects[i].position[2]
            lowest = half_height(first.objects[i]) + 0.01
            z[i] = max(lowest, eye_z + k * (obj_z - eye_z))
    return resolve(placed), notes




def _first_frame_centroids(spec: ShotSpec, which: list[int]) -> dict[int, tuple[float, float, int] | None]:
    """Centroids (x, y) in pixels and areas of objects `which` in the first frame of `spec` (rendered)."""
    from kinora.world.sim import simulate

    one = spec.copy()
    one.duration = 1 / one.fps
    seg = simulate(one).seg[0]
    out: dict[int, tuple[float, float, int] | None] = {}
    for i in which:
        ys, xs = np.nonzero(seg == i)
        out[i] = (float(xs.mean()), float(ys.mean()), len(xs)) if len(xs) else None
    return out


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
