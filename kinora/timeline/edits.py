"""Project operations: each one call, each a new take or a new revision, none destructive.

    from kinora.timeline import edits
    edits.new_project("film", ["a red ball rolls left", "一个蓝色的方块掉下来"], seconds=4)
    edits.regenerate("film", shot=1, seed=7)          # a new take of shot 1 with another seed
    edits.reprompt("film", shot=2, prompt="a blue cube slides right")
    edits.use("film", shot=1, take=1)                  # the film goes back to take 1 of shot 1
    edits.undo("film")                                 # the previous revision's shots and takes

Every generating operation runs the same pipeline call `kinora generate` makes
(kinora.pipelines.kinora), writes the take's frames losslessly and its labeled MP4 under
fresh names (kinora.timeline.project), records how to make it again, makes it the shot's
active take and saves a new revision. The project's lock is held from the first read to
the save, so two processes never interleave their changes. A failure before the save
changes nothing the document points to (a take's files without a document entry are
harmless and named so the next take does not reuse them).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from kinora.errors import KinoraError
from kinora.pipelines.base import require_task
from kinora.timeline.project import Project, Shot, Take, now

DEFAULT_SETTINGS = {"backend": "kinora", "model": None, "physics": False, "truth_mode": "story", "precision": "auto",
                    "threads": None, "steps": None, "guidance": None}


# ---------------------------------------------------------------------------------
# Generation into takes
# ---------------------------------------------------------------------------------


class Generator:
    """The project's generator (kinora.pipelines.base: Kinora's model or an adapter) at the
    project's settings, loaded when first needed."""

    def __init__(self, settings: dict):
        self.settings = settings

    @property
    def pipe(self):
        from kinora.pipelines.base import load_generator  # one load per process, not per edit

        return load_generator(self.settings.get("backend") or "kinora", self.settings.get("model"),
                              self.settings.get("precision") or "auto")

    def __call__(self, prompt: str, seed: int, **kw):  # kw: the pipeline's (num_frames, video, progress_file, ...)
        import torch

        threads = self.settings.get("threads")
        before = torch.get_num_threads()
        if threads:
            torch.set_num_threads(threads)
        try:
            return self.pipe(prompt, num_inference_steps=self.settings.get("steps"),
                             guidance_scale=self.settings.get("guidance"),
                             generator=torch.Generator().manual_seed(int(seed)),
                             physics=bool(self.settings.get("physics")), **kw)
        finally:
            torch.set_num_threads(before)


def write_take(project: Project, shot: Shot, output, gen: Generator, edit: dict, parent: str | None) -> Take:
    """A generation's frames as the shot's next, active take; not yet saved."""
    from kinora.pipelines.generate import provenance_of

    fps = gen.pipe.default_fps
    return store_take(project, shot, output.frames[0], provenance_of(output, gen.pipe, fps, gen.settings["truth_mode"]),
                      settings={**output.settings, "fps": fps}, edit=edit, parent=parent)


def store_take(project: Project, shot: Shot, frames: np.ndarray, prov, settings: dict, edit: dict,
               parent: str | None) -> Take:
    """Frames (T, H, W, 3) uint8 as the shot's next, active take: lossless frames and a labeled MP4
    with provenance `prov` (kinora.label.Provenance), both under fresh names; not yet saved."""
    from kinora.io.atomic import atomic_path
    from kinora.io.hashing import sha256_file
    from kinora.label import write_generated_video

    tid = shot.next_take_id()
    name = f"{shot.id}-{tid}"
    while project.path(f"takes/{name}.npz").exists():  # files of a take whose save never happened
        tid = f"t{int(tid[1:]) + 1}"
        name = f"{shot.id}-{tid}"
    npz = project.path(f"takes/{name}.npz")
    with atomic_path(npz, replace=False) as tmp:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, frames=frames)
    write_generated_video(frames, project.path(f"takes/{name}.mp4"), int(settings["fps"]), prov)
    take = Take(id=tid, frames=f"takes/{name}.npz", preview=f"takes/{name}.mp4", num_frames=int(frames.shape[0]),
                sha256=sha256_file(npz), task=prov.task, seed=int(prov.seed), model=prov.model,
                checkpoint_sha256=prov.checkpoint_sha256, settings=dict(settings), parent=parent, edit=edit,
                prompt=prov.prompt, created=now())
    shot.takes.append(take)
    shot.active = take.id
    return take


