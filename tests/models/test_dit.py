"""The spacetime DiT: shapes for many sizes and durations, zero init, text and batch behaviour, RoPE, checkpoints."""

import pytest
import torch

from kinora.errors import KinoraError
from kinora.models.dit import (
    DiT,
    DiTConfig,
    QKNorm,
    apply_rope,
    load_dit,
    read_dit_metadata,
    rms_norm_pair,
    rope_3d,
    rope_axis_split,
    save_dit,
)


def tiny_cfg(**kw) -> DiTConfig:
    return DiTConfig(**{"latent_channels": 4, "patch": (1, 2, 2), "width": 32, "depth": 2, "heads": 2, **kw})


def perturbed(cfg: DiTConfig, seed: int = 0) -> DiT:
    """A model whose zero-initialised layers are made non-zero, so every path matters."""
    torch.manual_seed(seed)
    m = DiT(cfg).eval()
    with torch.no_grad():
        for p in m.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    return m


def cond_for(B, L=5, seed=1, lengths=None):
    g = torch.Generator().manual_seed(seed)
    text = torch.randn(B, L, 384, generator=g)
    mask = torch.ones(B, L, dtype=torch.bool)
    for i, n in enumerate(lengths or []):
        mask[i, n:] = False
        text[i, n:] = 0
    return {"text": text, "text_mask": mask}


@pytest.mark.parametrize("patch,shape", [
    ((1, 2, 2), (1, 2, 2)),  # an image, the smallest grid
    ((1, 2, 2), (3, 4, 6)),  # non-square
    ((1, 2, 2), (9, 8, 8)),  # 4 s at 64x64
    ((1, 2, 2), (5, 8, 16)),  # 2:1 aspect
    ((1, 1, 1), (3, 5, 7)),  # odd sizes at patch 1
    ((2, 2, 2), (4, 4, 2)),  # temporal patching
])
def test_shapes_any_duration_size_aspect(patch, shape):
    m = perturbed(tiny_cfg(patch=patch))
    x = torch.randn(2, 4, *shape)
    with torch.no_grad():
        v = m(x, torch.rand(2), cond_for(2))
    assert v.shape == x.shape
    assert torch.isfinite(v).all()


def test_zero_init_predicts_zero_velocity():
    m = DiT(tiny_cfg()).eval()
    with torch.no_grad():
        v = m(torch.randn(1, 4, 3, 4, 4), torch.tensor([0.5]), cond_for(1))
    assert torch.count_nonzero(v) == 0


def test_indivisible_grid_is_a_clear_error():
    m = DiT(tiny_cfg())
    with pytest.raises(KinoraError, match="divisible by the patch"):
        m(torch.randn(1, 4, 3, 5, 4), torch.rand(1), cond_for(1))
    with pytest.raises(KinoraError, match="latent channels"):
        m(torch.randn(1, 3, 3, 4, 4), torch.rand(1), cond_for(1))


def test_bad_config_is_a_clear_error():
    with pytest.raises(KinoraError):
        DiTConfig(width=30, heads=4)
    with pytest.raises(KinoraError):
        DiTConfig(patch=(1, 2))


def test_patchify_round_trip():
    m = DiT(tiny_cfg(patch=(1, 2, 2)))
    x = torch.randn(2, 4, 3, 4, 6)
    tokens = m.patchify(x)  # (2, 3*2*3, 4*4)
    assert tokens.shape == (2, 18, 16)
    # unpatchify maps latent_channels back; use a 4-channel input so the sizes agree
    assert torch.equal(m.unpatchify(tokens, 3, 2, 3), x)


def test_text_matters_and_padding_does_not():
    m = perturbed(tiny_cfg())
    x, t = torch.randn(1, 4, 3, 4, 4), torch.tensor([0.7])
    c = cond_for(1, L=4)
    with torch.no_grad():
        v = m(x, t, c)
        other = m(x, t, cond_for(1, L=4, seed=9))
        # the same 4 tokens plus 3 masked padding tokens holding garbage
        padded = {"text": torch.cat([c["text"], torch.randn(1, 3, 384)], 1),
                  "text_mask": torch.cat([c["text_mask"], torch.zeros(1, 3, dtype=torch.bool)], 1)}
        v_pad = m(x, t, padded)
    assert (v - other).abs().max() > 1e-3
    torch.testing.assert_close(v, v_pad, atol=1e-5, rtol=1e-5)


