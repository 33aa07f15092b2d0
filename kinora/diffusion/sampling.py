"""Samplers for rectified flow: schedules apart from solvers, plain functions (k-diffusion style).

In rectified flow the noise level sigma IS the flow time t (x_t = (1 - t) x0 + t eps), so
a schedule is a decreasing list of times from t_max (1 = pure noise; less for SDEdit) to
0. Every solver has the same signature

    x0 = sample_xxx(model, x, sigmas, extra_args=None, callback=None)

where `model(x, t, **extra_args)` returns the velocity v = eps - x0 for x (B, C, F, h, w)
and t (B,), and `x` is the starting state at sigmas[0] (pure noise for t_max = 1).
`extra_args["cond"]` is the DiT's cond dict; if it holds a conditioning "mask" and the
"known" latents, the known region is put back after every step, so conditioned frames
come back exactly unchanged (Open-Sora / Open-Sora-Plan's mask conditioning).

`CFG` wraps a model for classifier-free guidance: v = v_u + scale * (v_c - v_u), with the
conditional and unconditional (negative prompt) halves run as one batch.
"""

from __future__ import annotations

from typing import Callable

import torch

from kinora.diffusion.flow import impose_known, shift_time
from kinora.errors import KinoraError

# ---------------------------------------------------------------------------------
# Schedules
# ---------------------------------------------------------------------------------


def get_sigmas(steps: int, shift: float = 1.0, t_max: float = 1.0) -> torch.Tensor:
    """Flow times for `steps` steps: uniform in t from t_max to 0, then time-shifted. (steps + 1,)

    `shift` should be the training shift for the same latent grid
    (`kinora.diffusion.flow.resolution_shift`), so sampling spends its steps where training did.
    """
    if steps < 1:
        raise KinoraError(f"steps must be at least 1, got {steps}")
    if not 0.0 < t_max <= 1.0:
        raise KinoraError(f"t_max must be in (0, 1], got {t_max}")
    t = torch.linspace(t_max, 0.0, steps + 1, dtype=torch.float64)
    return shift_time(t, shift).float()


# ---------------------------------------------------------------------------------
# Classifier-free guidance
# ---------------------------------------------------------------------------------


def _pad_text(a: torch.Tensor, L: int) -> torch.Tensor:
    """Zero-pad (B, l, ...) along dim 1 to length L."""
    if a.shape[1] == L:
        return a
    pad = a.new_zeros(a.shape[0], L - a.shape[1], *a.shape[2:])
    return torch.cat([a, pad], dim=1)


def batch_cond(cond: dict, uncond: dict) -> dict:
    """Stack two cond dicts along the batch (padding text to one length) for one forward."""
    L = max(cond["text"].shape[1], uncond["text"].shape[1])
    out = {
        "text": torch.cat([_pad_text(cond["text"], L), _pad_text(uncond["text"], L)]),  # (2B, L, 384)
        "text_mask": torch.cat([_pad_text(cond["text_mask"], L), _pad_text(uncond["text_mask"], L)]),  # (2B, L)
    }
    # The same known region and physics signal for both halves: guidance is on text only.
    for key in ("mask", "known", "signal"):
        if cond.get(key) is not None:
            out[key] = torch.cat([cond[key], uncond.get(key, cond[key])])
    return out


class CFG:
    """Classifier-free guidance on text: v = v_u + scale * (v_c - v_u).

    Call as model(x, t, cond=..., uncond=...): `uncond` is the cond dict with the empty or
    negative prompt (its "mask"/"known" default to cond's). scale 1 or no uncond -> one pass.
    """

    def __init__(self, model: Callable, scale: float):
        self.model = model
        self.scale = float(scale)

    def __call__(self, x: torch.Tensor, t: torch.Tensor, cond: dict, uncond: dict | None = None) -> torch.Tensor:
        if uncond is None or self.scale == 1.0:
            return self.model(x, t, cond)
        both = batch_cond(cond, uncond)
        v = self.model(torch.cat([x, x]), torch.cat([t, t]), both)  # (2B, C, F, h, w)
        v_c, v_u = v.chunk(2)
        return v_u + self.scale * (v_c - v_u)


# ---------------------------------------------------------------------------------
# Solvers
# ---------------------------------------------------------------------------------


def _step_setup(x, extra_args):
    extra_args = {} if extra_args is None else extra_args
    cond = extra_args.get("cond") or {}
    return extra_args, cond, x.new_ones(x.shape[0])


@torch.no_grad()
def sample_euler(model, x, sigmas, extra_args=None, callback=None):
    """Euler's method on dx/dt = v (the rectified-flow sampler of SD3 / Open-Sora)."""
    extra_args, cond, ones = _step_setup(x, extra_args)
    x = impose_known(x, cond)
    for i in range(len(sigmas) - 1):
        t, t_next = sigmas[i], sigmas[i + 1]
        v = model(x, t * ones, **extra_args)  # (B, C, F, h, w)
        if callback is not None:
            callback({"x": x, "i": i, "sigma": t, "sigma_next": t_next, "denoised": x - t * v})
        x = impose_known(x + (t_next - t) * v, cond)
    return x


@torch.no_grad()
def sample_heun(model, x, sigmas, extra_args=None, callback=None):
    """Heun's second-order method (Karras et al. 2022, Alg. 1 without churn); Euler on the last step."""
    extra_args, cond, ones = _step_setup(x, extra_args)
    x = impose_known(x, cond)
    for i in range(len(sigmas) - 1):
        t, t_next = sigmas[i], sigmas[i + 1]
        v = model(x, t * ones, **extra_args)
        if callback is not None:
            callback({"x": x, "i": i, "sigma": t, "sigma_next": t_next, "denoised": x - t * v})
        x_euler = impose_known(x + (t_next - t) * v, cond)
        if t_next == 0:  # the corrector would evaluate the model at t = 0: not worth a pass
            x = x_euler
        else:
            v_next = model(x_euler, t_next * ones, **extra_args)
            x = impose_known(x + (t_next - t) * (v + v_next) / 2, cond)
    return x


SAMPLERS: dict[str, Callable] = {"euler": sample_euler, "heun": sample_heun}