def cut_take(project: Project, shot: Shot, take: Take, start: int, end: int, edit: dict) -> Take:
    """Frames start..end-1 of `take`, copied bit for bit, as the shot's next, active take (no generation)."""
    from kinora.label import Provenance

    frames = take_frames(project, take)[start:end]
    prov = Provenance(model=take.model, checkpoint_sha256=take.checkpoint_sha256, seed=take.seed, prompt=take.prompt,
                      truth_mode=project.doc.settings.get("truth_mode") or "story", task="edit",
                      settings={**take.settings, "frames": int(len(frames)), "cut_from": take.id,
                                "cut": [start, end]})
    return store_take(project, shot, frames, prov, {**take.settings, "frames": int(len(frames))}, edit, take.id)


def take_frames(project: Project, take: Take) -> np.ndarray:
    """A take's frames (T, H, W, 3) uint8, refused if the file is missing or changed since it was made."""
    from kinora.io.hashing import sha256_file

    path = project.path(take.frames)
    if not path.exists():
        raise KinoraError(f"{path} is missing: take {take.id}'s frames are gone; choose another take with "
                          f"'kinora project use'")
    if sha256_file(path) != take.sha256:
        raise KinoraError(f"{path} changed since take {take.id} was made; Kinora never uses a changed take "
                          f"(restore the file, or choose another take)")
    with np.load(path) as z:
        return z["frames"]


def _check_seconds(seconds: float | None) -> None:
    from kinora.defaults import MAX_SECONDS

    if seconds is not None and not (0 < seconds <= MAX_SECONDS):
        raise KinoraError(f"--seconds {seconds:g} is out of range; use more than 0 and at most {MAX_SECONDS:g}")


def _plan_shot(project: Project, gen: Generator, prompt: str, seconds: float | None, seed: int,
               source: dict | None = None) -> Shot:
    """A shot read from its prompt (the plan), without a take yet."""
    if not isinstance(prompt, str) or not prompt.strip():
        raise KinoraError("a shot's prompt is empty; describe it, e.g. \"a red ball bounces on the floor\"")
    fps = gen.pipe.default_fps
    plan = gen.pipe.plan_prompt(prompt, seconds)
    n = max(1, int(round(min(plan.spec.duration if seconds is None else seconds, 60.0) * fps)))
    return Shot(id=project.new_shot_id(), prompt=prompt, seconds=n / fps, spec=plan.spec.to_dict(), source=source,
                seed=seed)


def first_take(project: Project, shot: Shot, gen: Generator, progress: Path | None = None) -> Take:
    """The shot's first take, from its prompt and planned seed and length; `progress` keeps
    its finished windows so a killed render resumes (kinora.pipelines.kinora)."""
    fps = gen.pipe.default_fps
    out = gen(shot.prompt, shot.seed, num_frames=max(1, int(round(shot.seconds * fps))), progress_file=progress)
    shot.spec = out.spec.to_dict() if out.spec is not None else shot.spec
    return write_take(project, shot, out, gen, {"kind": "generate"}, parent=None)


def _new_shot(project: Project, gen: Generator, prompt: str, seconds: float | None, seed: int,
              source: dict | None = None) -> Shot:
    shot = _plan_shot(project, gen, prompt, seconds, seed, source)
    first_take(project, shot, gen)
    return shot


# ---------------------------------------------------------------------------------
# The operations
# ---------------------------------------------------------------------------------


