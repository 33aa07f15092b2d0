"""The micro-world simulator: a ShotSpec in, frames and exact ground truth out.

Physics is pybullet (Bullet) in DIRECT mode; frames come from its CPU TinyRenderer,
so nothing needs a GPU or a display. The scene is a grey checkered floor (the checker
gives camera motion something to be seen against), a white sky, one light with
shadows, and the spec's objects. Physics runs at a fixed sub-step (at least 240 Hz and
a whole number of sub-steps per frame), so the same spec gives the same frames bit for
bit, at any fps.

Ground truth per frame and object comes from the renderer's segmentation buffer
(visibility, 2D box, centroid, pixel area) and the engine's state (3D position and
velocity); events (bounces, collisions, stops) come from the engine's contacts and
velocities at sub-step resolution, reported at the nearest frame.

The simulator's renders are computer graphics, not AI-generated content: they are
written with the plain MP4 writer and never carry an "AI生成" label.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np

from kinora.errors import KinoraError
from kinora.world.spec import COLORS, GRAVITY, MATERIALS, SIZES, SPEEDS, ShotSpec, resolve, validate

ASSETS = Path(__file__).parent / "assets"
LOOK_AT = (0.0, 0.0, 0.3)  # metres; the camera aims just above the middle of the stage
LIGHT_DIRECTION = (0.6, -0.8, 1.6)
MIN_PHYSICS_HZ = 240

# Camera move rates at speed "normal"; scaled by SPEEDS[camera.speed].
PAN_DEG_PER_S = 12.0
ORBIT_DEG_PER_S = 24.0
ZOOM_PER_S = 0.16  # field of view shrinks (zoom in) or grows (zoom out) by e^(rate * t)

# Event detection thresholds (m/s).
BOUNCE_VZ_DOWN = -0.4  # falling at least this fast ...
BOUNCE_VZ_UP = 0.15  # ... then rising at least this fast = one bounce
MOVING_SPEED = 0.25
REST_SPEED = 0.04
REST_TIME_S = 0.25


@dataclass
class CameraPose:
    eye: tuple[float, float, float]
    target: tuple[float, float, float]
    fov: float


@dataclass
class Clip:
    """Frames of one shot and its ground truth."""

    spec: ShotSpec  # resolved
    frames: np.ndarray  # (T, H, W, 3) uint8
    seg: np.ndarray  # (T, H, W) int8: index into spec.objects, -1 = floor or sky
    truth: dict = field(default_factory=dict)


# ---------------------------------------------------------------------------------
# Camera
# ---------------------------------------------------------------------------------


def camera_pose(spec: ShotSpec, t: float) -> CameraPose:
    """Where the camera is at time t (seconds) for the spec's camera move."""
    cam = spec.camera
    k = SPEEDS[cam.speed]
    el = math.radians(cam.elevation)
    yaw = 0.0  # 0: the camera stands on the -y side looking towards +y
    fov = cam.fov
    look_yaw = 0.0  # pan turns the camera in place
    if cam.motion == "orbit_left":
        yaw = -math.radians(ORBIT_DEG_PER_S * k * t)
    elif cam.motion == "orbit_right":
        yaw = math.radians(ORBIT_DEG_PER_S * k * t)
    elif cam.motion == "pan_left":
        look_yaw = math.radians(PAN_DEG_PER_S * k * t)
    elif cam.motion == "pan_right":
        look_yaw = -math.radians(PAN_DEG_PER_S * k * t)
    elif cam.motion == "zoom_in":
        fov = max(15.0, cam.fov * math.exp(-ZOOM_PER_S * k * t))
    elif cam.motion == "zoom_out":
        fov = min(100.0, cam.fov * math.exp(ZOOM_PER_S * k * t))
    # Orbit: the eye circles the look-at point; yaw > 0 moves the eye to the right.
    ex = LOOK_AT[0] + cam.distance * math.cos(el) * math.sin(yaw)
    ey = LOOK_AT[1] - cam.distance * math.cos(el) * math.cos(yaw)
    ez = LOOK_AT[2] + cam.distance * math.sin(el)
    eye = (ex, ey, ez)
    if look_yaw == 0.0:
        return CameraPose(eye, LOOK_AT, fov)
    # Pan: rotate the viewing direction about the vertical axis through the eye;
    # look_yaw > 0 turns left (counter-clockwise seen from above).
    dx, dy, dz = (LOOK_AT[0] - ex, LOOK_AT[1] - ey, LOOK_AT[2] - ez)
    c, s = math.cos(look_yaw), math.sin(look_yaw)
    target = (ex + c * dx - s * dy, ey + s * dx + c * dy, ez + dz)
    return CameraPose(eye, target, fov)


