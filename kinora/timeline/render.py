"""The film: every shot's active take, in order, joined into one labeled MP4.

The takes' lossless frames (kinora.timeline.project) are read, checked against the hash
their take recorded, and joined; the film goes through the one writer of generated video
(kinora.label.write_generated_video), so it carries the visible "AI生成" label from its
first frame, the AIGC metadata of GB 45438-2025 for the film as a whole, and in its
provenance one entry per shot: which take, its seed, model, weights and frame range.
A crossfade into a shot (kinora.timeline.edits.crossfade) overlaps the two shots by its
length and dissolves linearly, so the film is that much shorter.
A film is written under a claim (kinora.io.atomic.claim_output): an existing file is
replaced only with `force`, and nothing half-written is ever left at the path.

    from kinora.timeline.render import render
    result = render("film", "out/film.mp4")
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kinora.errors import KinoraError
from kinora.timeline.project import Project


def dissolve(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """A linear dissolve from frames a to frames b (both (n, H, W, 3) uint8): b's weight rises
    from 1/(n+1) to n/(n+1), so neither end repeats a frame of the shots it joins."""
    n = len(a)
    w = (np.arange(1, n + 1, dtype=np.float32) / (n + 1))[:, None, None, None]  # (n, 1, 1, 1)
    return np.round(a.astype(np.float32) * (1 - w) + b.astype(np.float32) * w).astype(np.uint8)


@dataclass
class RenderResult:
    path: Path
    frames: int
    fps: int
    shots: list[dict]  # per shot: id, take, first and last frame in the film


def make_missing_takes(folder: str | os.PathLike, resume: bool = False) -> list[str]:
    """Generate the first take of every planned shot that has none, one saved revision each.
    A long take keeps its finished windows in takes/.SHOT.progress.npz; with `resume` a render
    killed half-way continues from them (the same frames as an uninterrupted render), without
    it they are dropped and the take starts afresh. Returns the shots that got a take."""
    from kinora.timeline.edits import Generator, first_take

    made = []
    with Project.open(folder, write=True) as p:
        gen = None
        for s in p.doc.shots:
            if s.takes:
                continue
            gen = gen or Generator(p.doc.settings)
            partial = p.path(f"takes/.{s.id}.progress.npz")
            if not resume:
                partial.unlink(missing_ok=True)
            take = first_take(p, s, gen, progress=partial)
            partial.unlink(missing_ok=True)
            p.save(f"shot {s.id}: first take {take.id} made for the render", shot=s.id, take=take.id)
            made.append(s.id)
    return made


def render(folder: str | os.PathLike, out: str | os.PathLike, force: bool = False,
           resume: bool = False) -> RenderResult:
    """Make the takes planned shots still lack (kill-safe, see make_missing_takes), then join
    the active takes into one labeled MP4 at `out`."""
    from kinora.io.atomic import claim_output
    from kinora.label import Provenance, write_generated_video
    from kinora.timeline.edits import take_frames

    out = Path(out)
    if out.suffix.lower() != ".mp4":
        raise KinoraError(f"the film is written as MP4; name the output *.mp4, got {out.name}")
    p = Project.load(folder)
    if not p.doc.shots:
        raise KinoraError(f"{folder} has no shots to render; add one with 'kinora project add'")
    with claim_output(out, force=force):
        if any(not s.takes for s in p.doc.shots):
            make_missing_takes(folder, resume=resume)
            p = Project.load(folder)
        parts, shots, start, notices = [], [], 0, []
        for n, s in enumerate(p.doc.shots, 1):
            take = s.active_take()
            frames = take_frames(p, take)  # refuses a missing or changed take
            if parts and frames.shape[1:] != parts[0].shape[1:]:
                raise KinoraError(f"shot {n} is {frames.shape[2]}x{frames.shape[1]}, the film before it "
                                  f"{parts[0].shape[2]}x{parts[0].shape[1]}; a film has one frame size")
            fade = (s.transition or {}).get("frames", 0) if parts else 0
            if fade:  # the film's last `fade` frames so far dissolve into this shot's first ones
                if fade >= len(parts[-1]):
                    raise KinoraError(f"the crossfades around shot {n - 1} are longer than the shot; shorten one")
                tail, parts[-1] = parts[-1][-fade:], parts[-1][:-fade]
                start -= fade
                frames = frames.copy()
                frames[:fade] = dissolve(tail, frames[:fade])
            parts.append(frames)
            shots.append({"shot": s.id, "take": take.id, "seed": take.seed, "model": take.model,
                          "checkpoint_sha256": take.checkpoint_sha256, "task": take.task,
                          "prompt_sha256": hashlib.sha256(take.prompt.encode("utf-8")).hexdigest(),
                          "frames": [start, start + len(frames) - 1], "crossfade_in": fade,
                          **({"notice": take.notice} if take.notice else {})})
            if take.notice:
                notices.append((start, start + len(frames) - 1))
            start += len(frames)
        film = np.concatenate(parts)  # (T, H, W, 3)
        fps = int(p.doc.settings.get("fps", 8))
        first = p.doc.shots[0].active_take()
        prov = Provenance(model=first.model, checkpoint_sha256=first.checkpoint_sha256, seed=first.seed,
                          prompt="\n".join(s.prompt for s in p.doc.shots),
                          truth_mode=p.doc.settings.get("truth_mode") or "story", task="film",
                          settings={"fps": fps, "frames": int(len(film)), "project_revision": p.doc.revision,
                                    "shots": shots})
        path = write_generated_video(film, out, fps, prov, replace=force, notices=notices)
    return RenderResult(path=path, frames=int(len(film)), fps=fps, shots=shots)