def new_project(folder: str | os.PathLike, prompts: list[str], seconds: float | None = None, seed: int = 0,
                generate: bool = True, **settings) -> Project:
    """A project with one shot per prompt, each with its first take (seeds seed, seed + 1, ...);
    generate=False plans the shots only, and the film's render makes their takes (resumably)."""
    unknown = set(settings) - set(DEFAULT_SETTINGS)
    if unknown:
        raise KinoraError(f"unknown project settings {sorted(unknown)}; known: {sorted(DEFAULT_SETTINGS)}")
    if not prompts:
        raise KinoraError("a project needs at least one shot: give --prompt \"...\" once per shot")
    _check_seconds(seconds)
    for p in prompts:
        if not isinstance(p, str) or not p.strip():
            raise KinoraError("a shot's prompt is empty; describe it, e.g. \"a red ball bounces on the floor\"")
    folder = Path(folder)
    gen = Generator({**DEFAULT_SETTINGS, **settings})
    pipe = gen.pipe  # load (and fail on a bad --model) before the folder is made
    existed = folder.exists()
    Project.create(folder, {**DEFAULT_SETTINGS, **settings, "fps": pipe.default_fps,
                            "width": pipe.default_width, "height": pipe.default_height})
    try:
        with Project.open(folder, write=True) as p:
            for k, prompt in enumerate(prompts):
                make = _new_shot if generate else _plan_shot
                p.doc.shots.append(make(p, gen, prompt, seconds, seed + k, source={"text": prompt, "prompt_index": k}))
            p.save(f"{len(prompts)} shot(s) {'generated' if generate else 'planned'}",
                   shots=[s.id for s in p.doc.shots])
            return p
    except BaseException:
        # A project that could not be made is not left half-made: only what this call created goes.
        import shutil

        if existed:
            for child in folder.iterdir():
                shutil.rmtree(child) if child.is_dir() else child.unlink()
        else:
            shutil.rmtree(folder, ignore_errors=True)
        raise


def regenerate(folder: str | os.PathLike, shot: int, seed: int | None = None) -> Take:
    """A new take of the shot from its prompt with another seed (default: one no take has used)."""
    with Project.open(folder, write=True) as p:
        s = p.shot(shot)
        parent = s.active_take()
        used = {t.seed for t in s.takes}
        seed = seed if seed is not None else next(k for k in range(parent.seed + 1, parent.seed + 10_000)
                                                  if k not in used)
        gen = Generator(p.doc.settings)
        out = gen(s.prompt, seed, num_frames=parent.num_frames)
        take = write_take(p, s, out, gen, {"kind": "regenerate", "seed": seed}, parent=parent.id)
        p.save(f"shot {shot}: regenerated as take {take.id} (seed {seed})", shot=s.id, take=take.id)
        return take


def reprompt(folder: str | os.PathLike, shot: int, prompt: str, seed: int | None = None) -> Take:
    """A new take of the shot from a new prompt (same length; the shot's plan becomes the new one)."""
    if not isinstance(prompt, str) or not prompt.strip():
        raise KinoraError("the new prompt is empty; describe the shot, e.g. \"a blue cube slides right\"")
    with Project.open(folder, write=True) as p:
        s = p.shot(shot)
        parent = s.active_take()
        seed = parent.seed if seed is None else seed
        gen = Generator(p.doc.settings)
        out = gen(prompt, seed, num_frames=parent.num_frames)
        take = write_take(p, s, out, gen, {"kind": "reprompt", "prompt": prompt, "from": s.prompt}, parent=parent.id)
        s.prompt, s.spec = prompt, out.spec.to_dict() if out.spec is not None else {}
        p.save(f"shot {shot}: re-prompted as take {take.id}", shot=s.id, take=take.id)
        return take


def use(folder: str | os.PathLike, shot: int, take: int | str) -> Take:
    """Make `take` the shot's active take (the one the film shows)."""
    with Project.open(folder, write=True) as p:
        s = p.shot(shot)
        t = s.take(take)
        take_frames(p, t)  # refuse a take whose frames are gone or changed
        if s.active == t.id:
            return t
        s.active = t.id
        p.save(f"shot {shot}: take {t.id} is active", shot=s.id, take=t.id)
        return t