def project(pose: CameraPose, width: int, height: int, point) -> tuple[float, float, float]:
    """Pixel coordinates (x right, y down) and depth of a 3D point; depth <= 0 is behind."""
    # Plain floats: this runs for every object in every frame, where numpy's per-call
    # overhead costs more than the arithmetic.
    ex, ey, ez = pose.eye
    fx, fy, fz = pose.target[0] - ex, pose.target[1] - ey, pose.target[2] - ez
    n = math.sqrt(fx * fx + fy * fy + fz * fz)
    fx, fy, fz = fx / n, fy / n, fz / n
    rx, ry = fy, -fx  # right = forward x up(0, 0, 1)
    n = math.hypot(rx, ry)
    rx, ry = rx / n, ry / n
    # up = right x forward
    ux = ry * fz
    uy = -rx * fz
    uz = rx * fy - ry * fx
    dx, dy, dz = point[0] - ex, point[1] - ey, point[2] - ez
    z = dx * fx + dy * fy + dz * fz
    if z <= 1e-6:
        return float("nan"), float("nan"), z
    f = (height / 2) / math.tan(math.radians(pose.fov) / 2)
    x = width / 2 + f * (dx * rx + dy * ry) / z
    y = height / 2 - f * (dx * ux + dy * uy + dz * uz) / z
    # Pixel centres are at +0.5; a point at the image centre lies between pixels.
    return x - 0.5, y - 0.5, z


# ---------------------------------------------------------------------------------
# The world
# ---------------------------------------------------------------------------------


# Connecting to pybullet costs more than simulating a short clip, so finished sessions
# are reset and kept for the next World in the same process (one per live World).
_FREE_CLIENTS: list[tuple[int, int]] = []  # (pid, client id)


def _take_client(pb) -> int:
    import os

    while _FREE_CLIENTS:
        pid, cid = _FREE_CLIENTS.pop()
        if pid == os.getpid():  # a forked child must not share its parent's session
            return cid
    return pb.connect(pb.DIRECT)


