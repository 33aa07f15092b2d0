"""The one registry of named model presets: VAE config + DiT config + training and sampling defaults.

    from kinora.presets import get_preset, PRESETS
    p = get_preset("small")        # p.vae (VAEConfig), p.dit (DiTConfig), p.train, p.sample

The CLI offers `sorted(PRESETS)` as choices (DiT's models.py does the same with its
size factories). Every number a run depends on lives here once; `kinora train` may
override the training ones from the command line and records what it used in every
checkpoint.

| preset | DiT width x depth (heads, patch) | params | what it is for                              |
|--------|----------------------------------|--------|---------------------------------------------|
| tiny   |  64 x 2  (4, 1x2x2)              | 0.2 M  | tests: builds and runs in milliseconds      |
| small  | 320 x 8  (5, 1x2x2)              | 14.6 M | the shipped CPU model (64x64, 8 fps)        |
| base   | 768 x 16 (12, 1x2x2)             | 156 M  | one GPU; 128x128 and longer clips           |
| large  | 1152 x 28 (16, 1x2x2)            | 720 M  | several GPUs under torchrun                 |

Why patch 1x2x2 for "small": measured on 2 CPU cores, one forward of 9 latent frames at
64x64 (9 x 8 x 8 = 576 latent cells) with CFG (batch 2) costs about 0.1 s at 144 tokens
(patch 1x2x2) but 0.2-0.3 s at 576 tokens (patch 1x1x1) even at width 256, and the
shipped model must make 4 s of video in about 2 s with 8-12 steps. Width 320 and depth 8
keep the float16 weights at 29 MB, inside the 50 MB budget with the 7 MB VAE.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from kinora.dit import DiTConfig
from kinora.errors import KinoraError
from kinora.flow import DEFAULT_TASK_PROBS
from kinora.vae import VAE_PRESETS, VAEConfig


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
    task_probs: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_TASK_PROBS))
    shift_scale: float = 1.0  # multiplies the resolution/length time shift (kinora.flow)
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
    shift_scale: float = 1.0


@dataclass
class Preset:
    name: str
    vae_name: str  # key into kinora.vae.VAE_PRESETS (and the default VAE checkpoint's name)
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
                                      width=64, depth=2, heads=4),
            "tests: builds and trains in milliseconds",
            batch_size=2, lr=1e-3, warmup_steps=0, steps=20, ema_decay=0.9, log_every=1, ckpt_every=10,
            width=32, height=32, max_frames=9),
    _preset("small", "small", DiTConfig(latent_channels=VAE_PRESETS["small"].latent_channels, patch=(1, 2, 2),
                                        width=320, depth=8, heads=5),
            "the shipped CPU model: 64x64 at 8 fps, up to 33 frames per clip",
            batch_size=16, lr=3e-4, warmup_steps=500, steps=30_000),
    _preset("base", "small", DiTConfig(latent_channels=VAE_PRESETS["small"].latent_channels, patch=(1, 2, 2),
                                       width=768, depth=16, heads=12, grad_checkpoint=True),
            "one GPU: 128x128, up to 65 frames",
            batch_size=64, lr=2e-4, warmup_steps=1000, steps=100_000, ema_decay=0.9999,
            width=128, height=128, max_frames=65),
    _preset("large", "small", DiTConfig(latent_channels=VAE_PRESETS["small"].latent_channels, patch=(1, 2, 2),
                                        width=1152, depth=28, heads=16, grad_checkpoint=True),
            "several GPUs under torchrun: 128x128 and up, up to 129 frames",
            batch_size=256, lr=1e-4, warmup_steps=2000, steps=200_000, ema_decay=0.9999,
            width=128, height=128, max_frames=129),
]}


def get_preset(name: str) -> Preset:
    """A fresh copy of the named preset (so callers may change it freely)."""
    if name not in PRESETS:
        raise KinoraError(f"unknown preset {name!r}; choose one of {', '.join(sorted(PRESETS))}")
    p = PRESETS[name]
    return Preset(name=p.name, vae_name=p.vae_name, vae=dataclasses.replace(p.vae), dit=dataclasses.replace(p.dit),
                  train=dataclasses.replace(p.train, task_probs=dict(p.train.task_probs)),
                  sample=dataclasses.replace(p.sample), description=p.description)