def undo(folder: str | os.PathLike, revision: int | None = None) -> tuple[int, int]:
    """Bring back the previous revision (or `revision`) as a new revision; (its number, the one brought back)."""
    with Project.open(folder, write=True) as p:
        target = p.doc.revision - 1 if revision is None else revision
        if target < 1:
            raise KinoraError("nothing to undo: this is the project's first revision")
        return p.restore(target), target


def add_shot(folder: str | os.PathLike, prompt: str, at: int | None = None, seconds: float | None = None,
             seed: int = 0) -> Shot:
    """A new shot with its first take, inserted before shot `at` (default: at the end)."""
    _check_seconds(seconds)
    with Project.open(folder, write=True) as p:
        n = len(p.doc.shots)
        at = n + 1 if at is None else at
        if isinstance(at, bool) or not isinstance(at, int) or not 1 <= at <= n + 1:
            raise KinoraError(f"--at {at} is out of range; a shot can go at 1 to {n + 1}")
        s = _new_shot(p, Generator(p.doc.settings), prompt, seconds, seed, source={"text": prompt})
        p.doc.shots.insert(at - 1, s)
        p.save(f"shot {s.id} added at {at}", shot=s.id)
        return s


def delete_shot(folder: str | os.PathLike, shot: int) -> Shot:
    """Take the shot out of the film (its takes stay on disk and in earlier revisions)."""
    with Project.open(folder, write=True) as p:
        s = p.shot(shot)
        if len(p.doc.shots) == 1:
            raise KinoraError("a project keeps at least one shot; add another before deleting this one")
        p.doc.shots.remove(s)
        p.save(f"shot {shot} ({s.id}) deleted", shot=s.id)
        return s


def move_shot(folder: str | os.PathLike, shot: int, to: int) -> None:
    """Move shot `shot` to position `to` (both counted from 1)."""
    with Project.open(folder, write=True) as p:
        s = p.shot(shot)
        n = len(p.doc.shots)
        if isinstance(to, bool) or not isinstance(to, int) or not 1 <= to <= n:
            raise KinoraError(f"--to {to} is out of range; the project has shots 1 to {n}")
        if shot == to:
            return
        p.doc.shots.remove(s)
        p.doc.shots.insert(to - 1, s)
        p.save(f"shot {shot} moved to {to}", shot=s.id)


def _frame_of(p: Project, take: Take, seconds: float, what: str) -> int:
    """A time in the take (seconds) as a frame index; refused outside the take."""
    fps = int(p.doc.settings.get("fps", 8))
    top = take.num_frames
    if not np.isfinite(seconds) or not 0 <= int(round(seconds * fps)) <= top:
        raise KinoraError(f"{what} {seconds:g} s is outside the take (0 to {top / fps:g} s)")
    return int(round(seconds * fps))


def trim(folder: str | os.PathLike, shot: int, start: float = 0.0, end: float | None = None) -> Take:
    """A new take of the shot: its active take from `start` to `end` seconds, frames copied bit for bit."""
    with Project.open(folder, write=True) as p:
        s = p.shot(shot)
        t = s.active_take()
        a = _frame_of(p, t, start, "--start")
        b = t.num_frames if end is None else _frame_of(p, t, end, "--end")
        if b <= a:
            raise KinoraError(f"--end must come after --start (got {start:g} s to {end:g} s)")
        if (a, b) == (0, t.num_frames):
            raise KinoraError("that trim keeps the whole take; give --start or --end inside it")
        take = cut_take(p, s, t, a, b, {"kind": "trim", "start": start, "end": end, "frames": [a, b]})
        s.seconds = take.num_frames / int(p.doc.settings.get("fps", 8))
        p.save(f"shot {shot}: trimmed to frames {a}..{b - 1} as take {take.id}", shot=s.id, take=take.id)
        return take


