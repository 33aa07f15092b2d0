"""The model shipped then (now the guided teacher in kinora/weights/teacher, the same file)
makes the same frames for the same seed as before the architecture move: every task,
recorded at commit 387a04a (one torch thread) into tests/data/frames-before-move.npz.

Another CPU (an AMD EPYC against the Intel machine that recorded them) rounds a few fp32 sums
differently, which turns a handful of uint8 values over by one: up to 9 of 589,824 in `long`.
So a value may be off by one, and at most one value in 10,000 may be; anything a change of
code does (a step, a seed, a layer) moves far more."""

from pathlib import Path

import numpy as np
import pytest
import torch

from kinora.defaults import SHIPPED_TEACHER

RECORDED = Path(__file__).resolve().parent.parent / "data" / "frames-before-move.npz"
pytestmark = pytest.mark.skipif(not SHIPPED_TEACHER.exists(), reason="no shipped weights")


@pytest.fixture(scope="module")
def runs():
    from kinora.pipelines import KinoraPipeline

    # A module fixture is set up before the function-scoped one-thread fixture: set it here
    # (the frames were recorded on one thread; other thread counts round differently).
    torch.set_num_threads(1)
    pipe = KinoraPipeline.from_pretrained(SHIPPED_TEACHER, precision="fp32")  # the fp32 path, bit for bit

    def g(seed):
        return torch.Generator().manual_seed(seed)

    out = {}
    t2v = pipe("a red ball bounces on the floor", num_frames=9, num_inference_steps=4, generator=g(1)).frames[0]
    out["t2v"] = t2v
    out["t2v_zh_heun"] = pipe("一个蓝色的方块向右滑动，镜头向左平移", num_frames=9, num_inference_steps=2,
                              sampler="heun", guidance_scale=2.0, negative_prompt="a green ball",
                              generator=g(2)).frames[0]
    out["i2v"] = pipe("a green ball rolls left", image=t2v[0], num_frames=9, num_inference_steps=3,
                      generator=g(3)).frames[0]
    out["bridge"] = pipe("a green ball", image=t2v[0], last_image=t2v[-1], num_frames=9, num_inference_steps=3,
                         generator=g(4)).frames[0]
    out["loop"] = pipe("a yellow cylinder topples", loop=True, num_frames=9, num_inference_steps=3,
                       generator=g(5)).frames[0]
    out["extend_fwd"] = pipe("the ball keeps rolling", video=t2v, num_frames=8, num_inference_steps=3,
                             generator=g(6)).frames[0]
    out["extend_back"] = pipe("the ball keeps rolling", video=t2v, num_frames=8, extend="backward",
                              num_inference_steps=3, generator=g(7)).frames[0]
    m = np.zeros(t2v.shape[:3], bool)
    m[2:7, :, :32] = True
    out["inpaint"] = pipe("a blue cube stays still", video=t2v, edit_mask=m, num_inference_steps=3,
                          generator=g(8)).frames[0]
    out["long"] = pipe("a purple ball rolls right", num_frames=48, num_inference_steps=2, generator=g(9)).frames[0]
    out["wide"] = pipe("two cyan cubes slide left", num_frames=5, width=128, height=64, num_inference_steps=2,
                       generator=g(10)).frames[0]
    return out


@pytest.mark.parametrize("task", ["t2v", "t2v_zh_heun", "i2v", "bridge", "loop", "extend_fwd", "extend_back",
                                  "inpaint", "long", "wide"])
def test_same_frames_as_before_the_move(runs, task):
    with np.load(RECORDED) as z:
        want = z[task]
    got = runs[task]
    assert got.shape == want.shape
    diff = np.abs(got.astype(int) - want.astype(int))
    n = int((diff > 0).sum())
    assert diff.max() <= 1 and n <= diff.size // 10_000, f"{task}: {n} of {diff.size} values differ, max {diff.max()}"
