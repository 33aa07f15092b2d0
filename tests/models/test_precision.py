"""bf16 blocks where the CPU has bf16 units, fp32 everywhere else (kinora.models.precision)."""

import warnings

import pytest
import torch

from kinora.errors import KinoraError
from kinora.models import precision as P
from kinora.models.dit import DiT
from kinora.models.presets import get_preset


def test_auto_follows_the_units_and_bf16_falls_back_with_one_warning(monkeypatch):
    monkeypatch.setattr(P, "bf16_units", lambda: True)
    assert P.compute_dtype("auto") == torch.bfloat16 and P.compute_dtype("bf16") == torch.bfloat16
    monkeypatch.setattr(P, "bf16_units", lambda: False)
    P._warn_once.cache_clear()
    assert P.compute_dtype("auto") == torch.float32
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        assert P.compute_dtype("bf16") == torch.float32
        assert P.compute_dtype("bf16") == torch.float32
    assert len([x for x in w if "no bf16 matrix units" in str(x.message)]) == 1
    assert P.compute_dtype("fp32") == torch.float32
    with pytest.raises(KinoraError, match="unknown precision"):
        P.compute_dtype("fp16")


def test_bf16_blocks_stay_close_to_fp32_and_return_fp32():
    torch.manual_seed(0)
    cfg = get_preset("tiny").dit
    a = DiT(cfg).eval()
    for p in a.parameters():  # a trained-looking net: the zero-initialised layers are not zero
        torch.nn.init.normal_(p, std=0.05)
    b = DiT(cfg).eval()
    b.load_state_dict(a.state_dict())
    b.set_compute_dtype(torch.bfloat16)
    assert b.blocks[0].attn.qkv.weight.dtype == torch.bfloat16 and b.final_proj.weight.dtype == torch.float32
    # bf16 computes the MLP's GELU in the (faster) erf form, fp32 keeps the tanh form it was trained with.
    assert b.blocks[0].mlp[1].approximate == "none" and a.blocks[0].mlp[1].approximate == "tanh"
    x = torch.randn(2, cfg.latent_channels, 3, 4, 4)
    cond = {"text": torch.randn(2, 5, cfg.text_dim), "text_mask": torch.ones(2, 5, dtype=torch.bool)}
    t = torch.tensor([0.3, 0.9])
    with torch.no_grad():
        ya, yb = a(x, t, cond), b(x, t, cond)
    assert yb.dtype == torch.float32 and yb.shape == ya.shape
    rel = ((yb - ya).norm() / ya.norm()).item()
    assert 0 < rel < 0.03  # bf16 differs, by about its 8-bit mantissa, no more


def test_a_bf16_decoder_returns_fp32_frames_within_rounding_of_fp32():
    from kinora.models.presets import VAE_PRESETS
    from kinora.models.vae import VideoVAE

    torch.manual_seed(0)
    a = VideoVAE(VAE_PRESETS["tiny"]).eval()
    for p in a.parameters():
        torch.nn.init.normal_(p, std=0.1)
    b = VideoVAE(VAE_PRESETS["tiny"]).eval()
    b.load_state_dict(a.state_dict())
    b.set_decode_dtype(torch.bfloat16)
    assert next(b.decoder.parameters()).dtype == torch.bfloat16
    assert next(b.encoder.parameters()).dtype == torch.float32  # encoded (known) frames stay fp32
    x = torch.rand(1, 3, 5, 16, 16) * 2 - 1
    with torch.no_grad():
        z = a.encode(x)
        assert torch.equal(b.encode(x), z)
        da, db = a.decode(z), b.decode(z)
    assert db.dtype == torch.float32 and db.shape == da.shape
    err = (db - da).abs()
    assert 0 < err.mean().item() < 0.01 and db.abs().max() <= 1
