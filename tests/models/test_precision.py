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
    P.warn_once.cache_clear()
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
    h = torch.linspace(-4, 4, 801)
    gelu = a.blocks[0].mlp[1]
    assert torch.equal(gelu(h), torch.nn.functional.gelu(h, approximate="tanh"))
    assert torch.equal(gelu(h.bfloat16()), torch.nn.functional.gelu(h.bfloat16()))
    assert (gelu(h.bfloat16()).float() - gelu(h)).abs().max().item() < 0.02  # bf16 rounding, no more
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


def test_train_dtype_auto_follows_the_units_and_bf16_falls_back_with_one_warning(monkeypatch):
    monkeypatch.setattr(P, "bf16_units", lambda: True)
    assert P.train_dtype("fp32") == torch.float32 and P.train_dtype("bf16", "cpu") == torch.bfloat16
    monkeypatch.setattr(P, "bf16_units", lambda: False)
    P.warn_once.cache_clear()
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        assert P.train_dtype("bf16", "cpu") == torch.float32
        assert P.train_dtype("bf16", "mps") == torch.float32
    assert len([x for x in w if "no bf16 matrix units" in str(x.message)]) == 1
    assert len([x for x in w if "not supported on mps" in str(x.message)]) == 1
    P.warn_once.cache_clear()
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        assert P.train_dtype("auto", "cpu") == torch.float32  # auto falls back without a word
        assert P.train_dtype("auto", "mps") == torch.float32
    assert w == []
    monkeypatch.setattr(P, "bf16_units", lambda: True)
    assert P.train_dtype("auto", "cpu") == torch.bfloat16
    with pytest.raises(KinoraError, match="unknown training precision 'fp16'"):
        P.train_dtype("fp16")


def test_qk_norm_is_rms_norm_and_runs_fused_on_bf16_inputs():
    from kinora.models.dit import QKNorm

    torch.manual_seed(0)
    norm, ref = QKNorm(8, eps=1e-6), torch.nn.RMSNorm(8, eps=1e-6)
    torch.nn.init.normal_(norm.weight, 1.0, 0.2)
    ref.load_state_dict(norm.state_dict())  # the same key, so checkpoints load unchanged
    x = torch.randn(2, 3, 5, 8)
    assert torch.equal(norm(x), ref(x))
    with warnings.catch_warnings(record=True) as w:  # bf16 input, fp32 weight: no "cannot dispatch to fused"
        warnings.simplefilter("always")
        y = norm(x.bfloat16())
    assert not w and y.dtype == torch.bfloat16
    assert (y.float() - ref(x)).abs().max().item() < 0.03  # bf16 rounding of outputs of size ~2


def test_bf16_training_keeps_fp32_weights_and_gradients_and_stays_close_to_fp32():
    from kinora.diffusion.flow import flow_loss

    torch.manual_seed(0)
    cfg = get_preset("tiny").dit
    a = DiT(cfg).train()
    for p in a.parameters():
        torch.nn.init.normal_(p, std=0.05)
    b = DiT(cfg).train()
    b.load_state_dict(a.state_dict())
    b.set_train_dtype(torch.bfloat16)
    g = torch.Generator().manual_seed(1)
    x0 = torch.randn(4, cfg.latent_channels, 3, 4, 4, generator=g)
    cond = {"text": torch.randn(4, 5, cfg.text_dim, generator=g), "text_mask": torch.ones(4, 5, dtype=torch.bool),
            "mask": torch.zeros(4, 1, 3, 4, 4)}
    t, noise = torch.rand(4, generator=g), torch.randn(x0.shape, generator=g)
    la, lb = flow_loss(a, x0, cond, t, noise), flow_loss(b, x0, cond, t, noise)
    la.backward()
    lb.backward()
    assert lb.dtype == torch.float32 and 0 < abs(lb.item() - la.item()) / la.item() < 0.02
    used = [(pa, pb) for pa, pb in zip(a.parameters(), b.parameters()) if pa.grad is not None]
    assert len(used) > 20 and all(pb.grad is not None for _, pb in used)
    ga = torch.cat([pa.grad.flatten() for pa, _ in used])
    gb = torch.cat([pb.grad.flatten() for _, pb in used])
    assert all(p.dtype == torch.float32 and p.grad.dtype == torch.float32 for _, p in used)
    assert torch.nn.functional.cosine_similarity(ga, gb, dim=0).item() > 0.99 and not torch.equal(ga, gb)
    with torch.no_grad():  # out of training mode nothing is autocast: sampling is set_compute_dtype's
        free = {"text": cond["text"], "text_mask": cond["text_mask"]}
        assert torch.equal(a.eval()(x0, t, free), b.eval()(x0, t, free))


def test_explicit_bf16_training_attention_matches_sdpa_with_mask_and_gradients():
    from kinora.models.dit import attention

    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 4, 18, 16, generator=g) for _ in range(3))
    mask = torch.ones(2, 1, 1, 18, dtype=torch.bool)
    mask[1, ..., 11:] = False  # a shorter second prompt
    ref = torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    qb, kb, vb = (x.bfloat16().requires_grad_() for x in (q, k, v))
    out = attention(qb, kb, vb, attn_mask=mask)  # the explicit path: bf16, CPU, needs grad, small
    assert out.dtype == torch.bfloat16
    assert (out.float() - ref).abs().max().item() < 0.03
    out.float().square().sum().backward()
    qf, kf, vf = (x.clone().requires_grad_() for x in (q, k, v))
    torch.nn.functional.scaled_dot_product_attention(qf, kf, vf, attn_mask=mask).square().sum().backward()
    for got, want in ((qb, qf), (kb, kf), (vb, vf)):
        cos = torch.nn.functional.cosine_similarity(got.grad.float().flatten(), want.grad.flatten(), dim=0)
        assert cos.item() > 0.99
    # masked keys get no gradient: they were never attended to
    assert kb.grad[1, :, 11:].abs().max().item() == 0.0