class World:
    """One pybullet DIRECT session holding a resolved ShotSpec."""

    def __init__(self, spec: ShotSpec):
        import pybullet as pb

        self.pb = pb
        self.spec = spec
        self.cid = _take_client(pb)
        self.substeps = max(1, math.ceil(MIN_PHYSICS_HZ / spec.fps))
        self.dt = 1.0 / (spec.fps * self.substeps)
        pb.resetSimulation(physicsClientId=self.cid)
        pb.setGravity(0, 0, -GRAVITY, physicsClientId=self.cid)
        pb.setPhysicsEngineParameter(fixedTimeStep=self.dt, numSolverIterations=50,
                                     deterministicOverlappingPairs=1, physicsClientId=self.cid)
        self.floor = self._make_floor()
        self.bodies: list[int] = [self._make_body(o) for o in spec.objects]
        self.body_index = {b: i for i, b in enumerate(self.bodies)}
        # Objects that start later ("one after another") are held in their initial pose,
        # at rest, until their start; then they get their initial velocity.
        self.waiting = {j: o for j, o in enumerate(spec.objects) if o.start > 0}
        self.t = 0.0
        for j in self.waiting:
            pb.resetBaseVelocity(self.bodies[j], [0, 0, 0], [0, 0, 0], physicsClientId=self.cid)

    def close(self) -> None:
        import os

        if self.cid is not None:
            self.pb.resetSimulation(physicsClientId=self.cid)
            _FREE_CLIENTS.append((os.getpid(), self.cid))
            self.cid = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _make_floor(self) -> int:
        pb, cid = self.pb, self.cid
        col = pb.createCollisionShape(pb.GEOM_PLANE, physicsClientId=cid)
        vis = pb.createVisualShape(pb.GEOM_MESH, fileName=str(ASSETS / "floor.obj"), physicsClientId=cid)
        body = pb.createMultiBody(0, col, vis, physicsClientId=cid)
        tex = pb.loadTexture(str(ASSETS / "floor.png"), physicsClientId=cid)
        pb.changeVisualShape(body, -1, textureUniqueId=tex, rgbaColor=[1, 1, 1, 1], physicsClientId=cid)
        # Bullet multiplies the two bodies' restitution and lateral friction, so the
        # floor's restitution is neutral (1.0) and each object's material decides; the
        # floor's friction halves every material's so that slides travel visibly. Bullet
        # adds rolling friction across the pair, so the floor contributes none.
        pb.changeDynamics(body, -1, restitution=1.0, lateralFriction=0.5, rollingFriction=0.0,
                          spinningFriction=0.0, physicsClientId=cid)
        return body

    def _make_body(self, o) -> int:
        pb, cid = self.pb, self.cid
        s = SIZES[o.size]["scale"]
        rgba = [*COLORS[o.color]["rgb"], 1.0]
        if o.shape == "sphere":
            col = pb.createCollisionShape(pb.GEOM_SPHERE, radius=s, physicsClientId=cid)
            vis = pb.createVisualShape(pb.GEOM_SPHERE, radius=s, rgbaColor=rgba, physicsClientId=cid)
            volume = 4 / 3 * math.pi * s**3
        elif o.shape == "cube":
            col = pb.createCollisionShape(pb.GEOM_BOX, halfExtents=[s] * 3, physicsClientId=cid)
            vis = pb.createVisualShape(pb.GEOM_BOX, halfExtents=[s] * 3, rgbaColor=rgba, physicsClientId=cid)
            volume = 8 * s**3
        else:  # cylinder, axis along its local z
            h = 2.2 * s
            col = pb.createCollisionShape(pb.GEOM_CYLINDER, radius=s, height=h, physicsClientId=cid)
            vis = pb.createVisualShape(pb.GEOM_CYLINDER, radius=s, length=h, rgbaColor=rgba, physicsClientId=cid)
            volume = math.pi * s**2 * h
        m = MATERIALS[o.material]
        body = pb.createMultiBody(m["density"] * 1000 * volume, col, vis, basePosition=o.position,
                                  baseOrientation=o.orientation, physicsClientId=cid)
        pb.changeDynamics(body, -1, restitution=m["restitution"], lateralFriction=m["friction"],
                          rollingFriction=m["rolling_friction"], spinningFriction=m["rolling_friction"],
                          linearDamping=0.02, angularDamping=0.02, physicsClientId=cid)
        pb.resetBaseVelocity(body, o.velocity, o.angular_velocity, physicsClientId=cid)
        return body

    # --- state -----------------------------------------------------------------------
    def step(self) -> None:
        """One physics sub-step, keeping waiting objects in place until their start."""
        pb, cid = self.pb, self.cid
        pb.stepSimulation(physicsClientId=cid)
        self.t += self.dt
        for j, o in list(self.waiting.items()):
            b = self.bodies[j]
            if self.t + 1e-9 >= o.start:
                pb.resetBasePositionAndOrientation(b, o.position, o.orientation, physicsClientId=cid)
                pb.resetBaseVelocity(b, o.velocity, o.angular_velocity, physicsClientId=cid)
                del self.waiting[j]
            else:
                pb.resetBasePositionAndOrientation(b, o.position, o.orientation, physicsClientId=cid)
                pb.resetBaseVelocity(b, [0, 0, 0], [0, 0, 0], physicsClientId=cid)

    def step_frame(self) -> None:
        for _ in range(self.substeps):
            self.step()

    def states(self) -> list[tuple[tuple, tuple, tuple]]:
        """(position, orientation, linear velocity) of every object."""
        out = []
        for b in self.bodies:
            pos, orn = self.pb.getBasePositionAndOrientation(b, physicsClientId=self.cid)
            vel, _ = self.pb.getBaseVelocity(b, physicsClientId=self.cid)
            out.append((pos, orn, vel))
        return out

    def render(self, pose: CameraPose, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
        """RGB (H, W, 3) uint8 and segmentation (H, W) int8 (object index, -1 = none)."""
        pb = self.pb
        view = pb.computeViewMatrix(pose.eye, pose.target, [0, 0, 1], physicsClientId=self.cid)
        proj = pb.computeProjectionMatrixFOV(pose.fov, width / height, 0.05, 60.0, physicsClientId=self.cid)
        _, _, rgba, _, seg = pb.getCameraImage(
            width, height, view, proj, renderer=pb.ER_TINY_RENDERER, shadow=1,
            lightDirection=LIGHT_DIRECTION, lightAmbientCoeff=0.55, lightDiffuseCoeff=0.5,
            lightSpecularCoeff=0.05, physicsClientId=self.cid,
        )
        rgb = np.asarray(rgba, dtype=np.uint8).reshape(height, width, 4)[:, :, :3]
        seg = np.asarray(seg, dtype=np.int32).reshape(height, width)
        lut = np.full(max(self.bodies + [self.floor]) + 2, -1, dtype=np.int8)
        for b, i in self.body_index.items():
            lut[b] = i
        idx = lut[np.clip(seg, -1, len(lut) - 2)]  # seg -1 (sky) hits the last entry, which is -1
        return np.ascontiguousarray(rgb), idx

    def isolated_areas(self, pose: CameraPose, width: int, height: int) -> list[int]:
        """Pixel area of each object rendered alone (for measuring occlusion)."""
        pb, cid = self.pb, self.cid
        saved = [(pb.getBasePositionAndOrientation(b, physicsClientId=cid),
                  pb.getBaseVelocity(b, physicsClientId=cid)) for b in self.bodies]
        areas = []
        for i in range(len(self.bodies)):
            for j, other in enumerate(self.bodies):
                if j != i:  # park the others far below the floor, out of view
                    pb.resetBasePositionAndOrientation(other, [0, 0, -50 - 3 * j], [0, 0, 0, 1], physicsClientId=cid)
            _, seg = self.render(pose, width, height)
            areas.append(int((seg == i).sum()))
            for j, other in enumerate(self.bodies):
                (pos, orn), (lin, ang) = saved[j]
                pb.resetBasePositionAndOrientation(other, pos, orn, physicsClientId=cid)
                pb.resetBaseVelocity(other, lin, ang, physicsClientId=cid)
        return areas

    def contacts(self) -> tuple[set[tuple[int, int]], set[int]]:
        """Pairs of object indices touching each other, and objects touching the floor."""
        pairs, on_floor = set(), set()
        for c in self.pb.getContactPoints(physicsClientId=self.cid):
            a, b = self.body_index.get(c[1]), self.body_index.get(c[2])
            if a is not None and b is not None:
                pairs.add((min(a, b), max(a, b)))
            elif a is not None and c[2] == self.floor:
                on_floor.add(a)
            elif b is not None and c[1] == self.floor:
                on_floor.add(b)
        return pairs, on_floor


# ---------------------------------------------------------------------------------
# Simulation
# ---------------------------------------------------------------------------------


def iter_frames(spec: ShotSpec, isolated: bool = False) -> Iterator[tuple[np.ndarray, np.ndarray, dict]]:
    """Yield (rgb, seg, per-frame truth) for every frame of `spec` (resolved here).

    Frame i shows the world at t = i / fps. Event detection runs at every physics
    sub-step between frames and is reported in the per-frame dict under "events".
    """
    spec = spec if _is_resolved(spec) else resolve(spec)
    n = len(spec.objects)
    with World(spec) as world:
        prev_vz = [0.0] * n
        moving = [False] * n
        rest_since: list[float | None] = [None] * n
        stopped = [False] * n
        initial_pairs, _ = world.contacts()
        touching = set(initial_pairs)

        def frame_of(ts: float) -> int:  # events are reported at the nearest frame
            return int(round(ts * spec.fps))
        for i in range(spec.num_frames):
            t = i / spec.fps
            events: list[dict] = []
            if i > 0:
                for k in range(world.substeps):
                    world.step()
                    ts = (i - 1) / spec.fps + (k + 1) * world.dt
                    pairs, _ = world.contacts()
                    for pair in sorted(pairs - touching):
                        events.append({"type": "collision",
                                       "objects": [spec.objects[pair[0]].id, spec.objects[pair[1]].id],
                                       "frame": frame_of(ts), "time": round(ts, 4)})
                    touching = pairs
                    for j, (_, _, vel) in enumerate(world.states()):
                        vz = vel[2]
                        if prev_vz[j] < BOUNCE_VZ_DOWN and vz > BOUNCE_VZ_UP:
                            events.append({"type": "bounce", "object": spec.objects[j].id,
                                           "frame": frame_of(ts), "time": round(ts, 4)})
                        prev_vz[j] = vz
                        speed = math.sqrt(vel[0] ** 2 + vel[1] ** 2 + vel[2] ** 2)
                        if speed > MOVING_SPEED:
                            moving[j], rest_since[j], stopped[j] = True, None, False
                        elif speed < REST_SPEED and moving[j] and not stopped[j]:
                            if rest_since[j] is None:
                                rest_since[j] = ts
                            elif ts - rest_since[j] >= REST_TIME_S:
                                stopped[j] = True
                                events.append({"type": "stop", "object": spec.objects[j].id,
                                               "frame": frame_of(rest_since[j]), "time": round(rest_since[j], 4)})
                        elif speed >= REST_SPEED:
                            rest_since[j] = None
            else:
                for j, (_, _, vel) in enumerate(world.states()):
                    prev_vz[j] = vel[2]
                    if math.sqrt(sum(v * v for v in vel)) > MOVING_SPEED:
                        moving[j] = True
            pose = camera_pose(spec, t)
            rgb, seg = world.render(pose, spec.width, spec.height)
            objs = []
            states = world.states()
            full = world.isolated_areas(pose, spec.width, spec.height) if isolated else None
            for j, (pos, orn, vel) in enumerate(states):
                mask = seg == j
                area = int(mask.sum())
                entry = {
                    "id": spec.objects[j].id,
                    "visible": area > 0,
                    "area": area,
                    "bbox": None,
                    "centroid": None,
                    "position": [round(float(v), 5) for v in pos],
                    "orientation": [round(float(v), 5) for v in orn],
                    "velocity": [round(float(v), 5) for v in vel],
                    "projected": [round(v, 3) for v in project(pose, spec.width, spec.height, pos)[:2]],
                }
                if area:
                    ys, xs = np.nonzero(mask)
                    entry["bbox"] = [int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1]
                    entry["centroid"] = [round(float(xs.mean()), 3), round(float(ys.mean()), 3)]
                if full is not None:
                    entry["full_area"] = full[j]
                    entry["occlusion"] = round(1.0 - area / full[j], 4) if full[j] else 1.0
                objs.append(entry)
            cam = {"eye": [round(v, 5) for v in pose.eye], "target": [round(v, 5) for v in pose.target],
                   "fov": round(pose.fov, 4)}
            yield rgb, seg, {"frame": i, "time": round(t, 4), "objects": objs, "camera": cam, "events": events}


def _is_resolved(spec: ShotSpec) -> bool:
    return all(o.position is not None and o.orientation is not None and o.velocity is not None
               and o.angular_velocity is not None for o in spec.objects)


def simulate(spec: ShotSpec, isolated: bool = False) -> Clip:
    """Render a whole shot. `isolated=True` also measures each object's unoccluded area
    (one extra render per object and frame) for occlusion-aware evaluation."""
    validate(spec)
    spec = spec if _is_resolved(spec) else resolve(spec)
    frames, segs, per_frame, events = [], [], [], []
    for rgb, seg, info in iter_frames(spec, isolated=isolated):
        frames.append(rgb)
        segs.append(seg)
        events.extend(info.pop("events"))
        per_frame.append(info)
    truth = {"frames": per_frame, "events": events, "fps": spec.fps,
             "width": spec.width, "height": spec.height, "num_frames": spec.num_frames}
    return Clip(spec=spec, frames=np.stack(frames), seg=np.stack(segs), truth=truth)


RENDER_COMMENT = "Kinora micro-world render (simulated, not AI-generated)"


def render_to_mp4(spec: ShotSpec, path: str | Path) -> Path:
    """Simulate `spec` and write it as an (unlabeled: computer graphics) MP4."""
    from kinora.io.video import write_mp4

    clip = simulate(spec)
    return write_mp4(clip.frames, path, spec.fps, metadata={"comment": RENDER_COMMENT})


def render_files(spec: ShotSpec, out: str | Path, truth: str | Path | None = None, force: bool = False) -> Path:
    """`kinora world render`: the simulator's MP4 of `spec` at `out` and, when `truth` is
    given, its ground truth (the resolved spec and every object's state per frame) as
    JSON. An existing file is replaced only with `force`; both are claimed first."""
    import contextlib

    from kinora.io.atomic import claim_output, write_json_atomic
    from kinora.io.video import write_mp4

    if Path(out).suffix.lower() != ".mp4":
        raise KinoraError(f"output {str(out)!r} must end in .mp4")
    if truth is not None and Path(truth).resolve() == Path(out).resolve():
        raise KinoraError("--truth must be another file than the video")
    with contextlib.ExitStack() as claims:
        claims.enter_context(claim_output(out, force=force))
        if truth is not None:
            claims.enter_context(claim_output(truth, force=force))
        clip = simulate(spec)
        path = write_mp4(clip.frames, out, spec.fps, metadata={"comment": RENDER_COMMENT})
        if truth is not None:
            write_json_atomic(truth, {"spec": clip.spec.to_dict(), "truth": clip.truth})
    return path