def split(folder: str | os.PathLike, shot: int, at: float) -> tuple[Take, Shot]:
    """Cut the shot in two at `at` seconds: the shot keeps what comes before (a new take), and a
    new shot right after it holds the rest (its first take); both frames copied bit for bit."""
    import copy

    with Project.open(folder, write=True) as p:
        s = p.shot(shot)
        t = s.active_take()
        k = _frame_of(p, t, at, "--at")
        if not 0 < k < t.num_frames:
            raise KinoraError(f"--at {at:g} s must fall inside the take, not at its ends")
        fps = int(p.doc.settings.get("fps", 8))
        rest = Shot(id=p.new_shot_id(), prompt=s.prompt, seconds=(t.num_frames - k) / fps, spec=copy.deepcopy(s.spec),
                    source={**(s.source or {}), "split_from": s.id, "at": at})
        second = cut_take(p, rest, t, k, t.num_frames, {"kind": "split", "from": f"{s.id}/{t.id}", "frames": [k, None]})
        second.parent = f"{s.id}/{t.id}"
        first = cut_take(p, s, t, 0, k, {"kind": "split", "at": at, "frames": [0, k], "rest": rest.id})
        s.seconds = k / fps
        p.doc.shots.insert(p.doc.shots.index(s) + 1, rest)
        p.save(f"shot {shot}: split at {at:g} s into {s.id} and {rest.id}", shot=s.id, take=first.id, new_shot=rest.id)
        return first, rest


# ---------------------------------------------------------------------------------
# Edits that generate inside a region of a take and keep the rest bit for bit
# ---------------------------------------------------------------------------------


def _regenerate_where(p: Project, s: Shot, t: Take, mask: np.ndarray, prompt: str, seed: int | None,
                      edit: dict, spec: dict | None = None) -> Take:
    """A new take: `t` with the pixels where `mask` (T, H, W) is True made again from `prompt`.
    The pipeline pastes every other pixel back, so outside the mask the take is `t`, bit for bit."""
    frames = take_frames(p, t)
    if mask.shape != frames.shape[:3]:
        raise KinoraError(f"the edit mask is {mask.shape}, the take {frames.shape[:3]}")
    if not mask.any():
        raise KinoraError("the edit covers no pixel of the take; widen the region or the time span")
    gen = Generator(p.doc.settings)
    seed = t.seed if seed is None else seed
    kw = {"spec": _spec(spec)} if spec is not None else {}
    out = gen(prompt, seed, video=frames, edit_mask=mask, **kw)
    take = write_take(p, s, out, gen, {**edit, "seed": seed, "pixels": int(mask.sum())}, parent=t.id)
    if spec is not None:
        s.spec = spec
    return take


def _spec(d: dict):
    from kinora.world.spec import ShotSpec

    return ShotSpec.from_dict(d)


def inpaint(folder: str | os.PathLike, shot: int, box: tuple[float, float, float, float],
            span: tuple[float, float] | None = None, prompt: str | None = None, seed: int | None = None) -> Take:
    """A new take with the box (fractions of the frame) over the span (seconds; None: all of it)
    made again from `prompt` (default: the shot's); everything else kept bit for bit."""
    from kinora.diffusion.tasks import EditRegion

    region = EditRegion(tuple(box), None if span is None else tuple(span))
    with Project.open(folder, write=True) as p:
        s = p.shot(shot)
        t = s.active_take()
        fps = int(p.doc.settings.get("fps", 8))
        if span is not None and span[1] > t.num_frames / fps + 1e-9:
            raise KinoraError(f"--edit-time {span[0]:g}:{span[1]:g} runs past the take's {t.num_frames / fps:g} s")
        H, W = p.doc.settings.get("height", 64), p.doc.settings.get("width", 64)
        mask = region.pixel_mask(t.num_frames, H, W, fps)
        take = _regenerate_where(p, s, t, mask, prompt or s.prompt, seed,
                                 {"kind": "inpaint", "box": list(box), "span": None if span is None else list(span),
                                  "prompt": prompt})
        p.save(f"shot {shot}: region regenerated as take {take.id}", shot=s.id, take=take.id)
        return take


