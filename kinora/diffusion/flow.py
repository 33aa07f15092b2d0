"""Rectified flow: timesteps, noising, the training loss, and the task masks.

The straight path between data and noise (Liu et al. 2022; SD3; Open-Sora 1.2 / 2.0):

    x_t = (1 - t) * x0 + t * eps,   eps ~ N(0, I),   t in [0, 1] (t = 1 is pure noise)
    the model predicts the velocity  v = dx_t/dt = eps - x0,  and sampling integrates
    dx/dt = v from t = 1 down to t = 0 (kinora/diffusion/sampling.py).

Training timesteps follow Open-Sora 2.0 / SD3: t = sigmoid(n), n ~ N(0, 1) (logit-normal,
most samples in the middle where the task is hardest), then a time shift
t' = s t / (1 + (s - 1) t) with s growing as the square root of the number of latent
positions: a longer or larger video has more redundant pixels, so the same noise level
destroys less of it and training (and sampling) must spend more time at high noise.

One model does every task because each batch item gets a conditioning mask on its
latents (1 = known, given clean to the model): text-to-video has none, image-to-video
knows latent frame 0, extension knows a prefix (forward) or a suffix (backward), bridging
knows the first and last frames, looping is bridging with the same frame at both ends,
inpainting knows everything outside a spacetime box. The tasks are rows of a table
(`TASKS`), each a small function that draws a mask; training mixes them with
probabilities from the preset. The loss is taken only on the unknown positions, and the
known positions of x_t are the clean latents, exactly what the sampler re-imposes.
"""

from __future__ import annotations

import math
from typing import Callable

import torch

from kinora.errors import KinoraError

# ---------------------------------------------------------------------------------
# Timesteps
# ---------------------------------------------------------------------------------

# Latent positions (F * h * w) at which the shift is 1. 144 = 9 latent frames of a
# 4 s 64x64 clip would make s = sqrt(576 / 144) = 2 for that clip; 128x128 for 4 s -> 4.
SHIFT_BASE_POSITIONS = 144


def resolution_shift(frames: int, height: int, width: int, base: int = SHIFT_BASE_POSITIONS,
                     scale: float = 1.0) -> float:
    """The time shift s for a latent grid (F, h, w): scale * sqrt(F*h*w / base), at least 1."""
    return max(1.0, scale * math.sqrt(frames * height * width / base))


def shift_time(t: torch.Tensor, shift: float) -> torch.Tensor:
    """t' = s t / (1 + (s - 1) t): s > 1 moves timesteps towards noise; keeps 0 -> 0, 1 -> 1."""
    return shift * t / (1 + (shift - 1) * t)


def sample_t(n: int, shift: float = 1.0, generator: torch.Generator | None = None,
             mean: float = 0.0, std: float = 1.0) -> torch.Tensor:
    """Training timesteps: logit-normal (sigmoid of N(mean, std)) then shifted: (n,) in (0, 1)."""
    t = torch.sigmoid(mean + std * torch.randn(n, generator=generator))
    return shift_time(t, shift)


