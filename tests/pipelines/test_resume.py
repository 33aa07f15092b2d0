"""A long render killed with -9 resumes to the same frames, bit for bit, and leaves nothing behind."""

import os
import signal
import subprocess
import sys
import time

import numpy as np

from kinora.io.video import read_video


def _cmd(weights, out, *extra):
    return [sys.executable, "-m", "kinora", "generate", "a red ball rolls left", "--model", str(weights),
            "--seconds", "20", "--steps", "8", "--threads", "1", "-o", str(out), *extra]


def test_kill_minus_9_then_resume_gives_the_same_clip(tmp_path, tiny_weights):
    ref = tmp_path / "ref.mp4"
    subprocess.run(_cmd(tiny_weights, ref), check=True, capture_output=True)

    out = tmp_path / "cut" / "clip.mp4"
    partial = out.parent / f".{out.name}.progress.npz"
    proc = subprocess.Popen(_cmd(tiny_weights, out), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while not partial.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.005)
    assert proc.poll() is None, "the render finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    with np.load(partial) as z:
        done = len(z["frames"])
    assert 0 < done < 160 and not out.exists()

    subprocess.run(_cmd(tiny_weights, out, "--resume"), check=True, capture_output=True)
    a, _, _ = read_video(ref)
    b, _, _ = read_video(out)
    assert a.shape == b.shape and np.array_equal(a, b)
    assert sorted(p.name for p in out.parent.iterdir()) == ["clip.mp4"]  # no progress, temp or lock file left


def test_progress_of_another_call_is_not_resumed(tmp_path, tiny_weights):
    import torch

    from kinora.pipelines.kinora import KinoraPipeline, save_progress

    pipe = KinoraPipeline.from_pretrained(tiny_weights)
    progress = tmp_path / "p.npz"
    save_progress(progress, "another call", np.full((20, 32, 32, 3), 7, np.uint8), torch.Generator().manual_seed(5))

    def make(**kw):
        return pipe("a red ball rolls left", num_frames=40, num_inference_steps=1,
                    generator=torch.Generator().manual_seed(0), **kw).frames[0]

    assert np.array_equal(make(progress_file=progress), make())


def test_a_call_resumes_from_its_own_progress(tmp_path, tiny_weights):
    import torch

    from kinora.pipelines.kinora import KinoraPipeline

    pipe = KinoraPipeline.from_pretrained(tiny_weights)
    progress = tmp_path / "p.npz"

    def make():
        return pipe("a red ball rolls left", num_frames=40, num_inference_steps=1,
                    generator=torch.Generator().manual_seed(0), progress_file=progress).frames[0]

    full = make()
    with np.load(progress) as z:  # kept after every window but the last one
        key, frames, rng = str(z["key"]), z["frames"], z["rng"]
    assert 0 < len(frames) < 40 and np.array_equal(frames, full[: len(frames)])
    marked = frames.copy()
    marked[0] = 7  # a frame no sampler would make: seen again only if the progress is used
    np.savez(progress, frames=marked, key=np.array(key), rng=rng)
    again = make()
    assert np.array_equal(again[0], marked[0]) and np.array_equal(again[1: len(frames)], full[1: len(frames)])