OBJECT_FIELDS = ("color", "shape", "size", "material")
MASK_GROW_PX = 2  # an object's mask, grown by this many pixels: its soft edge and shading are its pixels too


def object_mask(frames: np.ndarray, color: str, grow: int = MASK_GROW_PX) -> np.ndarray:
    """(T, H, W) bool: the pixels of the objects of `color` in each frame (the analyzer's
    detections), grown by `grow` pixels; frames where none shows are all False."""
    from kinora.verify.detect import detect

    dets, labels, _ = detect(frames, classify=False)
    mask = np.zeros(frames.shape[:3], bool)
    for f, ds in enumerate(dets):
        for d in ds:
            if d.color == color:
                mask[f] |= labels[f] == d.index
    for _ in range(grow):  # one pixel per pass, to the 8 neighbours, within each frame
        m = mask.copy()
        m[:, 1:] |= mask[:, :-1]
        m[:, :-1] |= mask[:, 1:]
        grown = m.copy()
        grown[:, :, 1:] |= m[:, :, :-1]
        grown[:, :, :-1] |= m[:, :, 1:]
        mask = grown
    return mask


def change_object(folder: str | os.PathLike, shot: int, obj: str | int, field: str, value: str,
                  seed: int | None = None) -> Take:
    """"Make the ball green": one attribute of one object of the shot's plan changes, and only
    that object's pixels, over the frames where it shows, are made again; the rest is kept bit
    for bit. `obj`: the object's id in the spec, or its number (from 1)."""
    import copy

    from kinora.world.captions import canonical_caption
    from kinora.world.spec import COLORS, MATERIALS, SHAPES, SIZES, ShotSpec, validate

    allowed = {"color": COLORS, "shape": SHAPES, "size": SIZES, "material": MATERIALS}
    if field not in allowed:
        raise KinoraError(f"cannot change {field!r}; an object's {', '.join(OBJECT_FIELDS)} can be changed")
    if value not in allowed[field]:
        raise KinoraError(f"{value!r} is not a {field} of the world; use one of {', '.join(allowed[field])}")
    with Project.open(folder, write=True) as p:
        s = p.shot(shot)
        t = s.active_take()
        spec = ShotSpec.from_dict(copy.deepcopy(s.spec))
        ids = [o.id for o in spec.objects]
        oid = ids[obj - 1] if isinstance(obj, int) and 1 <= obj <= len(ids) else obj
        if oid not in ids:
            raise KinoraError(f"shot {shot} has no object {obj!r}; its objects are "
                              f"{', '.join(f'{k} ({o.color} {o.shape})' for k, o in enumerate(spec.objects, 1))}")
        o = spec.object(oid)
        old = getattr(o, field)
        if old == value:
            raise KinoraError(f"the {o.color} {o.shape} is already {value}")
        frames = take_frames(p, t)
        grow = MASK_GROW_PX
        if field in ("size", "shape"):  # the object after the change may reach past its old outline
            import math

            r = math.sqrt(object_mask(frames, o.color, grow=0).sum((1, 2)).max() / math.pi)  # its radius, px
            ratio = SIZES[value]["scale"] / SIZES[old]["scale"] if field == "size" else 1.25  # a cube's corners
            grow += max(0, math.ceil(r * (ratio - 1)))
        mask = object_mask(frames, o.color, grow=grow)
        if not mask.any():
            raise KinoraError(f"the {o.color} {o.shape} does not show in take {t.id}, so there is nothing to "
                              "change; re-prompt the shot instead")
        setattr(o, field, value)
        o.source = {**o.source, field: {"edited": True, "was": old}}
        validate(spec)
        take = _regenerate_where(p, s, t, mask, canonical_caption(spec), seed,
                                 {"kind": "change", "object": oid, "field": field, "from": old, "to": value},
                                 spec=spec.to_dict())
        s.prompt = canonical_caption(spec)
        p.save(f"shot {shot}: {old} -> {value} ({field} of {oid}) as take {take.id}", shot=s.id, take=take.id)
        return take


