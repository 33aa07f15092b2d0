"""The one registry of named model presets: VAE sizes and their training defaults, and
the DiT presets (VAE config + DiT config + training and sampling defaults).

    from kinora.models.presets import get_preset, PRESETS, VAE_PRESETS, VAE_TRAIN_DEFAULTS
    p = get_preset("small")        # p.vae (VAEConfig), p.dit (DiTConfig), p.train, p.sample
    VAE_PRESETS["small"]           # the VAE's VAEConfig; VAE_TRAIN_DEFAULTS["small"]: how it trains

The CLI offers `sorted(PRESETS)` (`kinora train`) and `sorted(VAE_PRESETS)` (`kinora
train-vae`) as choices (DiT's models.py does the same with its size factories). Every
number a run depends on lives here once; `kinora train` and `kinora train-vae` may
override some of the training ones from the command line and record what they used in
every checkpoint.

| preset | DiT width x depth (heads, patch) | params | what it is for                              |
|--------|----------------------------------|--------|---------------------------------------------|
| tiny   |  64 x 2  (4, 1x2x2)              | 0.24 M | tests: builds and runs in milliseconds      |
| small  | 256 x 6  (4, 1x2x2)              | 7.3 M  | the shipped CPU model (64x64, 8 fps)        |
| base   | 768 x 16 (12, 1x2x2)             | 158 M  | one GPU; 128x128 and longer clips           |
| large  | 1152 x 28 (16, 1x2x2)            | 610 M  | several GPUs under torchrun                 |

Why patch 1x2x2 for "small" (measure with `kinora presets --time small --threads 1`):
4 s of 64x64 at 8 fps is 33 frames -> 9 x 8 x 8 = 576 latent cells. One CFG forward
(batch 2) of "small" on one thread takes about 0.1 s on a quiet machine (0.21-0.24 s on a
busy shared one) at 144 tokens (patch 1x2x2), but 0.93-0.99 s at 576 tokens (patch
1x1x1, same busy machine): 4.3x more. With 10 Euler steps + CFG + the VAE decode, 4 s of
video takes 1.6 s on one busy core at patch 1x2x2 for a 320 x 8 model.

Why 256 x 6 (7.3 M) rather than 320 x 8 (14.6 M): the shipped model is trained on the
2-core CPU, where one batch-16 training step of 320 x 8 costs about 5 s on a busy core;
halving the cost doubles the steps a training session gets, which matters more than
width at this stage. The float16 weights are 15 MB, with the 7 MB VAE well inside 50 MB.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from kinora.defaults import DEFAULT_PRESET
from kinora.diffusion.flow import DEFAULT_TASK_PROBS
from kinora.errors import KinoraError
from kinora.models.dit import DiTConfig
from kinora.models.vae import VAEConfig
from kinora.world.signal import SIGNAL_CHANNELS

# ---------------------------------------------------------------------------------
# The VAE: sizes and training defaults
# ---------------------------------------------------------------------------------

VAE_PRESETS: dict[str, VAEConfig] = {
    # Tests: a few thousand parameters, runs in milliseconds.
    "tiny": VAEConfig(latent_channels=4, base_channels=8, channel_mult=(1, 2, 2),
                      enc_blocks=(1, 1, 1), dec_blocks=(1, 1, 1)),
    # Shipped: 3.6M parameters (7 MB as float16); decodes 33 frames at 64x64 in about
    # 0.1 s on one core. The decoder is the heavier half: it has to invent motion
    # within each 4-frame group.
    "small": VAEConfig(latent_channels=8, base_channels=32, channel_mult=(1, 2, 4),
                       enc_blocks=(1, 1, 2), dec_blocks=(1, 2, 3)),
}


@dataclass
class PoolBucket:
    """One clip size in the VAE's simulated training pool (kinora.train.data.ClipPool)."""

    width: int
    height: int
    frames: int  # frames per simulated clip (1 + 4k)
    pool: int  # clips kept in memory
    weight: float  # how often a batch comes from this bucket


