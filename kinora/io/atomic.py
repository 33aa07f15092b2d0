"""Atomic file writing, and claiming an output before the work that fills it.

`atomic_path` writes to a temporary file beside the target, then renames it: a crash or
a bad input half-way through never leaves a truncated output behind, and an existing
file is only replaced once the new one is complete. A temporary name carries the
writer's process id, so a write killed with `kill -9` leaves a file that the next write
to the same path recognises as stale and removes.

`claim_output` is what a command does before its (slow) work: it checks that the path
can be written (not a folder, not under a file), refuses an existing file unless the
caller forces it, and holds a lock so that two writers of one path cannot both report
success. `next_free` picks a fresh name for outputs whose path the user did not choose.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import tempfile
from pathlib import Path
from typing import Iterator

from kinora.errors import KinoraError


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_temps(path: Path) -> list[Path]:
    """Remove temporary files of `path` left by writers that no longer run; return them."""
    removed = []
    for tmp in path.parent.glob(f".{path.name}.*.tmp*"):
        parts = tmp.name[len(path.name) + 2:].split(".", 1)
        if parts[0].isdigit() and not _alive(int(parts[0])):
            tmp.unlink(missing_ok=True)
            removed.append(tmp)
    return removed


def writable(folder: Path) -> bool:
    """Whether files can be made in `folder`; a folder without any write permission bit counts
    as read-only even for a user (root) whom the system would let write there anyway."""
    return os.access(folder, os.W_OK | os.X_OK) and bool(folder.stat().st_mode & 0o222)


def check_folder_path(folder: str | os.PathLike, what: str) -> Path:
    """Refuse, in one line naming `what` (e.g. "--out runs/x"), a place where `folder` cannot
    be made or written: under a file, or in a read-only folder. Creates nothing."""
    folder = Path(folder)
    parent = folder
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise KinoraError(f"{what} lies under {parent}, which is a file, not a folder")
    if not writable(parent):
        raise KinoraError(f"{what}: cannot write in {parent} (read-only); choose another output")
    return folder


def _exists(path: Path) -> KinoraError:
    return KinoraError(f"{path} already exists; add --force to replace it or choose another output")


def check_writable(path: str | os.PathLike) -> Path:
    """Refuse, in one line, an output file path that cannot be written: a folder, a path under
    a file, or in a folder this process may not write to. Creates nothing."""
    path = Path(path)
    if path.is_dir():
        raise KinoraError(f"output {path} is a folder; name a file inside it, e.g. {path / 'out.mp4'}")
    check_folder_path(path.parent, f"output {path}")
    return path


def make_folders(path: str | os.PathLike) -> list[Path]:
    """mkdir -p `path`; return the folders this made, outermost first (for remove_empty)."""
    path = Path(path)
    made = []
    while not path.exists():
        made.append(path)
        path = path.parent
    if made:
        made[0].mkdir(parents=True, exist_ok=True)
    return made[::-1]


def remove_empty(made: list[Path]) -> None:
    """Undo make_folders where nothing was written: remove each folder (innermost first) if
    no file is left in it or under it. A run that fails on its inputs leaves no trace."""
    for top in reversed(made):
        if not top.is_dir():
            continue
        for root, _, _ in os.walk(top, topdown=False):
            with contextlib.suppress(OSError):
                os.rmdir(root)  # only an empty folder goes


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str | None = None, replace: bool = True) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; rename it onto `path` on success.

    The temporary name keeps the target's extension (`suffix`) because some writers
    (PyAV, PIL) pick the container format from it. With replace=False an existing
    `path` is never replaced, even one that appeared while the temporary was written.
    """
    path = check_writable(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(path)
    suffix = path.suffix if suffix is None else suffix
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp" + suffix, dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        # mkstemp makes the file private (0600); give it the mode a plain open() would.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp_path, 0o666 & ~umask)
        if replace:
            os.replace(tmp_path, path)
        else:
            try:
                os.link(tmp_path, path)  # fails if path exists: no clobbering, even in a race
            except FileExistsError:
                raise _exists(path) from None
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def _lock(lock: Path, path: Path, busy: str | None = None) -> int:
    """An fd holding the exclusive lock on the lock file that is at `lock` now. A holder
    removes its lock file when done, so a lock taken on a file that was unlinked meanwhile
    (it is not the one at `lock` any more) protects nothing: take the current one instead."""
    for _ in range(20):
        fd = os.open(lock, os.O_CREAT | os.O_RDWR, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            os.close(fd)
            if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise KinoraError(busy or f"another process is writing {path}; wait for it or choose another "
                                          "output") from None
            raise
        try:
            if os.stat(lock).st_ino == os.fstat(fd).st_ino:
                return fd
        except FileNotFoundError:
            pass
        os.close(fd)  # a stale inode: its holder finished and removed it; try the new one
    raise KinoraError(f"could not lock {path}: other processes keep writing it; choose another output")


@contextlib.contextmanager
def claim_output(path: str | os.PathLike, force: bool = False) -> Iterator[Path]:
    """Hold `path` for one writer while it is made: refuse an existing file (unless
    `force`) and a path another process is writing. Leaves nothing behind (a writer killed
    with -9 leaves its lock file, which holds no lock and is reused by the next writer)."""
    path = check_writable(path)
    if path.exists() and not force:
        raise _exists(path)
    lock = path.parent / f".{path.name}.lock"
    made = make_folders(path.parent)
    ok = False
    try:
        fd = _lock(lock, path)
        try:
            yield path
            ok = True
        finally:
            # Unlink while still holding the lock: a writer that opened this file meanwhile
            # sees, once it gets the lock, that it is not the file at `lock` any more.
            with contextlib.suppress(FileNotFoundError):
                os.unlink(lock)
            os.close(fd)
    finally:
        if not ok:  # a failed or interrupted run leaves no empty folders it made
            remove_empty(made)


@contextlib.contextmanager
def hold_lock(lock: str | os.PathLike, what: str) -> Iterator[None]:
    """One holder at a time of `what` (e.g. a project folder), through the lock file `lock`;
    a second one is refused in one line. A holder killed with -9 leaves a file that holds no lock."""
    lock = Path(lock)
    fd = _lock(lock, lock, busy=f"another process is changing {what}; wait for it to finish")
    try:
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(lock)
        os.close(fd)


def next_free(path: str | os.PathLike) -> Path:
    """`path` if it does not exist, else the first of NAME-2.EXT, NAME-3.EXT, ... that does not."""
    base = candidate = Path(path)
    k = 2
    while candidate.exists():
        candidate = base.with_name(f"{base.stem}-{k}{base.suffix}")
        k += 1
    return candidate


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json_atomic(path: str | os.PathLike, obj) -> None:
    write_text_atomic(path, json.dumps(obj, ensure_ascii=False, indent=2) + "\n")