def extend(folder: str | os.PathLike, shot: int, seconds: float, backward: bool = False,
           prompt: str | None = None, seed: int | None = None) -> Take:
    """A new take: the active take with `seconds` more generated after it (or before it), the
    take's own frames kept bit for bit."""
    _check_seconds(seconds)
    with Project.open(folder, write=True) as p:
        s = p.shot(shot)
        t = s.active_take()
        gen = Generator(p.doc.settings)
        require_task(gen.pipe, "extend_backward" if backward else "extend")
        fps = gen.pipe.default_fps
        seed = t.seed if seed is None else seed
        n = max(1, int(round(seconds * fps)))
        kw = {}
        if backward:  # one window holds the new frames and as much of the take as fits as their context
            from kinora.defaults import CONTEXT_FRAMES

            kw["context_frames"] = min(CONTEXT_FRAMES, gen.pipe.window - n, t.num_frames)
            if kw["context_frames"] < 1:
                raise KinoraError(f"a backward extension makes at most {gen.pipe.window - 1} frames "
                                  f"({(gen.pipe.window - 1) / fps:g} s) at a time; extend in steps")
        out = gen(prompt or s.prompt, seed, video=take_frames(p, t), num_frames=n,
                  extend="backward" if backward else "forward", **kw)
        take = write_take(p, s, out, gen, {"kind": "extend", "seconds": seconds, "backward": backward,
                                           "prompt": prompt, "seed": seed}, parent=t.id)
        s.seconds = take.num_frames / fps
        p.save(f"shot {shot}: extended {'backward' if backward else 'forward'} by {seconds:g} s as take {take.id}",
               shot=s.id, take=take.id)
        return take


# ---------------------------------------------------------------------------------
# Between frames: loops, bridges, crossfades
# ---------------------------------------------------------------------------------


def _in_between(gen: Generator, prompt: str, seed: int, first: np.ndarray, last: np.ndarray, n: int):
    """n generated frames that lead from frame `first` to frame `last` (neither included); the output."""
    require_task(gen.pipe, "bridge")
    if n + 2 > gen.pipe.window:
        raise KinoraError(f"an in-between makes at most {gen.pipe.window - 2} frames "
                          f"({(gen.pipe.window - 2) / gen.pipe.default_fps:g} s) at a time")
    out = gen(prompt, seed, image=first, last_image=last, num_frames=n + 2)
    out.frames[0] = out.frames[0][1:-1]
    return out


def loop(folder: str | os.PathLike, shot: int, seconds: float = 1.0, seed: int | None = None) -> Take:
    """A new take that plays seamlessly on repeat: the active take, then `seconds` of generated
    frames that lead from its last frame back to its first (the take's frames kept bit for bit)."""
    _check_seconds(seconds)
    with Project.open(folder, write=True) as p:
        s = p.shot(shot)
        t = s.active_take()
        frames = take_frames(p, t)
        gen = Generator(p.doc.settings)
        fps = gen.pipe.default_fps
        seed = t.seed if seed is None else seed
        out = _in_between(gen, s.prompt, seed, frames[-1], frames[0], max(1, int(round(seconds * fps))))
        out.frames[0] = np.concatenate([frames, out.frames[0]])
        out.task = "loop"
        take = write_take(p, s, out, gen, {"kind": "loop", "seconds": seconds, "seed": seed}, parent=t.id)
        s.seconds = take.num_frames / fps
        p.save(f"shot {shot}: looped as take {take.id}", shot=s.id, take=take.id)
        return take


