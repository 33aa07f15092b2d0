"""The preset registry: every preset builds, sizes are as documented, VAE and DiT agree, copies are safe."""

import argparse

import pytest
import torch

from kinora.errors import KinoraError
from kinora.models.dit import DiT
from kinora.models.presets import PRESETS, VAE_PRESETS, get_preset
from kinora.models.vae import VideoVAE

# Parameter counts in millions (ranges, so small fixes do not break the test).
EXPECTED_M = {"tiny": (0.1, 0.5), "small": (5, 10), "base": (120, 200), "large": (500, 800)}


def n_params(module_cls, cfg) -> int:
    with torch.device("meta"):  # no memory, no time: just shapes
        return sum(p.numel() for p in module_cls(cfg).parameters())


def test_registry_has_test_cpu_and_gpu_sizes():
    assert set(EXPECTED_M) <= set(PRESETS)


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_builds_and_is_consistent(name):
    p = get_preset(name)
    assert p.name == name and p.description
    assert p.vae.latent_channels == p.dit.latent_channels
    assert p.vae == VAE_PRESETS[p.vae_name]
    lo, hi = EXPECTED_M[name]
    assert lo <= n_params(DiT, p.dit) / 1e6 <= hi
    # the training resolution divides into whole latent patches, and frames are 1 + 4k
    t = p.train
    assert (t.max_frames - 1) % 4 == 0
    assert t.height % (8 * p.dit.patch[1]) == 0 and t.width % (8 * p.dit.patch[2]) == 0
    assert abs(sum(t.task_probs.values()) - 1.0) < 1e-6


def test_shipped_model_fits_the_budget():
    p = get_preset("small")
    total = n_params(DiT, p.dit) + n_params(VideoVAE, p.vae)
    assert total * 2 / 1e6 <= 50  # float16 bytes, MB
    # 4 s at 64x64 and 8 fps: 33 frames -> 9 latent frames of 8x8, 144 tokens at patch 1x2x2
    F, h, w = 1 + (33 - 1) // 4, 64 // 8, 64 // 8
    pt, ph, pw = p.dit.patch
    assert (F * h * w) // (pt * ph * pw) == 144


def test_get_preset_returns_copies():
    p = get_preset("small")
    p.dit.depth = 99
    p.train.task_probs["t2v"] = 0.0
    p.vae.base_channels = 1
    q = get_preset("small")
    assert q.dit.depth != 99 and q.train.task_probs["t2v"] > 0 and q.vae.base_channels != 1


def test_unknown_preset():
    with pytest.raises(KinoraError, match="tiny"):
        get_preset("huge")


def test_cli_choices_are_the_registry():
    from kinora.cli.train import add_dit_arguments, add_vae_arguments

    for add, registry in ((add_dit_arguments, PRESETS), (add_vae_arguments, VAE_PRESETS)):
        parser = argparse.ArgumentParser()
        add(parser)
        action = next(a for a in parser._actions if a.dest == "preset")
        assert sorted(action.choices) == sorted(registry)


def test_every_vae_preset_has_training_defaults_and_copies_are_safe():
    from kinora.models.presets import VAE_TRAIN_DEFAULTS, get_vae_train_defaults

    assert set(VAE_TRAIN_DEFAULTS) == set(VAE_PRESETS)
    for name in VAE_PRESETS:
        d = get_vae_train_defaults(name)
        assert d.steps > 0 and d.lr > 0 and d.buckets and all((b.frames - 1) % 4 == 0 for b in d.buckets)
        assert (d.window - 1) % 4 == 0
        d.buckets[0].pool = -1
        d.lr = 0.0
        assert get_vae_train_defaults(name).buckets[0].pool > 0 and get_vae_train_defaults(name).lr > 0
    with pytest.raises(KinoraError, match="tiny"):
        get_vae_train_defaults("huge")