@dataclass
class VAETrainDefaults:
    """How a VAE trains (`kinora train-vae`, kinora.train.vae); a run records these, with its
    own choices, as its `train_config`."""

    steps: int = 20000
    lr: float = 1e-3
    lr_min_ratio: float = 0.1  # cosine from lr to lr * this at `steps`
    warmup: int = 200  # (a run uses at most steps // 10 of it)
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    ema_decay: float = 0.999
    kl_weight: float = 1e-5
    pixels_per_step: int = 4 * 17 * 64 * 64  # batch size = this / (T * H * W)
    image_pixels_per_step: int = 16 * 64 * 64
    image_prob: float = 0.25
    window: int = 17  # training clip length, 1 + 4 * 4
    buckets: list[PoolBucket] = field(default_factory=lambda: [
        PoolBucket(64, 64, 33, pool=1000, weight=0.62),
        PoolBucket(128, 128, 17, pool=150, weight=0.16),
        PoolBucket(128, 64, 17, pool=60, weight=0.08),
        PoolBucket(96, 64, 17, pool=60, weight=0.08),
        PoolBucket(64, 96, 17, pool=40, weight=0.06),
    ])
    fill_per_step: int = 2  # clips simulated per step until the pool is full
    min_pool: int = 24  # clips simulated before the first step
    refresh_every: int = 8  # then one new clip every this many steps
    log_every: int = 25
    eval_every: int = 500
    save_every: int = 250
    eval_clips: int = 64  # held-out 64x64 clips, 33 frames each
    stat_clips: int = 32  # training clips used to measure scaling/shift factors
    edge_weight: float = 0.0  # extra weight of pixels on edges (kinora.train.vae)


# Both sizes train the same way: "tiny" is for tests, which shrink the pool and the steps.
VAE_TRAIN_DEFAULTS: dict[str, VAETrainDefaults] = {name: VAETrainDefaults() for name in VAE_PRESETS}


def get_vae_train_defaults(name: str) -> VAETrainDefaults:
    """A fresh copy of a VAE preset's training defaults (so callers may change it freely)."""
    if name not in VAE_TRAIN_DEFAULTS:
        raise KinoraError(f"unknown VAE preset {name!r}; choose one of {', '.join(sorted(VAE_PRESETS))}")
    d = VAE_TRAIN_DEFAULTS[name]
    return dataclasses.replace(d, buckets=[dataclasses.replace(b) for b in d.buckets])


# ---------------------------------------------------------------------------------
# The DiT presets
# ---------------------------------------------------------------------------------


@dataclass
class TrainDefaults:
    """Training hyper-parameters; `kinora train` flags of the same name override them."""

    batch_size: int = 16  # global, split across torchrun ranks
    lr: float = 3e-4
    weight_decay: float = 0.0
    warmup_steps: int = 500
    steps: int = 30_000
    ema_decay: float = 0.999
    grad_clip: float = 1.0
    text_dropout: float = 0.2  # captions replaced by "" for classifier-free guidance (Open-Sora: ~0.3)
    # Clips trained without their physics signal, so one checkpoint also generates free
    # (kinora.world.signal); half, because the free mode must not lose what it had.
    signal_dropout: float = 0.5
    task_probs: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_TASK_PROBS))
    shift_scale: float = 1.0  # multiplies the resolution/length time shift (kinora.diffusion.flow)
    log_every: int = 25
    ckpt_every: int = 500
    # Data: clips are resized to about width x height (aspect kept by buckets), resampled
    # to fps, and cut to at most max_frames video frames (1 + 4k).
    width: int = 64
    height: int = 64
    fps: int = 8
    max_frames: int = 33


@dataclass
class SampleDefaults:
    """What generation uses unless told otherwise (the pipeline reads these)."""

    sampler: str = "euler"
    steps: int = 10
    guidance: float = 3.0  # text classifier-free guidance scale
    # (the time shift is the one the model was trained with: TrainDefaults.shift_scale, as recorded)


@dataclass
class Preset:
    name: str
    vae_name: str  # key into VAE_PRESETS (and the default VAE checkpoint's name)
    vae: VAEConfig
    dit: DiTConfig
    train: TrainDefaults = field(default_factory=TrainDefaults)
    sample: SampleDefaults = field(default_factory=SampleDefaults)
    description: str = ""

    def __post_init__(self):
        if self.vae.latent_channels != self.dit.latent_channels:
            raise ValueError(f"preset {self.name}: VAE has {self.vae.latent_channels} latent channels, "
                             f"DiT expects {self.dit.latent_channels}")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _preset(name: str, vae: str, dit: DiTConfig, description: str, **train) -> Preset:
    return Preset(name=name, vae_name=vae, vae=dataclasses.replace(VAE_PRESETS[vae]), dit=dit,
                  train=TrainDefaults(**train), description=description)


