"""`kinora project render` killed with -9 while it makes takes, then --resume: the same film, bit for bit."""

import os
import signal
import subprocess
import sys
import time

import numpy as np

from kinora.timeline import edits
from kinora.timeline.project import Project


def _planned(folder, weights):
    edits.new_project(folder, ["a red ball rolls left", "a blue cube slides right"], seconds=15,
                      model=str(weights), steps=8, threads=1, generate=False)


def _render(folder, out, *extra):
    return [sys.executable, "-m", "kinora", "project", "render", str(folder), "-o", str(out), *extra]


def test_kill_minus_9_during_the_render_then_resume(tmp_path, tiny_weights):
    _planned(tmp_path / "a", tiny_weights)
    subprocess.run(_render(tmp_path / "a", tmp_path / "a.mp4"), check=True, capture_output=True)

    b = tmp_path / "b"
    _planned(b, tiny_weights)
    proc = subprocess.Popen(_render(b, tmp_path / "b.mp4"), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while not list((b / "takes").glob(".s2.progress.npz")) and proc.poll() is None and time.time() < deadline:
        time.sleep(0.005)  # killed in the second shot: the first one's take is already saved
    assert proc.poll() is None, "the render finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    p = Project.load(b)
    assert p.shot(1).active == "t1" and p.shot(2).takes == [] and not (tmp_path / "b.mp4").exists()

    subprocess.run(_render(b, tmp_path / "b.mp4", "--resume"), check=True, capture_output=True)
    pa, pb = Project.load(tmp_path / "a"), Project.load(b)
    for n in (1, 2):
        fa = edits.take_frames(pa, pa.shot(n).active_take())
        fb = edits.take_frames(pb, pb.shot(n).active_take())
        assert np.array_equal(fa, fb)
        assert (tmp_path / "a" / pa.shot(n).active_take().frames).read_bytes() == \
            (b / pb.shot(n).active_take().frames).read_bytes()
    from kinora.io.video import read_video

    assert np.array_equal(read_video(tmp_path / "a.mp4")[0], read_video(tmp_path / "b.mp4")[0])
    leftovers = [x.name for x in (b / "takes").iterdir() if x.name.startswith(".")] + \
        [x.name for x in tmp_path.iterdir() if x.name.startswith(".")]
    assert leftovers == []
