"""A film project: shots in order, takes of each, every change a new revision.

A project is a folder (the layout video editors use for a bin: one document, media beside it):

    DIR/project.json              the current document (format "kinora-project", a schema number)
    DIR/revisions/rNNNNN.json     every earlier document, kept: undo is choosing one again
    DIR/takes/SHOT-TAKE.npz       a take's frames, lossless uint8 (T, H, W, 3) at the model's size:
                                  edits paste pixels back bit for bit, so they must not go through a codec
    DIR/takes/SHOT-TAKE.mp4       the same take as a labeled MP4 (kinora.label), for people and editors
    DIR/.project.json.lock        held (flock) while one process changes the project

A Shot holds its ShotSpec, the prompt and source span it came from, its length and its
takes; a Take records what makes it again bit for bit (generator and weights hash, seed,
steps, guidance, task, precision, threads), its parent take and the edit that made it.
Nothing is ever overwritten: a take's files are written once under a fresh name, and every
operation saves the document as a new revision (the previous one moves to revisions/).

    with Project.open("film", write=True) as p:   # the lock, then the document
        shot = p.shot(1)
        p.save("use take 2 of shot 1")             # a new revision
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from kinora.errors import KinoraError

FORMAT = "kinora-project"
SCHEMA = 1
DOCUMENT = "project.json"


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


@dataclass
class Take:
    id: str  # "t1", "t2", ... unique within its shot
    frames: str  # path of the lossless frames, relative to the project folder
    preview: str  # the labeled MP4, relative
    num_frames: int
    sha256: str  # of the frames file: a take that changed on disk is refused, never used silently
    task: str  # t2v, i2v, extend, inpaint, ... (kinora.diffusion.tasks)
    seed: int
    model: str
    checkpoint_sha256: str
    settings: dict = field(default_factory=dict)  # steps, guidance, sampler, precision, physics, threads, size
    parent: str | None = None  # the take this one was made from
    edit: dict = field(default_factory=lambda: {"kind": "generate"})  # what made it, with its parameters
    prompt: str = ""  # the prompt it was conditioned on (re-prompt changes it)
    created: str = ""
    notice: str | None = None  # why it failed its verification (kinora film): the film shows "未通过核实" over it


@dataclass
class Shot:
    id: str  # "s1", "s2", ... never reused, so takes keep their names when shots move
    prompt: str
    seconds: float
    spec: dict  # the ShotSpec (kinora.world.spec) as a dict, with its source spans
    source: dict | None = None  # {"text", "start", "end"}: where in the story or prompt list it came from
    takes: list[Take] = field(default_factory=list)
    active: str | None = None  # the take the film uses
    transition: dict | None = None  # into this shot from the one before: {"kind": "crossfade", "frames": N}
    seed: int = 0  # the seed of its first take (planned shots get their takes when the film is rendered)

    def take(self, tid: str | int) -> Take:
        key = tid if isinstance(tid, str) else f"t{tid}"
        for t in self.takes:
            if t.id == key:
                return t
        raise KinoraError(f"shot {self.id} has no take {key!r}; it has {', '.join(t.id for t in self.takes) or 'none'}")

    def active_take(self) -> Take:
        if self.active is None:
            raise KinoraError(f"shot {self.id} has no take yet")
        return self.take(self.active)

    def next_take_id(self) -> str:
        return f"t{max([int(t.id[1:]) for t in self.takes] or [0]) + 1}"


@dataclass
class Document:
    format: str = FORMAT
    schema: int = SCHEMA
    revision: int = 0
    created: str = ""
    updated: str = ""
    settings: dict = field(default_factory=dict)  # fps, width, height, model, physics, truth_mode
    shots: list[Shot] = field(default_factory=list)
    next_shot: int = 1
    log: list[dict] = field(default_factory=list)  # one line per revision: what changed

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: Any, where: str) -> "Document":
        if not isinstance(d, dict) or d.get("format") != FORMAT:
            raise KinoraError(f"{where} is not a Kinora project (no \"format\": \"{FORMAT}\")")
        if not isinstance(d.get("schema"), int) or d["schema"] > SCHEMA:
            raise KinoraError(f"{where} was written by a newer Kinora (project schema {d.get('schema')!r}, this one "
                              f"reads up to {SCHEMA}); upgrade Kinora to open it")
        try:
            shots = [Shot(**{**s, "takes": [Take(**t) for t in s.get("takes", [])]}) for s in d.get("shots", [])]
            return cls(**{**d, "shots": shots})
        except TypeError as e:
            raise KinoraError(f"{where} is damaged ({e}); restore it from {Path(where).parent / 'revisions'}") \
                from None


class Project:
    """An open project: its folder, its document, and (when opened to write) the lock."""

    def __init__(self, folder: Path, doc: Document):
        self.folder = folder
        self.doc = doc

    # --- opening ------------------------------------------------------------------------
    @classmethod
    def create(cls, folder: str | os.PathLike, settings: dict) -> "Project":
        """A new, empty project at `folder` (refused where one, or anything else, is there)."""
        from kinora.io.atomic import check_folder_path, write_json_atomic

        folder = check_folder_path(folder, f"project folder {folder}")
        if folder.exists() and any(folder.iterdir()):
            what = "a project" if (folder / DOCUMENT).exists() else "files"
            raise KinoraError(f"{folder} already holds {what}; choose a new folder for a new project")
        (folder / "takes").mkdir(parents=True, exist_ok=True)
        (folder / "revisions").mkdir(exist_ok=True)
        stamp = now()
        doc = Document(revision=1, created=stamp, updated=stamp, settings=dict(settings),
                       log=[{"revision": 1, "time": stamp, "change": "new project"}])
        write_json_atomic(folder / DOCUMENT, doc.to_dict())
        return cls(folder, doc)

    @classmethod
    def load(cls, folder: str | os.PathLike) -> "Project":
        folder = Path(folder)
        path = folder / DOCUMENT
        if not folder.is_dir():
            raise KinoraError(f"no project at {folder}; make one with 'kinora project new {folder} --prompt ...'")
        if not path.exists():
            raise KinoraError(f"{folder} is not a Kinora project (no {DOCUMENT})")
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise KinoraError(f"{path} cannot be read ({e}); restore it from {folder / 'revisions'}") from None
        return cls(folder, Document.from_dict(raw, str(path)))

    @classmethod
    @contextlib.contextmanager
    def open(cls, folder: str | os.PathLike, write: bool = False) -> Iterator["Project"]:
        """The project, read under its lock when `write` (one writer at a time)."""
        if not write:
            yield cls.load(folder)
            return
        from kinora.io.atomic import hold_lock

        folder = Path(folder)
        if not (folder / DOCUMENT).exists():
            cls.load(folder)  # says what is wrong
        with hold_lock(folder / f".{DOCUMENT}.lock", f"project {folder}"):
            yield cls.load(folder)

    # --- saving -------------------------------------------------------------------------
    def save(self, change: str, **details) -> int:
        """Keep the current document under revisions/ and write this one as the next revision."""
        from kinora.io.atomic import write_json_atomic

        doc = self.doc
        current = self.folder / DOCUMENT
        old = json.loads(current.read_text(encoding="utf-8"))
        keep = self.folder / "revisions" / f"r{old['revision']:05d}.json"
        if not keep.exists():
            write_json_atomic(keep, old)
        doc.revision = old["revision"] + 1
        doc.updated = now()
        doc.log.append({"revision": doc.revision, "time": doc.updated, "change": change, **details})
        write_json_atomic(current, doc.to_dict())
        return doc.revision

    def revisions(self) -> list[int]:
        return sorted(int(p.stem[1:]) for p in (self.folder / "revisions").glob("r*.json")) + [self.doc.revision]

    def restore(self, revision: int) -> int:
        """Make revision `revision`'s shots and takes current again, as a new revision (undo)."""
        path = self.folder / "revisions" / f"r{revision:05d}.json"
        if revision == self.doc.revision:
            raise KinoraError(f"revision {revision} is the current one")
        if not path.exists():
            raise KinoraError(f"{self.folder} has no revision {revision}; it has {self.revisions()}")
        old = Document.from_dict(json.loads(path.read_text(encoding="utf-8")), str(path))
        self.doc.shots, self.doc.next_shot = old.shots, max(old.next_shot, self.doc.next_shot)
        return self.save(f"back to revision {revision}", restored=revision)

    # --- shots --------------------------------------------------------------------------
    def shot(self, n: int) -> Shot:
        """Shot number n, counted from 1 in film order."""
        shots = self.doc.shots
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= len(shots):
            raise KinoraError(f"there is no shot {n}: the project has {len(shots)} shot(s), numbered 1 to "
                              f"{len(shots)}" if shots else f"there is no shot {n}: the project has no shots yet")
        return shots[n - 1]

    def new_shot_id(self) -> str:
        sid = f"s{self.doc.next_shot}"
        self.doc.next_shot += 1
        return sid

    def path(self, rel: str) -> Path:
        return self.folder / rel
