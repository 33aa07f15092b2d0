"""The causal video VAE: shapes, causality, image/video latent sharing, checkpoints, learning one clip.
Its training (kinora.train.vae, `kinora train-vae`) is tests/train/test_vae.py."""

import pytest
import torch

from kinora.errors import KinoraError
from kinora.models.presets import VAE_PRESETS
from kinora.models.vae import VAEConfig, VideoVAE, load_vae, pad_to_valid_length, save_vae


def tiny_model(seed: int = 0) -> VideoVAE:
    torch.manual_seed(seed)
    m = VideoVAE(VAE_PRESETS["tiny"]).eval()
    # Residual blocks start as identities; perturb them so every path is exercised.
    with torch.no_grad():
        for p in m.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    return m


def video(b: int, t: int, h: int, w: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(b, 3, t, h, w, generator=g) * 2 - 1


@pytest.mark.parametrize("t", [1, 5, 17])
@pytest.mark.parametrize("hw", [(64, 64), (128, 128), (64, 128)])
def test_shapes(t, hw):
    m = tiny_model()
    h, w = hw
    with torch.no_grad():
        z = m.encode(video(2, t, h, w))
        y = m.decode(z)
    assert z.shape == (2, 4, 1 + (t - 1) // 4, h // 8, w // 8)
    assert y.shape == (2, 3, t, h, w)
    assert y.min() >= -1 and y.max() <= 1


def test_encoder_is_causal_and_images_share_the_latent_space():
    m = tiny_model()
    x = video(1, 17, 64, 64)
    x2 = x.clone()
    x2[:, :, 8] = 0.3  # frame 8 belongs to latent frame 2 (frames 5..8)
    with torch.no_grad():
        z, z2 = m.encode(x), m.encode(x2)
        z_img = m.encode(x[:, :, :1])
        z_short = m.encode(x[:, :, :5])
    diff = (z - z2).abs().amax(dim=(0, 1, 3, 4))  # per latent frame
    assert diff[:2].max() == 0
    assert diff[2] > 1e-4
    assert z_img.shape == (1, 4, 1, 8, 8)
    torch.testing.assert_close(z_img[:, :, 0], z[:, :, 0], atol=1e-5, rtol=0)
    torch.testing.assert_close(z_short, z[:, :, :2], atol=1e-5, rtol=0)


def test_decoder_is_causal():
    m = tiny_model()
    with torch.no_grad():
        z = m.encode(video(1, 17, 64, 64))
        z2 = z.clone()
        z2[:, :, 2] += 1.0
        y, y2 = m.decode(z), m.decode(z2)
        y_img = m.decode(z[:, :, :1])
    diff = (y - y2).abs().amax(dim=(0, 1, 3, 4))  # per frame
    assert diff[:5].max() == 0  # frames 0..4 come from latents 0..1
    assert diff[5:9].min() > 0
    torch.testing.assert_close(y_img[:, :, 0], y[:, :, 0], atol=1e-5, rtol=0)


def test_sampling_and_normalisation():
    cfg = VAEConfig(**{**VAE_PRESETS["tiny"].__dict__, "scaling_factor": 2.0, "shift_factor": 0.5})
    torch.manual_seed(0)
    m = VideoVAE(cfg).eval()
    x = video(1, 5, 64, 64)
    with torch.no_grad():
        mean, _ = m.encode_dist(x)
        torch.testing.assert_close(m.encode(x), (mean - 0.5) * 2.0)
        torch.manual_seed(1)
        a = m.encode(x, sample=True)
        torch.manual_seed(1)
        b = m.encode(x, sample=True)
    assert torch.equal(a, b) and not torch.equal(a, m.encode(x))


def test_bad_inputs_are_clear_errors():
    m = tiny_model()
    with pytest.raises(KinoraError, match="1 \\+ 4k"):
        m.encode(video(1, 4, 64, 64))
    with pytest.raises(KinoraError, match="multiples of 8"):
        m.encode(video(1, 5, 60, 64))
    with pytest.raises(KinoraError, match="5-D"):
        m.encode(torch.zeros(3, 5, 64, 64))
    with pytest.raises(KinoraError, match="latent channels"):
        m.decode(torch.zeros(1, 3, 2, 8, 8))
    with pytest.raises(ValueError):
        VAEConfig(temporal_down=(True, False))


def test_pad_to_valid_length():
    x = video(1, 6, 8, 8)
    y, t = pad_to_valid_length(x)
    assert t == 6 and y.shape[2] == 9
    assert torch.equal(y[:, :, :6], x)
    assert torch.equal(y[:, :, 6:], x[:, :, 5:6].expand(-1, -1, 3, -1, -1))
    for n in (1, 5, 17):
        y, t = pad_to_valid_length(video(1, n, 8, 8))
        assert t == n and y.shape[2] == n
    y, t = pad_to_valid_length(video(1, 2, 8, 8))
    assert y.shape[2] == 5


def test_save_load_round_trip(tmp_path):
    m = tiny_model()
    m.cfg = VAEConfig(**{**VAE_PRESETS["tiny"].__dict__, "scaling_factor": 1.7, "shift_factor": -0.1})
    path = tmp_path / "vae.safetensors"
    save_vae(m, path)
    m2 = load_vae(path)
    assert m2.cfg == m.cfg and not m2.training
    x = video(1, 5, 64, 128)
    with torch.no_grad():
        assert torch.equal(m.decode(m.encode(x)), m2.decode(m2.encode(x)))
    # float16 storage: half the bytes, float32 model, nearly the same output
    save_vae(m, tmp_path / "half.safetensors", dtype=torch.float16)
    m3 = load_vae(tmp_path / "half.safetensors")
    assert next(m3.parameters()).dtype == torch.float32
    with torch.no_grad():
        assert (m3.decode(m3.encode(x)) - m.decode(m.encode(x))).abs().max() < 0.05
    with pytest.raises(KinoraError, match="not found"):
        load_vae(tmp_path / "missing.safetensors")


def test_overfits_one_clip():
    """A few dozen steps on one clip cut the reconstruction error substantially."""
    torch.manual_seed(0)
    m = VideoVAE(VAE_PRESETS["tiny"])
    # A bright square moving right over a checkerboard: the micro-world in miniature.
    t, h, w = 9, 32, 32
    yy, xx = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    board = (((yy // 4) + (xx // 4)) % 2).float() * 0.4 - 0.2
    x = board.expand(1, 3, t, h, w).clone()
    for i in range(t):
        x[0, 0, i, 10:18, 2 + 2 * i:10 + 2 * i] = 0.9
        x[0, 1:, i, 10:18, 2 + 2 * i:10 + 2 * i] = -0.8
    opt = torch.optim.Adam(m.parameters(), lr=3e-3)

    def err():
        with torch.no_grad():
            return (m.decode(m.encode(x)) - x).pow(2).mean().item()

    before = err()
    m.train()
    for _ in range(40):
        recon, mean, logvar = m(x, sample=False)
        loss = (recon - x).abs().mean() + (recon - x).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    m.eval()
    after = err()
    assert after < 0.5 * before, (before, after)