def bridge(folder: str | os.PathLike, shot: int, seconds: float = 1.0, prompt: str | None = None,
           seed: int | None = None) -> Shot:
    """A new shot between shot `shot` and the next one: generated frames that lead from the end of
    the one to the start of the other (both kept as they are)."""
    _check_seconds(seconds)
    with Project.open(folder, write=True) as p:
        a = p.shot(shot)
        if shot == len(p.doc.shots):
            raise KinoraError(f"shot {shot} is the last one; a bridge goes between two shots")
        b = p.shot(shot + 1)
        ta, tb = a.active_take(), b.active_take()
        gen = Generator(p.doc.settings)
        fps = gen.pipe.default_fps
        seed = ta.seed if seed is None else seed
        prompt = prompt or a.prompt
        out = _in_between(gen, prompt, seed, take_frames(p, ta)[-1], take_frames(p, tb)[0],
                          max(1, int(round(seconds * fps))))
        out.task = "bridge"
        mid = Shot(id=p.new_shot_id(), prompt=prompt, seconds=out.frames[0].shape[0] / fps,
                   spec=out.spec.to_dict() if out.spec is not None else {},
                   source={"bridge": [a.id, b.id]})
        write_take(p, mid, out, gen, {"kind": "bridge", "from": f"{a.id}/{ta.id}", "to": f"{b.id}/{tb.id}",
                                      "seed": seed}, parent=None)
        p.doc.shots.insert(shot, mid)
        p.save(f"bridge {mid.id} between shots {shot} and {shot + 1}", shot=mid.id)
        return mid


def crossfade(folder: str | os.PathLike, shot: int, seconds: float) -> dict:
    """Dissolve from shot `shot` into the next over `seconds` (0 removes it): the two overlap
    and the film is that much shorter; the takes are not touched."""
    with Project.open(folder, write=True) as p:
        a = p.shot(shot)
        if shot == len(p.doc.shots):
            raise KinoraError(f"shot {shot} is the last one; a crossfade goes between two shots")
        b = p.shot(shot + 1)
        fps = int(p.doc.settings.get("fps", 8))
        n = int(round(seconds * fps))
        if n % 2:
            raise KinoraError(f"a crossfade spans an even number of frames, half on each side of the cut; "
                              f"{seconds:g} s is {n} at {fps} fps (use {(n - 1) / fps:g} or {(n + 1) / fps:g} s)")
        shortest = min(a.active_take().num_frames, b.active_take().num_frames)
        if not 0 <= n < shortest:
            raise KinoraError(f"a crossfade of {seconds:g} s is out of range; use 0 to under "
                              f"{shortest / fps:g} s (the shorter shot's length)")
        b.transition = {"kind": "crossfade", "frames": n} if n else None
        p.save(f"crossfade of {n} frames into shot {shot + 1}" if n else f"no crossfade into shot {shot + 1}",
               shot=b.id)
        return b.transition or {}


def restyle(folder: str | os.PathLike, shot: int, prompt: str | None = None, strength: float = 0.6,
            seed: int | None = None) -> Take:
    """A new take: the active take noised to `strength` and denoised from `prompt` (SDEdit;
    default prompt: the shot's). Low strength keeps its layout and motion; 1 is a fresh take."""
    if not (isinstance(strength, (int, float)) and 0 < strength <= 1):
        raise KinoraError(f"--strength {strength!r} is out of range; use more than 0 and at most 1")
    with Project.open(folder, write=True) as p:
        s = p.shot(shot)
        t = s.active_take()
        gen = Generator(p.doc.settings)
        seed = t.seed if seed is None else seed
        out = gen(prompt or s.prompt, seed, video=take_frames(p, t), strength=float(strength))
        take = write_take(p, s, out, gen, {"kind": "restyle", "prompt": prompt, "strength": strength, "seed": seed},
                          parent=t.id)
        if prompt:
            s.prompt, s.spec = prompt, out.spec.to_dict() if out.spec is not None else s.spec
        p.save(f"shot {shot}: restyled at strength {strength:g} as take {take.id}", shot=s.id, take=take.id)
        return take
