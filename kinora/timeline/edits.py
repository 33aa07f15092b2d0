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
from kinora.timeline.project import Project, Shot, Take, now

DEFAULT_SETTINGS = {"model": None, "physics": False, "truth_mode": "story", "precision": "auto", "threads": None,
                    "steps": None, "guidance": None}


# ---------------------------------------------------------------------------------
# Generation into takes
# ---------------------------------------------------------------------------------


class _Generator:
    """The project's pipeline, loaded once per operation, at the project's settings."""

    def __init__(self, settings: dict):
        self.settings = settings
        self._pipe = None

    @property
    def pipe(self):
        if self._pipe is None:
            from kinora.pipelines.kinora import KinoraPipeline

            self._pipe = KinoraPipeline.from_pretrained(self.settings.get("model"),
                                                        precision=self.settings.get("precision") or "auto")
        return self._pipe

    def __call__(self, prompt: str, seed: int, **kw):
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


def write_take(project: Project, shot: Shot, output, gen: _Generator, edit: dict, parent: str | None) -> Take:
    """The output's frames (lossless) and labeled MP4 as the shot's next take; not yet saved."""
    from kinora.io.atomic import atomic_path
    from kinora.io.hashing import sha256_file
    from kinora.label import write_generated_video
    from kinora.pipelines.generate import provenance_of

    tid = shot.next_take_id()
    name = f"{shot.id}-{tid}"
    while project.path(f"takes/{name}.npz").exists():  # files of a take whose save never happened
        tid = f"t{int(tid[1:]) + 1}"
        name = f"{shot.id}-{tid}"
    frames = output.frames[0]
    fps = gen.pipe.default_fps
    npz = project.path(f"takes/{name}.npz")
    with atomic_path(npz, replace=False) as tmp:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, frames=frames)
    mp4 = project.path(f"takes/{name}.mp4")
    write_generated_video(frames, mp4, fps, provenance_of(output, gen.pipe, fps, gen.settings["truth_mode"]))
    take = Take(id=tid, frames=f"takes/{name}.npz", preview=f"takes/{name}.mp4", num_frames=int(frames.shape[0]),
                sha256=sha256_file(npz), task=output.task, seed=int(output.seed), model=gen.pipe.model_name,
                checkpoint_sha256=gen.pipe.checkpoint_sha256, settings={**output.settings, "fps": fps},
                parent=parent, edit=edit, prompt=output.prompt, created=now())
    shot.takes.append(take)
    shot.active = take.id
    return take


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


def _new_shot(project: Project, gen: _Generator, prompt: str, seconds: float | None, seed: int,
              source: dict | None = None) -> Shot:
    if not isinstance(prompt, str) or not prompt.strip():
        raise KinoraError("a shot's prompt is empty; describe it, e.g. \"a red ball bounces on the floor\"")
    fps = gen.pipe.default_fps
    out = gen(prompt, seed, num_frames=None if seconds is None else max(1, int(round(seconds * fps))))
    shot = Shot(id=project.new_shot_id(), prompt=prompt, seconds=out.frames[0].shape[0] / fps,
                spec=out.spec.to_dict() if out.spec is not None else {}, source=source)
    write_take(project, shot, out, gen, {"kind": "generate"}, parent=None)
    return shot


# ---------------------------------------------------------------------------------
# The operations
# ---------------------------------------------------------------------------------


def new_project(folder: str | os.PathLike, prompts: list[str], seconds: float | None = None, seed: int = 0,
                **settings) -> Project:
    """A project with one shot per prompt, each with its first take (seeds seed, seed + 1, ...)."""
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
    gen = _Generator({**DEFAULT_SETTINGS, **settings})
    pipe = gen.pipe  # load (and fail on a bad --model) before the folder is made
    existed = folder.exists()
    Project.create(folder, {**DEFAULT_SETTINGS, **settings, "fps": pipe.default_fps,
                            "width": pipe.default_width, "height": pipe.default_height})
    try:
        with Project.open(folder, write=True) as p:
            for k, prompt in enumerate(prompts):
                p.doc.shots.append(_new_shot(p, gen, prompt, seconds, seed + k,
                                             source={"text": prompt, "prompt_index": k}))
            p.save(f"{len(prompts)} shot(s) generated", shots=[s.id for s in p.doc.shots])
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
        gen = _Generator(p.doc.settings)
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
        gen = _Generator(p.doc.settings)
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
        s = _new_shot(p, _Generator(p.doc.settings), prompt, seconds, seed, source={"text": prompt})
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
