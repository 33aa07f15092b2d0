"""Fixtures shared by the whole suite."""

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread():
    """Tests run on one torch thread: faster on 2 shared cores, and the same numbers everywhere."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="session")
def tiny_weights(tmp_path_factory):
    """A folder with a random-weight tiny VAE and DiT laid out like kinora/weights."""
    from kinora.models.dit import DiT, save_dit
    from kinora.models.presets import get_preset
    from kinora.models.vae import VideoVAE, save_vae

    d = tmp_path_factory.mktemp("weights")
    torch.manual_seed(0)
    p = get_preset("tiny")
    save_vae(VideoVAE(p.vae), d / "vae-tiny.safetensors")
    meta = {"preset": "tiny", "vae_name": "tiny",
            "train_args": {"max_frames": 9, "fps": 8, "height": 32, "width": 32, "shift_scale": 1.0}}
    save_dit(d / "dit-tiny-ema.safetensors", DiT(p.dit), meta)  # found by its preset: any name dit-*-ema
    return d