def test_prompt_states_are_made_once_per_prompt_and_weights():
    m = perturbed(tiny_cfg())
    x, c = torch.randn(1, 4, 3, 4, 4), cond_for(1, L=4)
    with torch.enable_grad():  # gradients on: every call makes its own states
        ref = m(x, torch.tensor([0.7]), c).detach()
        assert m._prompt_memo is None
    with torch.no_grad():
        v = m(x, torch.tensor([0.7]), c)
        states = m._prompt_memo[3]
        m(x, torch.tensor([0.2]), {k: t.clone() for k, t in c.items()})  # another step, an equal prompt
        assert m._prompt_memo[3] is states
        changed = {k: t.clone() for k, t in c.items()}
        changed["text"][0, 0, 0] += 1.0  # the same shape, another prompt
        v_changed = m(x, torch.tensor([0.7]), changed)
        assert m._prompt_memo[3] is not states
        other = perturbed(tiny_cfg(), seed=5)
        m.load_state_dict(other.state_dict())  # new weights in place: the kept states are stale
        v_other = m(x, torch.tensor([0.7]), c)
        expected_other = other(x, torch.tensor([0.7]), c)
    assert torch.equal(v, ref)
    assert (v_changed - v).abs().max() > 1e-4
    assert torch.equal(v_other, expected_other)


def test_kept_prompt_states_go_with_train_and_with_new_weight_storage_and_inference_mode_runs():
    m = perturbed(tiny_cfg())
    x, t, c = torch.randn(1, 4, 3, 4, 4), torch.tensor([0.5]), cond_for(1, L=4)
    with torch.no_grad():
        m(x, t, c)
        assert m._prompt_memo is not None
        m.train()
        m.eval()
        assert m._prompt_memo is None  # a training step may have happened in between
        m(x, t, c)
        other = perturbed(tiny_cfg(), seed=7)
        for p, q in zip(m.parameters(), other.parameters()):
            p.data = q.data.clone()  # new storage, version 0: seen by storage
        assert torch.equal(m(x, t, c), other(x, t, c))
        for p, q in zip(m.parameters(), perturbed(tiny_cfg(), seed=8).parameters()):
            p.data.copy_(q.data)  # neither storage nor version moves: forget_prompt() is the way
        m.forget_prompt()
        assert torch.equal(m(x, t, c), perturbed(tiny_cfg(), seed=8)(x, t, c))
    with torch.inference_mode():  # inference tensors keep no version: it runs without the memo
        fresh = perturbed(tiny_cfg(), seed=9)
        v = fresh(x, t, c)
    assert torch.isfinite(v).all() and fresh._prompt_memo is None


def test_rms_norm_pair_is_the_q_and_k_norms():
    torch.manual_seed(0)
    qn, kn = QKNorm(8, eps=1e-6), QKNorm(8, eps=1e-6)
    torch.nn.init.normal_(qn.weight, 1.0, 0.3)
    torch.nn.init.normal_(kn.weight, 1.0, 0.3)
    x = torch.randn(2, 3, 2, 5, 8)  # (2, B, H, N, hd)
    torch.testing.assert_close(rms_norm_pair(x, qn, kn), torch.stack([qn(x[0]), kn(x[1])]), atol=1e-6, rtol=1e-6)


def test_batch_items_are_independent():
    m = perturbed(tiny_cfg())
    x, t = torch.randn(3, 4, 3, 4, 4), torch.tensor([0.1, 0.5, 0.9])
    c = cond_for(3, L=6, lengths=[6, 2, 4])
    with torch.no_grad():
        v = m(x, t, c)
        v1 = m(x[1:2], t[1:2], {"text": c["text"][1:2, :2], "text_mask": c["text_mask"][1:2, :2]})
    torch.testing.assert_close(v[1:2], v1, atol=1e-5, rtol=1e-5)