PRESETS: dict[str, Preset] = {p.name: p for p in [
    _preset("tiny", "tiny", DiTConfig(latent_channels=VAE_PRESETS["tiny"].latent_channels, patch=(1, 2, 2),
                                      width=64, depth=2, heads=4, signal_channels=SIGNAL_CHANNELS),
            "tests: builds and trains in milliseconds",
            batch_size=2, lr=1e-3, warmup_steps=0, steps=20, ema_decay=0.9, log_every=1, ckpt_every=10,
            width=32, height=32, max_frames=9),
    _preset("small", "small", DiTConfig(latent_channels=VAE_PRESETS["small"].latent_channels, patch=(1, 2, 2),
                                        width=256, depth=6, heads=4, signal_channels=SIGNAL_CHANNELS),
            "the shipped CPU model: 64x64 at 8 fps, up to 33 frames per clip",
            batch_size=16, lr=3e-4, warmup_steps=500, steps=30_000),
    _preset("base", "small", DiTConfig(latent_channels=VAE_PRESETS["small"].latent_channels, patch=(1, 2, 2),
                                       width=768, depth=16, heads=12, grad_checkpoint=True,
                                       signal_channels=SIGNAL_CHANNELS),
            "one GPU: 128x128, up to 65 frames",
            batch_size=64, lr=2e-4, warmup_steps=1000, steps=100_000, ema_decay=0.9999,
            width=128, height=128, max_frames=65),
    _preset("large", "small", DiTConfig(latent_channels=VAE_PRESETS["small"].latent_channels, patch=(1, 2, 2),
                                        width=1152, depth=28, heads=16, grad_checkpoint=True,
                                        signal_channels=SIGNAL_CHANNELS),
            "several GPUs under torchrun: 128x128 and up, up to 129 frames",
            batch_size=256, lr=1e-4, warmup_steps=2000, steps=200_000, ema_decay=0.9999,
            width=128, height=128, max_frames=129),
]}


DEFAULT_VAE_PRESET = PRESETS[DEFAULT_PRESET].vae_name  # the VAE the shipped DiT decodes with


def get_preset(name: str) -> Preset:
    """A fresh copy of the named preset (so callers may change it freely)."""
    if name not in PRESETS:
        raise KinoraError(f"unknown preset {name!r}; choose one of {', '.join(sorted(PRESETS))}")
    p = PRESETS[name]
    return Preset(name=p.name, vae_name=p.vae_name, vae=dataclasses.replace(p.vae), dit=dataclasses.replace(p.dit),
                  train=dataclasses.replace(p.train, task_probs=dict(p.train.task_probs)),
                  sample=dataclasses.replace(p.sample), description=p.description)


# ---------------------------------------------------------------------------------
# `kinora presets [--time [PRESET ...]] [--threads N]`: the table above, measured
# ---------------------------------------------------------------------------------


def describe(name: str, time_forward: bool = False, batch: int = 2, frames: int = 9, reps: int = 5) -> dict:
    """Parameters, float16 size and (optionally) the best-of-`reps` forward time of a preset's DiT
    on `frames` latent frames at its training resolution, batch 2 = one CFG step."""
    import time

    import torch

    from kinora.models.dit import DiT

    p = get_preset(name)
    h, w = p.train.height // 8, p.train.width // 8
    torch.manual_seed(0)
    with torch.device("meta"):
        n = DiT(p.dit).num_params()
    pt, ph, pw = p.dit.patch
    row = {"preset": name, "params_M": round(n / 1e6, 2), "fp16_MB": round(2 * n / 1e6, 1),
           "latent": f"{frames}x{h}x{w}", "tokens": frames * h * w // (pt * ph * pw)}
    if time_forward:
        model = DiT(p.dit).eval()
        x = torch.randn(batch, p.dit.latent_channels, frames, h, w)
        cond = {"text": torch.randn(batch, 24, p.dit.text_dim), "text_mask": torch.ones(batch, 24, dtype=torch.bool)}
        t = torch.rand(batch)
        best = float("inf")
        with torch.inference_mode():
            for i in range(reps + 1):
                t0 = time.perf_counter()
                model(x, t, cond)
                if i:  # the first call warms up
                    best = min(best, time.perf_counter() - t0)
        row[f"forward_ms_b{batch}"] = round(best * 1000, 1)
    return row
