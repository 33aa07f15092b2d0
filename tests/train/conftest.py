"""Fixtures of the training tests."""

import pytest
import torch


@pytest.fixture(scope="session")
def tiny_vae(tmp_path_factory):
    """A random-weight tiny VAE file (what DiT runs on real data encode with in tests)."""
    from kinora.models.presets import VAE_PRESETS
    from kinora.models.vae import VideoVAE, save_vae

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("vae") / "vae-tiny.safetensors"
    save_vae(VideoVAE(VAE_PRESETS["tiny"]), path)
    return path