def test_mask_conditioning_reaches_the_model():
    m = perturbed(tiny_cfg())
    x, t = torch.randn(1, 4, 3, 4, 4), torch.tensor([0.5])
    mask = torch.zeros(1, 1, 3, 4, 4)
    mask[:, :, 0] = 1
    with torch.no_grad():
        a = m(x, t, {**cond_for(1), "mask": mask, "known": torch.randn(1, 4, 3, 4, 4)})
        b = m(x, t, {**cond_for(1), "mask": mask, "known": torch.randn(1, 4, 3, 4, 4)})
        c = m(x, t, cond_for(1))
    assert (a - b).abs().max() > 1e-4 and (a - c).abs().max() > 1e-4


def test_deterministic():
    a, b = perturbed(tiny_cfg(), seed=3), perturbed(tiny_cfg(), seed=3)
    x = torch.randn(2, 4, 3, 4, 4)
    with torch.no_grad():
        va, vb = a(x, torch.rand(2, generator=torch.Generator().manual_seed(0)), cond_for(2)), \
            b(x, torch.rand(2, generator=torch.Generator().manual_seed(0)), cond_for(2))
    assert torch.equal(va, vb)


def test_rope_splits_head_dim_over_three_axes():
    assert rope_axis_split(64) == (8, 12, 12)
    assert sum(rope_axis_split(16)) <= 8
    cos, sin = rope_3d(3, 4, 5, 16, 10000.0)
    assert cos.shape == sin.shape == (60, 8)


def test_rope_scores_depend_only_on_relative_position():
    hd, (f, h, w) = 32, (6, 5, 7)
    cos, sin = rope_3d(f, h, w, hd, 10000.0)
    q, k = torch.randn(1, 1, 1, hd), torch.randn(1, 1, 1, hd)
    idx = lambda a, b, c: (a * h + b) * w + c  # noqa: E731 token index in (f, h, w) order

    def score(i, j):
        qi = apply_rope(q, cos[i:i + 1], sin[i:i + 1])
        kj = apply_rope(k, cos[j:j + 1], sin[j:j + 1])
        return (qi * kj).sum().item()

    # the same offset (1, 2, -3) at two different places of the grid gives the same score
    s1 = score(idx(0, 0, 3), idx(1, 2, 0))
    s2 = score(idx(4, 2, 6), idx(5, 4, 3))
    assert abs(s1 - s2) < 1e-4
    assert abs(s1 - score(idx(0, 0, 3), idx(0, 0, 3))) > 1e-4  # and positions do matter


def test_checkpoint_round_trip(tmp_path):
    m = perturbed(tiny_cfg(patch=(1, 1, 1)))
    path = save_dit(tmp_path / "dit.safetensors", m, {"preset": "tiny", "step": 7})
    loaded, meta = load_dit(path)
    assert meta["preset"] == "tiny" and meta["step"] == 7
    assert meta["dit_config"] == m.cfg
    x = torch.randn(1, 4, 3, 4, 4)
    with torch.no_grad():
        assert torch.equal(m(x, torch.tensor([0.3]), cond_for(1)), loaded(x, torch.tensor([0.3]), cond_for(1)))
    # float16 for shipping: half the size, loads back as float32, close outputs
    half = save_dit(tmp_path / "half.safetensors", m, dtype=torch.float16)
    assert half.stat().st_size < 0.6 * path.stat().st_size
    h, _ = load_dit(half)
    assert next(h.parameters()).dtype == torch.float32
    assert read_dit_metadata(half)["dit_config"] == m.cfg


def test_bad_checkpoint_is_a_clear_error(tmp_path):
    with pytest.raises(KinoraError, match="no DiT checkpoint"):
        load_dit(tmp_path / "missing.safetensors")
    (tmp_path / "junk.safetensors").write_bytes(b"not a checkpoint")
    with pytest.raises(KinoraError):
        load_dit(tmp_path / "junk.safetensors")