def add_noise(x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """x_t = (1 - t) x0 + t eps for t of shape (B,)."""
    t = t.view(-1, *([1] * (x0.ndim - 1)))  # (B, 1, 1, 1, 1)
    return (1 - t) * x0 + t * noise


def impose_known(x: torch.Tensor, cond: dict) -> torch.Tensor:
    """Put the clean known latents back where cond["mask"] is 1 (no-op without a mask)."""
    mask = cond.get("mask")
    if mask is None:
        return x
    return x * (1 - mask) + cond["known"] * mask


# ---------------------------------------------------------------------------------
# Task masks: (F, h, w) float, 1 = known latent. Each draws its own random choices.
# ---------------------------------------------------------------------------------


def _randint(lo: int, hi: int, g: torch.Generator | None) -> int:
    """Uniform integer in [lo, hi] inclusive."""
    return int(torch.randint(lo, hi + 1, (1,), generator=g))


def mask_t2v(F, h, w, g=None):
    return torch.zeros(F, h, w)


def mask_i2v(F, h, w, g=None):
    m = torch.zeros(F, h, w)
    m[0] = 1
    return m


def mask_extend_forward(F, h, w, g=None):
    """A prefix of 1 .. F-1 latent frames is given; generate the rest."""
    m = torch.zeros(F, h, w)
    m[:_randint(1, max(1, F - 1), g)] = 1
    return m


def mask_extend_backward(F, h, w, g=None):
    """A suffix is given; generate what came before."""
    m = torch.zeros(F, h, w)
    m[F - _randint(1, max(1, F - 1), g):] = 1
    return m


def mask_bridge(F, h, w, g=None):
    """First and last latent frames given; also trains looping (same frame at both ends)."""
    m = torch.zeros(F, h, w)
    m[0] = 1
    m[-1] = 1
    return m


def mask_inpaint(F, h, w, g=None):
    """Known everywhere except a random spacetime box (at least one cell, at most all)."""
    m = torch.ones(F, h, w)
    f0, f1 = sorted((_randint(0, F - 1, g), _randint(0, F - 1, g)))
    y0, y1 = sorted((_randint(0, h - 1, g), _randint(0, h - 1, g)))
    x0, x1 = sorted((_randint(0, w - 1, g), _randint(0, w - 1, g)))
    m[f0:f1 + 1, y0:y1 + 1, x0:x1 + 1] = 0
    return m


# The task table. Looping has no row of its own: at train time it is the bridge mask; at
# sampling time it is the bridge mask with the same latent frame at both ends.
TASKS: dict[str, Callable] = {
    "t2v": mask_t2v,
    "i2v": mask_i2v,
    "extend_forward": mask_extend_forward,
    "extend_backward": mask_extend_backward,
    "bridge": mask_bridge,
    "inpaint": mask_inpaint,
}

# Default training mix (Open-Sora 2.0 trains mostly t2v with a share of conditioned tasks).
DEFAULT_TASK_PROBS: dict[str, float] = {
    "t2v": 0.5, "i2v": 0.15, "extend_forward": 0.1, "extend_backward": 0.05, "bridge": 0.1, "inpaint": 0.1,
}


def sample_masks(B: int, F: int, h: int, w: int, probs: dict[str, float] | None = None,
                 generator: torch.Generator | None = None) -> tuple[torch.Tensor, list[str]]:
    """Draw one task per batch item: masks (B, 1, F, h, w) float and the task names.

    A one-frame clip (an image) can only be t2v or inpaint: a task that would leave no
    unknown position gets replaced by t2v, so the loss always has something to learn.
    """
    probs = DEFAULT_TASK_PROBS if probs is None else probs
    unknown = set(probs) - set(TASKS)
    if unknown:
        raise KinoraError(f"unknown tasks {sorted(unknown)}; known: {sorted(TASKS)}")
    names = list(probs)
    weights = torch.tensor([float(probs[n]) for n in names])
    if (weights < 0).any() or weights.sum() <= 0:
        raise KinoraError(f"task probabilities must be non-negative and not all zero: {probs}")
    picks = torch.multinomial(weights, B, replacement=True, generator=generator).tolist()
    masks, tasks = [], []
    for i in picks:
        m = TASKS[names[i]](F, h, w, generator)
        name = names[i]
        if m.min() > 0:  # fully known: nothing to learn
            m, name = mask_t2v(F, h, w), "t2v"
        masks.append(m)
        tasks.append(name)
    return torch.stack(masks)[:, None], tasks  # (B, 1, F, h, w)


def frames_mask(F: int, h: int, w: int, known_frames: list[int]) -> torch.Tensor:
    """An inference mask (1, F, h, w) with whole latent frames known (negative = from the end)."""
    m = torch.zeros(1, F, h, w)
    for i in known_frames:
        if not -F <= i < F:
            raise KinoraError(f"known latent frame {i} is outside 0..{F - 1}")
        m[:, i] = 1
    return m


# ---------------------------------------------------------------------------------
# The loss
# ---------------------------------------------------------------------------------


def flow_loss(model, x0: torch.Tensor, cond: dict, t: torch.Tensor, noise: torch.Tensor,
              per_sample: bool = False):
    """Mean squared velocity error over the unknown positions.

    x0 (B, C, F, h, w) clean latents; cond holds text, text_mask and optionally "mask"
    (B, 1, F, h, w); "known" is filled here from x0. Known positions of x_t are the clean
    latents (as in sampling) and carry no loss. With per_sample, also returns each item's
    own mean error (B,), detached, for logging by task.
    """
    mask = cond.get("mask")
    x_t = add_noise(x0, noise, t)  # (B, C, F, h, w)
    if mask is not None:
        cond = {**cond, "known": x0 * mask}
        x_t = impose_known(x_t, cond)
        weight = (1 - mask).expand_as(x0)  # (B, C, F, h, w) 1 = learn here
    else:
        weight = torch.ones_like(x0)
    v = model(x_t, t, cond)  # (B, C, F, h, w)
    err = (v.float() - (noise - x0).float()) ** 2 * weight  # (B, C, F, h, w)
    loss = err.sum() / weight.sum().clamp(min=1.0)
    if not per_sample:
        return loss
    dims = tuple(range(1, x0.ndim))
    return loss, (err.sum(dims) / weight.sum(dims).clamp(min=1.0)).detach()  # (B,)
