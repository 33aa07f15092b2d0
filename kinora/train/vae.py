"""Train the causal video VAE (kinora.models.vae) on micro-world clips.

    # the shipped weights (one CPU thread; resumable, just run it again with --resume)
    python -m kinora.train.vae --preset small --out checkpoints/vae --steps 20000
    python -m kinora.train.vae --preset small --out checkpoints/vae --steps 20000 --resume
    # from shards written by `kinora world sample --n N --out DIR` instead of simulating
    python -m kinora.train.vae --preset small --out runs/vae --steps 20000 --data DIR
    # a smoke test (seconds)
    python -m kinora.train.vae --preset tiny --out /tmp/vae-tiny --steps 20 --pool 8 --eval-clips 2
    # held-out PSNR of a checkpoint
    python -m kinora.train.vae --eval checkpoints/vae/vae-small.safetensors --eval-clips 64
    # a run stopped between evaluations: ship and evaluate the EMA of its last saved state
    python -m kinora.train.vae --out checkpoints/vae --export

Data. Without --data, clips are simulated on the fly into an in-memory pool of
several sizes (64x64 33-frame clips, plus 128x128 and non-square 17-frame clips); the
pool fills during the first steps and then one clip is replaced every
`refresh_every` steps, so the training set keeps growing. Training seeds count up
from 0; seeds >= HELDOUT_SEED_BASE (10,000,000) are never trained on: the held-out
clips (64x64, 33 frames) are seeds HELDOUT_SEED_BASE + i.

Batches. Each step is one shape: with probability `image_prob` single frames (T = 1,
so images and videos share the latent space), else random 17-frame windows
(T = 1 + 4*4); the bucket (size) is drawn by weight; the batch size keeps the number of
pixels per step about constant.

Loss: L1 + MSE on pixels + kl_weight * KL (tiny: the KL only keeps the latent smooth
and bounded; the posterior is sampled during training so the decoder tolerates noise).
With --edge-weight W each pixel's error counts 1 + W * (its contrast with its
neighbours): the floor and sky are most of every frame, and a plain mean lets the
decoder round off the corners of a small cube and smear a tiny object into the floor.

Decoder fine-tuning. `--init VAE --decoder-only` starts from a trained VAE and trains
only its decoder: the encoder, its normalisation (scaling/shift factors) and so the
latent space stay as they are. The result records its parent's latent identity
(`kinora.models.vae.latent_id`), so a DiT trained on the parent's latents decodes with it
unchanged, and training caches are shared:

    python -m kinora.train.vae --init checkpoints/vae/vae-small.safetensors --decoder-only \
        --edge-weight 4 --data data/world --out checkpoints/vae-dec --steps 1500 --lr 2e-4

Outputs in --out: vae-<preset>.safetensors (EMA weights, float16, with
scaling/shift factors measured on training clips; what ships), train_state.pt
(model, EMA, optimizer, step, RNG, pool seeds; for --resume; not committed),
log.jsonl (one line per log interval and per evaluation), loss.png.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import random
import sys
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
import torch

from kinora.errors import KinoraError
from kinora.defaults import HELDOUT_SEED_BASE
from kinora.models.presets import (DEFAULT_VAE_PRESET, VAE_PRESETS, PoolBucket, VAETrainDefaults,
                                   get_vae_train_defaults)
from kinora.models.vae import VAEConfig, VideoVAE, latent_id, load_vae, save_vae



@dataclass
class TrainConfig(VAETrainDefaults):
    """One VAE run: its preset's training defaults (kinora.models.presets.VAE_TRAIN_DEFAULTS)
    and this run's own choices. log.jsonl and train_state.pt record all of it as `train_config`."""

    preset: str = DEFAULT_VAE_PRESET
    seed: int = 0
    threads: int = 1
    init: str | None = None  # start from this VAE file (its config, weights and normalisation)
    decoder_only: bool = False  # with init: train the decoder only; the latent space is kept

    @classmethod
    def from_preset(cls, preset: str, pool: int | None = None, **choices) -> "TrainConfig":
        """The preset's defaults with `choices` (None: keep the default); `pool` scales every
        bucket of the simulated pool to about that many clips in all. The warm-up is at most
        a tenth of the run."""
        d = get_vae_train_defaults(preset)
        base = {f.name: getattr(d, f.name) for f in fields(d)}
        base.update({k: v for k, v in choices.items() if v is not None})
        cfg = cls(preset=preset, **base)
        if pool is not None:
            total = sum(b.pool for b in cfg.buckets)
            for b in cfg.buckets:
                b.pool = max(1, round(b.pool * pool / total))
            cfg.min_pool = min(cfg.min_pool, pool)
            cfg.stat_clips = min(cfg.stat_clips, pool)
        cfg.warmup = min(cfg.warmup, max(1, cfg.steps // 10))
        return cfg


# ---------------------------------------------------------------------------------
# Data: a pool of clips, simulated or read from shards
# ---------------------------------------------------------------------------------


def simulate_clip(seed: int, width: int, height: int, frames: int) -> np.ndarray:
    """One random micro-world clip, (T, H, W, 3) uint8."""
    from kinora.world.sim import simulate
    from kinora.world.spec import SpecDistribution, random_spec

    fps = 8
    dist = SpecDistribution(duration=(frames / fps, frames / fps), fps=fps, width=width, height=height)
    clip = simulate(random_spec(seed, dist)).frames
    if clip.shape[0] != frames:
        raise RuntimeError(f"simulator gave {clip.shape[0]} frames, expected {frames}")
    return clip


class ClipPool:
    """Clips grouped by (T, H, W); batches are drawn from one group at a time."""

    def __init__(self, cfg: TrainConfig, rng: random.Random, data: str | None = None):
        self.cfg = cfg
        self.rng = rng
        self.clips: dict[tuple[int, int, int], list[np.ndarray]] = {}
        self.seeds: dict[tuple[int, int, int], list[int]] = {}
        self.weights: dict[tuple[int, int, int], float] = {}
        self.simulated = data is None
        self.next_seed = 0
        if data is not None:
            self._load_shards(data)

    # --- shards --------------------------------------------------------------------
    def _load_shards(self, root: str) -> None:
        from kinora.world.dataset import read_shards

        for frames, records in read_shards(root):  # (N, T, H, W, 3) uint8
            if any(r.get("seed", 0) >= HELDOUT_SEED_BASE for r in records):
                raise KinoraError(f"{root} holds held-out seeds (>= {HELDOUT_SEED_BASE}); they are for evaluation only")
            key = tuple(frames.shape[1:4])
            self.clips.setdefault(key, []).extend(list(frames))
        for key, lst in self.clips.items():
            self.weights[key] = float(len(lst))

    # --- simulation ----------------------------------------------------------------
    def _key(self, b: PoolBucket) -> tuple[int, int, int]:
        return (b.frames, b.height, b.width)

    def add_simulated(self, n: int = 1) -> None:
        """Simulate n new clips into the buckets that are furthest from full."""
        for _ in range(n):
            b = min(self.cfg.buckets, key=lambda b: len(self.clips.get(self._key(b), [])) / b.pool)
            key = self._key(b)
            seed = self.next_seed
            self.next_seed += 1
            clip = simulate_clip(seed, b.width, b.height, b.frames)
            lst, seeds = self.clips.setdefault(key, []), self.seeds.setdefault(key, [])
            self.weights[key] = b.weight
            if len(lst) < b.pool:
                lst.append(clip)
                seeds.append(seed)
            else:  # replace a random old clip
                i = self.rng.randrange(len(lst))
                lst[i], seeds[i] = clip, seed

    def full(self) -> bool:
        return all(len(self.clips.get(self._key(b), [])) >= b.pool for b in self.cfg.buckets)

    def size(self) -> int:
        return sum(len(v) for v in self.clips.values())

    def restore(self, seeds: dict, next_seed: int) -> None:
        """Re-simulate a saved pool (resume)."""
        by_key = {self._key(b): b for b in self.cfg.buckets}
        for key_s, lst in seeds.items():
            key = tuple(int(v) for v in key_s.split("x"))
            b = by_key[key]
            self.weights[key] = b.weight
            self.clips[key] = [simulate_clip(s, b.width, b.height, b.frames) for s in lst]
            self.seeds[key] = list(lst)
        self.next_seed = next_seed

    def state(self) -> dict:
        return {"seeds": {"x".join(map(str, k)): v for k, v in self.seeds.items()}, "next_seed": self.next_seed}

    # --- batches -------------------------------------------------------------------
    def batch(self) -> torch.Tensor:
        """One batch (B, 3, T, H, W) in [-1, 1], all of one shape."""
        cfg, rng = self.cfg, self.rng
        keys = [k for k in self.clips if self.clips[k]]
        key = rng.choices(keys, weights=[self.weights[k] for k in keys])[0]
        clips = self.clips[key]
        t_all, h, w = key
        if rng.random() < cfg.image_prob:
            t = 1
            bs = max(1, round(cfg.image_pixels_per_step / (h * w)))
        else:
            t = min(cfg.window, 1 + 4 * ((t_all - 1) // 4))
            bs = max(1, round(cfg.pixels_per_step / (t * h * w)))
        out = []
        for _ in range(bs):
            clip = clips[rng.randrange(len(clips))]
            t0 = rng.randrange(t_all - t + 1)
            out.append(clip[t0:t0 + t])  # (T, H, W, 3)
        return to_tensor(np.stack(out))


def to_tensor(frames: np.ndarray) -> torch.Tensor:
    """uint8 (B, T, H, W, 3) -> float (B, 3, T, H, W) in [-1, 1]."""
    x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 4, 1, 2, 3)  # (B, 3, T, H, W)
    return x.float() / 127.5 - 1.0


# ---------------------------------------------------------------------------------
# Evaluation
# ---------------------------------------------------------------------------------


def heldout_clips(n: int, cache: Path | None = None, width: int = 64, height: int = 64, frames: int = 33) -> np.ndarray:
    """Held-out clips (n, T, H, W, 3) uint8: seeds HELDOUT_SEED_BASE + i, cached as npz."""
    if cache is not None and cache.exists():
        with np.load(cache) as z:
            arr = z["frames"]
        if arr.shape[0] >= n and arr.shape[1:4] == (frames, height, width):
            return arr[:n]
    arr = np.stack([simulate_clip(HELDOUT_SEED_BASE + i, width, height, frames) for i in range(n)])
    if cache is not None:
        from kinora.io.atomic import atomic_path

        with atomic_path(cache) as tmp:
            with open(tmp, "wb") as f:
                np.savez(f, frames=arr)
    return arr


@torch.no_grad()
def reconstruct(model: VideoVAE, frames: np.ndarray) -> np.ndarray:
    """uint8 (T, H, W, 3) -> reconstructed uint8 (T, H, W, 3) through encode/decode."""
    x = to_tensor(frames[None])  # (1, 3, T, H, W)
    y = model.decode(model.encode(x))  # (1, 3, T, H, W)
    y = ((y[0].permute(1, 2, 3, 0) + 1.0) * 127.5).round().clamp(0, 255)  # (T, H, W, 3)
    return y.to(torch.uint8).numpy()


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * math.log10(255.0**2 / max(mse, 1e-10)))


def evaluate(model: VideoVAE, clips: np.ndarray) -> dict:
    """Held-out PSNR (dB, uint8 frames): per clip, then averaged; video and first frame alone."""
    model.eval()
    video, image = [], []
    for c in clips:
        video.append(psnr(reconstruct(model, c), c))
        image.append(psnr(reconstruct(model, c[:1]), c[:1]))
    return {"psnr": float(np.mean(video)), "psnr_min": float(np.min(video)), "psnr_image": float(np.mean(image)),
            "clips": len(clips)}


@torch.no_grad()
def latent_stats(model: VideoVAE, pool: ClipPool, n: int) -> tuple[float, float]:
    """(shift, scale) so that (mean_latent - shift) * scale has zero mean, unit variance."""
    model.eval()
    zs = []
    key = max(pool.clips, key=lambda k: len(pool.clips[k]))
    clips = pool.clips[key]
    for i in range(min(n, len(clips))):
        mean, _ = model.encode_dist(to_tensor(clips[i][None]))
        zs.append(mean.flatten())
    z = torch.cat(zs)
    return float(z.mean()), float(1.0 / (z.std() + 1e-8))


# ---------------------------------------------------------------------------------
# Logging and plot
# ---------------------------------------------------------------------------------


def plot_log(records: list[dict], path: Path) -> None:
    """Training loss (log scale) and held-out PSNR against step, as a PNG (PIL only)."""
    from PIL import Image, ImageDraw

    from kinora.io.atomic import atomic_path

    W, H, pad = 900, 360, 50
    img = Image.new("RGB", (W, H * 2), "white")
    d = ImageDraw.Draw(img)
    panels = [
        ("train loss (L1 + MSE), log scale", [(r["step"], math.log10(max(r["loss"], 1e-8))) for r in records if "loss" in r]),
        ("held-out PSNR (dB), 64x64, 33 frames", [(r["step"], r["psnr"]) for r in records if "psnr" in r]),
    ]
    steps = [r["step"] for r in records if "loss" in r or "psnr" in r]
    xlo, xhi = (min(steps), max(max(steps), min(steps) + 1)) if steps else (0, 1)
    for k, (title, pts) in enumerate(panels):
        y0 = k * H
        d.text((pad, y0 + 10), title, fill="black")
        d.rectangle([pad, y0 + 30, W - pad, y0 + H - pad], outline="black")
        if len(pts) < 1:
            continue
        ys = [p[1] for p in pts]
        ylo, yhi = min(ys), max(ys)
        if yhi - ylo < 1e-6:
            ylo, yhi = ylo - 0.5, yhi + 0.5

        def to_px(x, y):
            return (pad + (x - xlo) / (xhi - xlo) * (W - 2 * pad),
                    y0 + H - pad - (y - ylo) / (yhi - ylo) * (H - pad - 30))

        color = "blue" if k == 0 else "red"
        if len(pts) > 1:
            d.line([to_px(x, y) for x, y in pts], fill=color, width=2)
        if k == 1:  # evaluations are sparse: mark each one
            for x, y in pts:
                px, py = to_px(x, y)
                d.ellipse([px - 3, py - 3, px + 3, py + 3], fill=color)
        for y in (ylo, yhi):
            label = f"{10 ** y:.3g}" if k == 0 else f"{y:.2f}"
            d.text((4, to_px(xlo, y)[1] - 6), label, fill="black")
        d.text((pad, y0 + H - pad + 5), f"step {xlo}", fill="black")
        d.text((W - pad - 80, y0 + H - pad + 5), f"step {xhi}", fill="black")
    with atomic_path(path) as tmp:
        img.save(tmp)


# ---------------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------------


def lr_at(step: int, cfg: TrainConfig) -> float:
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    p = min(1.0, (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup))
    return cfg.lr * (cfg.lr_min_ratio + (1 - cfg.lr_min_ratio) * 0.5 * (1 + math.cos(math.pi * p)))


@torch.no_grad()
def ema_update(ema: VideoVAE, model: VideoVAE, step: int, decay: float) -> None:
    d = min(decay, (1 + step) / (10 + step))  # short warm-up: early EMA follows the model
    for pe, pm in zip(ema.parameters(), model.parameters()):
        pe.lerp_(pm, 1 - d)


def edge_map(x: torch.Tensor) -> torch.Tensor:
    """(B, 3, T, H, W) in [-1, 1] -> (B, 1, T, H, W): each pixel's largest colour step to a
    horizontal or vertical neighbour, so both sides of an outline count."""
    dx = (x[..., :, 1:] - x[..., :, :-1]).abs().amax(1, keepdim=True)  # (B, 1, T, H, W-1)
    dy = (x[..., 1:, :] - x[..., :-1, :]).abs().amax(1, keepdim=True)  # (B, 1, T, H-1, W)
    gx = torch.maximum(torch.nn.functional.pad(dx, (0, 1)), torch.nn.functional.pad(dx, (1, 0)))
    gy = torch.maximum(torch.nn.functional.pad(dy, (0, 0, 0, 1)), torch.nn.functional.pad(dy, (0, 0, 1, 0)))
    return torch.maximum(gx, gy)


def vae_loss(model: VideoVAE, x: torch.Tensor, kl_weight: float,
             edge_weight: float = 0.0) -> tuple[torch.Tensor, dict]:
    recon, mean, logvar = model(x, sample=True)  # (B, 3, T, H, W), 2 x (B, L, T', h, w)
    err = recon - x
    l1 = err.abs().mean()
    mse = err.pow(2).mean()
    kl = 0.5 * (mean.pow(2) + logvar.exp() - 1.0 - logvar).mean()
    if edge_weight > 0:
        # Normalised by the mean weight: the loss keeps the plain loss's scale, and
        # so the learning rate its meaning, while the outlines get the larger share.
        w = 1.0 + edge_weight * edge_map(x)  # (B, 1, T, H, W)
        loss = ((w * err.abs()).mean() + (w * err.pow(2)).mean()) / w.mean() + kl_weight * kl
    else:
        loss = l1 + mse + kl_weight * kl
    return loss, {"l1": l1.item(), "mse": mse.item(), "kl": kl.item()}


def save_shipped(ema: VideoVAE, pool: ClipPool, cfg: TrainConfig, out: Path) -> Path:
    """EMA weights with measured latent statistics, float16 safetensors. A decoder
    fine-tune keeps its parent's statistics and records the parent's latent space."""
    path = out / f"vae-{cfg.preset}.safetensors"
    if cfg.decoder_only:
        save_vae(ema, path, dtype=torch.float16, latents=latent_id(cfg.init))
        return path
    shipped = copy.deepcopy(ema)
    shift, scale = latent_stats(shipped, pool, cfg.stat_clips)
    shipped.cfg = VAEConfig(**{**asdict(shipped.cfg), "shift_factor": shift, "scaling_factor": scale})
    save_vae(shipped, path, dtype=torch.float16)
    return path


def export_state(out: Path, eval_clips: int) -> dict:
    """Write vae-<preset>.safetensors from OUT/train_state.pt's EMA and evaluate it.

    For a run that was stopped between evaluations: the scaling factors are measured on
    the run's `stat_clips` training clips, simulated afresh (seeds 0, 1, ...).
    """
    state_path = out / "train_state.pt"
    if not state_path.exists():
        raise KinoraError(f"no {state_path} to export from")
    st = torch.load(state_path, weights_only=False)
    cfg = TrainConfig(**{**st["train_config"], "buckets": [PoolBucket(**b) for b in st["train_config"]["buckets"]]})
    ema = VideoVAE(VAEConfig(**st["model_config"]))
    ema.load_state_dict(st["ema"])
    pool = ClipPool(cfg, random.Random(0))
    b = cfg.buckets[0]
    pool.clips[(b.frames, b.height, b.width)] = [simulate_clip(s, b.width, b.height, b.frames) for s in range(cfg.stat_clips)]
    path = save_shipped(ema, pool, cfg, out)
    result = {"step": st["step"], **evaluate(load_vae(path), heldout_clips(eval_clips, out / "heldout-64x64.npz"))}
    log_path = out / "log.jsonl"
    if not any(r.get("step") == result["step"] and "psnr" in r for r in read_log(log_path)):
        append_log(log_path, result)
        plot_log(read_log(log_path), out / "loss.png")
    return result


def save_state(path: Path, model, ema, opt, step: int, pool: ClipPool, cfg: TrainConfig, rng: random.Random) -> None:
    from kinora.io.atomic import atomic_path

    state = {
        "model": model.state_dict(), "ema": ema.state_dict(), "opt": opt.state_dict(), "step": step,
        "model_config": asdict(model.cfg), "train_config": asdict(cfg), "pool": pool.state(),
        "py_rng": rng.getstate(), "torch_rng": torch.get_rng_state(),
    }
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def append_log(path: Path, rec: dict) -> None:
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(rec) + "\n")


def read_log(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def train(cfg: TrainConfig, out: Path, data: str | None = None, resume: bool = False, quiet: bool = False) -> dict:
    torch.set_num_threads(cfg.threads)
    out.mkdir(parents=True, exist_ok=True)
    state_path, log_path = out / "train_state.pt", out / "log.jsonl"
    rng = random.Random(cfg.seed)
    torch.manual_seed(cfg.seed)
    say = (lambda *a: None) if quiet else (lambda *a: print(*a, flush=True))

    if cfg.init:
        model = load_vae(cfg.init).train()  # its config carries the parent's normalisation
    else:
        model = VideoVAE(VAE_PRESETS[cfg.preset])
    if cfg.decoder_only:
        # Frozen encoder: same latents for the same pixels, so DiTs trained on them still fit.
        model.encoder.requires_grad_(False)
    ema = copy.deepcopy(model).requires_grad_(False)
    trained = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(trained, lr=cfg.lr, betas=(0.9, 0.99), weight_decay=cfg.weight_decay)
    pool = ClipPool(cfg, rng, data)
    step = 0
    if resume and state_path.exists():
        st = torch.load(state_path, weights_only=False)
        model.load_state_dict(st["model"])
        ema.load_state_dict(st["ema"])
        opt.load_state_dict(st["opt"])
        step = st["step"]
        rng.setstate(st["py_rng"])
        torch.set_rng_state(st["torch_rng"])
        if pool.simulated:
            say(f"resuming at step {step}: re-simulating the pool ({sum(map(len, st['pool']['seeds'].values()))} clips)")
            pool.restore(st["pool"]["seeds"], st["pool"]["next_seed"])
        # drop log lines from after the saved step (a crash between save and log)
        records = [r for r in read_log(log_path) if r["step"] <= step]
        log_path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    elif resume:
        say(f"no {state_path} to resume from; starting fresh")
    if step == 0:
        log_path.write_text("", encoding="utf-8")
        append_log(log_path, {"step": 0, "event": "start", "model_config": asdict(model.cfg),
                              "train_config": asdict(cfg), "data": data or "simulated",
                              "params": sum(p.numel() for p in model.parameters())})
    nparams = sum(p.numel() for p in model.parameters())
    say(f"VAE {cfg.preset}: {nparams / 1e6:.2f}M parameters ({sum(p.numel() for p in trained) / 1e6:.2f}M trained); "
        f"{cfg.steps} steps; out {out}")

    if pool.simulated:
        while pool.size() < cfg.min_pool:
            pool.add_simulated(1)
    eval_set = heldout_clips(cfg.eval_clips, out / "heldout-64x64.npz")

    model.train()
    t_start = time.time()
    acc: dict[str, float] = {}
    n_acc = 0
    result: dict = {}
    while step < cfg.steps:
        if pool.simulated:
            if not pool.full():
                pool.add_simulated(cfg.fill_per_step)
            elif step % cfg.refresh_every == 0:
                pool.add_simulated(1)
        x = pool.batch()  # (B, 3, T, H, W)
        for g in opt.param_groups:
            g["lr"] = lr_at(step, cfg)
        loss, parts = vae_loss(model, x, cfg.kl_weight, cfg.edge_weight)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        gnorm = torch.nn.utils.clip_grad_norm_(trained, cfg.grad_clip)
        opt.step()
        ema_update(ema, model, step, cfg.ema_decay)
        step += 1

        for k, v in {"loss": loss.item(), **parts, "gnorm": float(gnorm)}.items():
            acc[k] = acc.get(k, 0.0) + v
        n_acc += 1
        if step % cfg.log_every == 0 or step == cfg.steps:
            rec = {"step": step, **{k: v / n_acc for k, v in acc.items()}, "lr": lr_at(step - 1, cfg),
                   "pool": pool.size(), "elapsed_s": round(time.time() - t_start, 1)}
            append_log(log_path, rec)
            say(f"step {step} loss {rec['loss']:.4f} mse {rec['mse']:.5f} kl {rec['kl']:.2f} "
                f"lr {rec['lr']:.2e} pool {rec['pool']} {rec['elapsed_s']:.0f}s")
            acc, n_acc = {}, 0
        if step % cfg.eval_every == 0 or step == cfg.steps:
            path = save_shipped(ema, pool, cfg, out)
            result = {"step": step, **evaluate(load_vae(path), eval_set)}
            append_log(log_path, result)
            say(f"step {step} held-out PSNR {result['psnr']:.2f} dB (min {result['psnr_min']:.2f}, "
                f"first frame {result['psnr_image']:.2f}) on {result['clips']} clips")
            model.train()
        if step % cfg.save_every == 0 or step == cfg.steps:
            save_state(state_path, model, ema, opt, step, pool, cfg, rng)
            plot_log(read_log(log_path), out / "loss.png")
    return result


# ---------------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    d = TrainConfig.from_preset(DEFAULT_VAE_PRESET)
    p = argparse.ArgumentParser(prog="python -m kinora.train.vae", description=__doc__.split("\n\n")[0])
    p.add_argument("--preset", choices=sorted(VAE_PRESETS), default=d.preset)
    p.add_argument("--out", help="checkpoint directory (required unless --eval)")
    p.add_argument("--steps", type=int, default=d.steps)
    p.add_argument("--data", help="shard directory from 'kinora world sample'; default: simulate on the fly")
    p.add_argument("--resume", action="store_true", help="continue from OUT/train_state.pt")
    p.add_argument("--lr", type=float, default=d.lr)
    p.add_argument("--pool", type=int, help="total simulated pool size (scales every bucket; default 1310)")
    p.add_argument("--eval-clips", type=int, default=d.eval_clips)
    p.add_argument("--eval-every", type=int, default=d.eval_every)
    p.add_argument("--threads", type=int, default=d.threads)
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--eval", metavar="CHECKPOINT", help="only measure held-out PSNR of this checkpoint")
    p.add_argument("--export", action="store_true",
                   help="write OUT/vae-PRESET.safetensors from OUT/train_state.pt's EMA, evaluate it, and stop")
    p.add_argument("--eval-size", default="64x64", help="WIDTHxHEIGHT of the held-out clips for --eval (33 frames)")
    p.add_argument("--edge-weight", type=float, default=d.edge_weight,
                   help="extra loss weight of pixels on outlines (0: plain mean)")
    p.add_argument("--init", metavar="VAE", help="start from this trained VAE file")
    p.add_argument("--decoder-only", action="store_true",
                   help="with --init: train only the decoder, keeping the encoder and the latent space")
    args = p.parse_args(argv)
    try:
        if args.eval:
            torch.set_num_threads(args.threads)
            model = load_vae(args.eval)
            try:
                w, h = (int(v) for v in args.eval_size.lower().split("x"))
            except ValueError:
                raise KinoraError(f"--eval-size {args.eval_size!r} is not WIDTHxHEIGHT, e.g. 64x64 or 128x64") from None
            clips = heldout_clips(args.eval_clips, Path(args.eval).parent / f"heldout-{w}x{h}.npz", width=w, height=h)
            t = time.time()
            res = evaluate(model, clips)
            res["seconds"] = round(time.time() - t, 1)
            print(json.dumps(res))
            return 0
        if not args.out:
            p.error("--out is required")
        if args.export:
            torch.set_num_threads(args.threads)
            print(json.dumps(export_state(Path(args.out), args.eval_clips)))
            return 0
        if args.steps < 1:
            raise KinoraError(f"--steps must be at least 1, got {args.steps}")
        if args.edge_weight < 0:
            raise KinoraError(f"--edge-weight must be 0 or more, got {args.edge_weight:g}")
        if args.decoder_only and not args.init:
            raise KinoraError("--decoder-only fine-tunes a trained VAE: name it with --init VAE.safetensors")
        if args.init:  # a clear error now for a missing, foreign or other-sized file
            have = {k: v for k, v in asdict(load_vae(args.init).cfg).items() if not k.endswith("_factor")}
            want = {k: v for k, v in asdict(VAE_PRESETS[args.preset]).items() if not k.endswith("_factor")}
            if have != want:
                raise KinoraError(f"--init {args.init} is not a {args.preset!r} VAE; pass its --preset")
        cfg = TrainConfig.from_preset(args.preset, pool=args.pool, steps=args.steps, lr=args.lr,
                                      eval_clips=args.eval_clips, eval_every=args.eval_every, threads=args.threads,
                                      seed=args.seed, edge_weight=args.edge_weight, init=args.init,
                                      decoder_only=args.decoder_only)
        train(cfg, Path(args.out), data=args.data, resume=args.resume)
        return 0
    except KinoraError as e:
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code


if __name__ == "__main__":
    sys.exit(main())
