"""Regression tests for bugs found in the architecture review (branch `review`).

Each test states the behaviour a user expects and fails on the code as reviewed; they are
marked xfail(strict=True) until its fix landed; every one is fixed now, so they are plain
regression tests.
"""

import fcntl
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from kinora.cli import main
from kinora.errors import KinoraError


def test_a_lock_unlinked_under_a_waiting_writer_does_not_let_two_writers_in(tmp_path, monkeypatch):
    """A opens and holds the claim; B has opened the lock file but not locked it yet when A
    unlinks it and closes; B then locks the unlinked inode, and C makes a fresh lock file
    and locks that: B and C both hold the same output."""
    import kinora.io.atomic as atomic

    target = tmp_path / "film.mp4"
    a = atomic.claim_output(target)
    a.__enter__()
    real_flock = fcntl.flock
    calls = []

    def flock_after_a_finishes(fd, op):
        if not calls:
            calls.append(fd)
            a.__exit__(None, None, None)  # A finishes between B's os.open and B's flock
        return real_flock(fd, op)

    monkeypatch.setattr(atomic.fcntl, "flock", flock_after_a_finishes)
    b = atomic.claim_output(target)
    b.__enter__()
    monkeypatch.setattr(atomic.fcntl, "flock", real_flock)
    try:
        with pytest.raises(KinoraError, match="another process is writing"):
            with atomic.claim_output(target):  # C
                pass
    finally:
        b.__exit__(None, None, None)


def _tiny_clip(path, fps, frames=8):
    from kinora.io.video import write_mp4

    write_mp4(np.zeros((frames, 32, 32, 3), np.uint8) + 90, path, fps=fps)


def test_extending_a_24_fps_video_keeps_its_speed(tmp_path, tiny_weights):
    """`kinora generate ... --video clip24.mp4` wrote the result at the model's 8 fps: the
    original second played for 3 s."""
    from kinora.pipelines.generate import GenerateRequest, generate

    src = tmp_path / "src.mp4"
    _tiny_clip(src, fps=24, frames=24)
    r = generate(GenerateRequest("a red ball", out=tmp_path / "ext.mp4", video=src, seconds=1, steps=1,
                                 model=tiny_weights))
    assert r.fps == 24


def test_edit_time_is_in_the_videos_seconds(tmp_path, tiny_weights):
    from kinora.diffusion.tasks import EditRegion
    from kinora.io.video import read_video
    from kinora.pipelines.generate import GenerateRequest, generate

    src = tmp_path / "src.mp4"
    _tiny_clip(src, fps=24, frames=24)  # 1 s
    out = tmp_path / "edit.mp4"
    # Regenerate only the last half second: frames 12..23 of the 24 fps clip.
    generate(GenerateRequest("a red ball", out=out, video=src, edit=EditRegion((0, 0, 1, 1), (0.5, 1.0)), steps=1,
                             model=tiny_weights))
    frames, fps, _ = read_video(out)
    assert fps == 24 and len(frames) == 24


def test_world_render_of_a_spec_file_does_not_silently_ignore_fps(tmp_path, capsys):
    from kinora.io.video import read_video

    spec, out = tmp_path / "spec.json", tmp_path / "spec.mp4"
    assert main(["world", "random", "-o", str(spec), "--duration", "1"]) == 0
    code = main(["world", "render", str(spec), "-o", str(out), "--fps", "24"])
    capsys.readouterr()
    # Either the flag is refused in one line, or it is honoured.
    assert code != 0 or read_video(out)[1] == 24


def test_train_vae_refuses_a_folder_that_holds_a_run(tmp_path):
    from kinora.train.vae import TrainConfig, check_inputs

    (tmp_path / "train_state.pt").write_bytes(b"hours of training")
    with pytest.raises(KinoraError, match="already holds a run"):
        check_inputs(TrainConfig.from_preset("tiny"), tmp_path, resume=False)


def test_train_does_not_replace_exported_weights_without_resume_or_force(tmp_path, capsys):
    weights = tmp_path / "dit-tiny.safetensors"
    weights.write_bytes(b"weights someone exported")
    main(["train", "--preset", "tiny", "--synthetic", "--out", str(tmp_path), "--steps", "1", "--threads", "1",
          "--quiet"])
    capsys.readouterr()
    assert weights.read_bytes() == b"weights someone exported"


def test_overlapping_sample_runs_do_not_train_on_a_clip_twice(tmp_path):
    from kinora.world.dataset import read_shards, write_dataset
    from kinora.world.spec import SpecDistribution

    tiny = SpecDistribution(duration=(0.5, 0.5), max_objects=1)
    write_dataset(tmp_path, 4, seed=0, dist=tiny, workers=1, clips=False, progress=False)
    with pytest.raises(KinoraError, match="overlap"):
        write_dataset(tmp_path, 4, seed=2, dist=tiny, workers=1, clips=False, progress=False)
    write_dataset(tmp_path, 4, seed=4, dist=tiny, workers=1, clips=False, progress=False)  # adding clips works
    seeds = [r["seed"] for _, records in read_shards(tmp_path) for r in records]
    assert sorted(seeds) == list(range(8)), seeds


def test_ctrl_c_stops_a_parallel_world_sample(tmp_path):
    """Ctrl-C in a terminal signals the whole foreground process group."""
    out = tmp_path / "w"
    p = subprocess.Popen([sys.executable, "-m", "kinora", "world", "sample", "--n", "2000", "--out", str(out),
                          "--workers", "2", "--duration", "0.5", "--no-clips"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True,
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 60
    while not (out / "shards").exists() and time.time() < deadline:
        time.sleep(0.2)
    time.sleep(1.5)  # the workers are simulating
    os.killpg(p.pid, signal.SIGINT)
    try:
        _, err = p.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.communicate()
        pytest.fail("kinora world sample still running 20 s after Ctrl-C")
    assert p.returncode == 130 and "Traceback" not in err and err.count("error:") == 1, err


def test_index_json_is_valid_after_each_run(tmp_path):
    """Not a bug: kept as the positive control for the dataset tests above."""
    from kinora.world.dataset import write_dataset
    from kinora.world.spec import SpecDistribution

    write_dataset(tmp_path, 2, seed=0, dist=SpecDistribution(duration=(0.5, 0.5), max_objects=1), workers=1,
                  clips=False, progress=False)
    assert json.loads((tmp_path / "index.json").read_text())["n"] == 2
