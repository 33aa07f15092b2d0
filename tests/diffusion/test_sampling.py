"""Samplers: schedules, Euler and Heun on known distributions, known-region preservation, CFG."""

import math

import pytest
import torch

from kinora.diffusion.flow import TASKS, frames_mask
from kinora.diffusion.sampling import CFG, SAMPLERS, batch_cond, get_sigmas, sample_euler, sample_heun
from kinora.errors import KinoraError
from kinora.models.dit import DiT, DiTConfig


def test_sigmas():
    s = get_sigmas(10)
    assert s.shape == (11,) and s[0] == 1 and s[-1] == 0
    assert (s[1:] < s[:-1]).all()
    shifted = get_sigmas(10, shift=3.0)
    assert shifted[0] == 1 and shifted[-1] == 0 and (shifted[1:-1] > s[1:-1]).all()
    assert get_sigmas(4, t_max=0.5)[0] == pytest.approx(0.5)  # SDEdit starts part-way
    with pytest.raises(KinoraError):
        get_sigmas(0)
    with pytest.raises(KinoraError):
        get_sigmas(4, t_max=1.5)


def mixture_velocity(weights, means, stds):
    """The exact rectified-flow velocity E[eps - x0 | x_t] for a 1-D Gaussian mixture."""
    w, m, s = (torch.tensor(a, dtype=torch.float64) for a in (weights, means, stds))

    def v(x, t):
        t = t.double().view(-1, *([1] * (x.ndim - 1)))[..., None]  # (B, 1.., 1)
        xx = x.double()[..., None]  # (B, ..., K)
        var = (1 - t) ** 2 * s ** 2 + t ** 2
        d = xx - (1 - t) * m
        logr = torch.log(w) - 0.5 * torch.log(var) - d ** 2 / (2 * var)
        r = torch.softmax(logr, dim=-1)
        e_x0 = m + (1 - t) * s ** 2 / var * d
        e_eps = t / var * d
        return (r * (e_eps - e_x0)).sum(-1).to(x.dtype)

    return v


def test_samplers_recover_a_gaussian_mixture():
    v = mixture_velocity([0.3, 0.7], [-2.0, 1.5], [0.3, 0.5])
    z = torch.randn(20000, 1, 1, 1, 1, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    for sampler, steps in [(sample_heun, 12), (sample_euler, 40)]:
        x = sampler(v, z.clone(), get_sigmas(steps, shift=2.0)).flatten()
        left, right = x[x < 0], x[x >= 0]
        assert abs(len(left) / len(x) - 0.3) < 0.02, sampler.__name__
        assert abs(left.mean() + 2.0) < 0.05 and abs(right.mean() - 1.5) < 0.05
        assert abs(left.std() - 0.3) < 0.05 and abs(right.std() - 0.5) < 0.05


def test_heun_is_second_order():
    # For one Gaussian the exact flow maps noise z to mu + s z.
    v = mixture_velocity([1.0], [0.7], [0.4])
    z = torch.randn(1000, 1, 1, 1, 1, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    exact = 0.7 + 0.4 * z
    err = {}
    for name, sampler in SAMPLERS.items():
        for n in (5, 10):
            err[name, n] = (sampler(v, z.clone(), get_sigmas(n)) - exact).abs().max().item()
    assert err["heun", 10] < err["euler", 10] / 5
    assert err["euler", 5] / err["euler", 10] < 2.6  # first order: about 2x per halving
    assert err["heun", 5] / err["heun", 10] > 3.0  # second order: about 4x per halving
    assert sample_heun(v, z.clone(), get_sigmas(40)).sub(exact).abs().max() < 5e-3


def test_callback_sees_every_step():
    seen = []
    v = mixture_velocity([1.0], [0.0], [1.0])
    sample_euler(v, torch.randn(2, 1, 1, 1, 1, dtype=torch.float64), get_sigmas(6), callback=seen.append)
    assert [d["i"] for d in seen] == list(range(6))
    assert set(seen[0]) >= {"x", "i", "sigma", "sigma_next", "denoised"}


def tiny_dit(seed=0) -> DiT:
    torch.manual_seed(seed)
    m = DiT(DiTConfig(latent_channels=4, patch=(1, 2, 2), width=32, depth=2, heads=2)).eval()
    with torch.no_grad():
        for p in m.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    return m


def text(B, L, seed):
    g = torch.Generator().manual_seed(seed)
    return {"text": torch.randn(B, L, 384, generator=g), "text_mask": torch.ones(B, L, dtype=torch.bool)}


@pytest.mark.parametrize("task", sorted(TASKS) + ["loop"])
@pytest.mark.parametrize("sampler", sorted(SAMPLERS))
def test_conditioned_latents_come_back_unchanged(task, sampler):
    B, C, F, h, w = 2, 4, 5, 4, 4
    g = torch.Generator().manual_seed(0)
    if task == "loop":  # the bridge mask with the same frame at both ends
        mask = frames_mask(F, h, w, [0, -1])[None].expand(B, -1, -1, -1, -1)
        clip = torch.randn(B, C, F, h, w, generator=g)
        clip[:, :, -1] = clip[:, :, 0]
    else:
        mask = TASKS[task](F, h, w, g)[None, None].expand(B, -1, -1, -1, -1)
        clip = torch.randn(B, C, F, h, w, generator=g)
    cond = {**text(B, 3, 1), "mask": mask, "known": clip * mask}
    uncond = {**text(B, 2, 2)}
    model = CFG(tiny_dit(), scale=3.0)
    noise = torch.randn(B, C, F, h, w, generator=g)
    out = SAMPLERS[sampler](model, noise, get_sigmas(3), {"cond": cond, "uncond": uncond})
    known = mask.expand_as(out) > 0
    assert torch.equal(out[known], clip[known])
    if task == "loop":
        assert torch.equal(out[:, :, 0], out[:, :, -1])
    if task != "inpaint" or (mask < 1).any():
        assert (out[~known] - noise[~known]).abs().max() > 1e-3  # the rest was generated


def test_cfg_batched_equals_separate_passes():
    m = tiny_dit()
    x, t = torch.randn(2, 4, 3, 4, 4), torch.tensor([0.6, 0.6])
    cond, uncond = text(2, 5, 1), text(2, 2, 2)
    with torch.no_grad():
        v = CFG(m, 4.0)(x, t, cond, uncond)
        vc, vu = m(x, t, cond), m(x, t, uncond)
        torch.testing.assert_close(v, vu + 4.0 * (vc - vu), atol=1e-4, rtol=1e-4)
        torch.testing.assert_close(CFG(m, 1.0)(x, t, cond, uncond), vc)
    both = batch_cond(cond, uncond)
    assert both["text"].shape == (4, 5, 384) and both["text_mask"][2:, 2:].sum() == 0


def test_sampling_is_deterministic():
    m = CFG(tiny_dit(), 2.0)
    args = {"cond": text(1, 3, 1), "uncond": text(1, 2, 2)}
    z = torch.randn(1, 4, 3, 4, 4, generator=torch.Generator().manual_seed(5))
    a = sample_euler(m, z.clone(), get_sigmas(3, shift=2.0), args)
    b = sample_euler(m, z.clone(), get_sigmas(3, shift=2.0), args)
    assert torch.equal(a, b) and math.isfinite(a.abs().sum().item())
