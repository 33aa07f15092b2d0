"""Atomic writes and output claims: nothing half-written, nothing overwritten silently,
one writer per path, no empty folders or stale temporaries left behind."""

import os
import subprocess
import sys

import pytest

from kinora.errors import KinoraError
from kinora.io.atomic import (
    atomic_path,
    check_writable,
    claim_output,
    make_folders,
    next_free,
    remove_empty,
    remove_stale_temps,
)


def test_a_failed_write_leaves_nothing(tmp_path):
    target = tmp_path / "a.txt"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("crash")
    assert list(tmp_path.iterdir()) == []


def test_no_clobber_rename_refuses_a_file_that_appeared_meanwhile(tmp_path):
    target = tmp_path / "a.txt"
    with pytest.raises(KinoraError, match="already exists"):
        with atomic_path(target, replace=False) as tmp:
            tmp.write_text("new")
            target.write_text("someone else's")
    assert target.read_text() == "someone else's" and sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]


def test_existing_output_needs_force(tmp_path):
    target = tmp_path / "out.mp4"
    target.write_bytes(b"mine")
    with pytest.raises(KinoraError, match="already exists; add --force"):
        with claim_output(target):
            pass
    with claim_output(target, force=True):
        pass
    assert target.read_bytes() == b"mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mp4"]  # the lock is gone


def test_two_writers_of_one_path_cannot_both_proceed(tmp_path):
    target = tmp_path / "film.mp4"
    with claim_output(target):
        # Another process tries the same path while this one holds it.
        code = ("import sys\nfrom kinora.io.atomic import claim_output\nfrom kinora.errors import KinoraError\n"
                f"try:\n    with claim_output({str(target)!r}):\n        sys.exit(0)\n"
                "except KinoraError as e:\n    print(e)\n    sys.exit(3)\n")
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
        assert r.returncode == 3 and "another process is writing" in r.stdout
    assert list(tmp_path.iterdir()) == []


def test_a_failed_claim_removes_the_folders_it_made(tmp_path):
    with pytest.raises(RuntimeError):
        with claim_output(tmp_path / "new" / "deeper" / "x.mp4"):
            raise RuntimeError("bad input found late")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("make, message", [
    (lambda d: (d / "folder").mkdir() or d / "folder", "is a folder"),
    (lambda d: (d / "afile").write_text("x") and d / "afile" / "x.mp4", "is a file, not a folder"),
])
def test_unwritable_paths_are_one_line(tmp_path, make, message):
    with pytest.raises(KinoraError, match=message):
        check_writable(make(tmp_path))


def test_stale_temporaries_of_dead_writers_are_removed(tmp_path):
    target = tmp_path / "clip.mp4"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True).stdout.strip()
    stale = tmp_path / f".clip.mp4.{dead}.abc123.tmp.mp4"
    mine = tmp_path / f".clip.mp4.{os.getpid()}.def456.tmp.mp4"  # a live writer's: kept
    other = tmp_path / f".other.mp4.{dead}.x.tmp.mp4"  # another output's: not ours to judge
    for p in (stale, mine, other):
        p.write_bytes(b"partial")
    assert remove_stale_temps(target) == [stale]
    assert not stale.exists() and mine.exists() and other.exists()


def test_next_free_name(tmp_path):
    base = tmp_path / "demo.mp4"
    assert next_free(base) == base
    base.write_bytes(b"1")
    (tmp_path / "demo-2.mp4").write_bytes(b"2")
    assert next_free(base) == tmp_path / "demo-3.mp4"


def test_make_folders_and_remove_empty_only_undo_what_was_made(tmp_path):
    made = make_folders(tmp_path / "a" / "b" / "c")
    assert made == [tmp_path / "a", tmp_path / "a" / "b", tmp_path / "a" / "b" / "c"]
    (tmp_path / "a" / "b" / "c" / "cache" / "x").mkdir(parents=True)  # empty folders inside go too
    remove_empty(made)
    assert not (tmp_path / "a").exists() and tmp_path.is_dir()

    made = make_folders(tmp_path / "a" / "run")
    (tmp_path / "a" / "run" / "log.jsonl").write_text("{}\n")  # something was written: kept
    remove_empty(made)
    assert (tmp_path / "a" / "run" / "log.jsonl").exists()
    assert make_folders(tmp_path / "a") == []  # it was there already: nothing to undo
