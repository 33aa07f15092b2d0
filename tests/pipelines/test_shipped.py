"""The shipped checkpoint in kinora/weights: it loads, and what it draws is what was asked."""

from collections import Counter

import numpy as np
import pytest
import torch

from kinora.defaults import SHIPPED_DIT, SHIPPED_VAE, WEIGHTS_DIR
from kinora.pipelines.kinora import KinoraPipeline
from kinora.verify.analyzer import analyze


@pytest.fixture(scope="module")
def pipe():
    assert SHIPPED_DIT.exists() and SHIPPED_VAE.exists(), \
        "the shipped weights must be committed in kinora/weights"
    return KinoraPipeline.from_pretrained()


def test_shipped_weights_fit_the_budget():
    total = sum(p.stat().st_size for p in WEIGHTS_DIR.rglob("*.safetensors"))  # the teacher's folder too
    assert total <= 50 * 1024 * 1024


def test_shipped_model_trained_with_the_shipped_vae(pipe):
    # The same VAE file, or a decoder fine-tune of it: the same latent space.
    from kinora.models.vae import latent_id

    assert pipe.meta["vae_hash"] == latent_id(SHIPPED_VAE)


@pytest.mark.parametrize("prompt, color", [("a red ball bounces on the floor", "red"),
                                           ("一个蓝色的方块向右滑动", "blue")])
def test_one_second_clip_shows_the_prompted_colour(pipe, prompt, color):
    frames = pipe(prompt, num_frames=8, generator=torch.Generator().manual_seed(0)).frames[0]
    assert frames.shape == (8, 64, 64, 3)
    a = analyze(frames, fps=8)
    seen = Counter(d.color for dets in a.detections for d in dets)
    frames_with = sum(any(d.color == color for d in dets) for dets in a.detections)
    assert frames_with >= 4, (color, seen)
    assert seen.most_common(1)[0][0] == color, seen


def test_same_seed_same_frames(pipe):
    a = pipe("a green cylinder rolls left", num_frames=8, generator=torch.Generator().manual_seed(3)).frames[0]
    b = pipe("a green cylinder rolls left", num_frames=8, generator=torch.Generator().manual_seed(3)).frames[0]
    assert np.array_equal(a, b)


def test_the_default_is_the_guidance_distilled_student_of_the_shipped_teacher(pipe):
    from kinora.defaults import SHIPPED_TEACHER
    from kinora.io.hashing import sha256_file
    from kinora.models.presets import get_preset

    assert pipe.meta["distilled"]["teacher_sha256"] == sha256_file(SHIPPED_TEACHER)
    # distilled on the teacher's 10 steps, sampled with 8 (docs/MODEL.md), one pass each
    assert (pipe.sample.steps, pipe.sample.guidance) == (8, 1.0)
    assert pipe.meta["distilled"]["settings"]["student_steps"] == 10
    assert pipe.meta["sample_set"]["before"]["steps"] == 10
    teacher = KinoraPipeline.from_pretrained(SHIPPED_TEACHER)
    assert (teacher.sample.steps, teacher.sample.guidance) == (10, get_preset("small").sample.guidance) != (10, 1.0)
    assert pipe.physics_path == teacher.physics_path == WEIGHTS_DIR / "dit-small-physics-ema.safetensors"
    out = pipe("a red ball rolls left", num_frames=8, num_inference_steps=1, physics=True,
               generator=torch.Generator().manual_seed(0))
    assert out.settings["guidance"] == get_preset("small").sample.guidance  # the companion samples guided


def test_guidance_asked_of_the_distilled_default_says_it_comes_on_top(pipe):
    kw = dict(num_frames=8, num_inference_steps=1, generator=torch.Generator().manual_seed(0))
    assert not any("folded in" in w for w in pipe("a red ball rolls left", **kw).warnings)
    kw["generator"] = torch.Generator().manual_seed(0)
    out = pipe("a red ball rolls left", guidance_scale=2.0, **kw)
    assert out.settings["guidance"] == 2.0
    assert [w for w in out.warnings if "folded in" in w] == [
        "this model has its teacher's guidance (3) folded in: guidance 2 applies on top of it; for guided "
        "sampling use the teacher (--model kinora/weights/teacher)"]
