"""Train the causal video VAE (kinora.models.vae) on micro-world clips.

    # the shipped weights (one CPU thread; resumable, just run it again with --resume)
    kinora train-vae --preset small --out checkpoints/vae --steps 20000
    kinora train-vae --preset small --out checkpoints/vae --steps 20000 --resume
    # from shards written by `kinora world sample --n N --out DIR` instead of simulating
    kinora train-vae --preset small --out runs/vae --steps 20000 --data DIR
    # a smoke test (seconds)
    kinora train-vae --preset tiny --out /tmp/vae-tiny --steps 20 --pool 8 --eval-clips 2
    # held-out PSNR of a checkpoint
    kinora train-vae --eval checkpoints/vae/vae-small.safetensors --eval-clips 64
    # a run stopped between evaluations: ship and evaluate the EMA of its last saved state
    kinora train-vae --out checkpoints/vae --export

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

    kinora train-vae --init checkpoints/vae/vae-small.safetensors --decoder-only \
        --edge-weight 4 --data data/world --out checkpoints/vae-dec --steps 1500 --lr 2e-4

What it follows: the KL video autoencoders of Open-Sora / HunyuanVideo / CogVideoX (L1 +
MSE + a tiny KL, EMA weights, latents normalised by measured factors), trained in one
loop like kinora.train.dit. The clip pool and the held-out clips are kinora.train.data,
EMA, the log and its plot kinora.train.common; the options of `kinora train-vae`
(kinora.cli.train) become a TrainConfig: the preset's VAETrainDefaults
(kinora.models.presets) with the run's choices. Its inputs are checked before anything
is written (TrainConfig.validate, check_inputs): a run that fails on them leaves no
--out folder behind.

Outputs in --out: vae-<preset>.safetensors (EMA weights, float16, with
scaling/shift factors measured on training clips; what ships), train_state.pt
(model, EMA, optimizer, step, RNG, pool seeds; for --resume; not committed),
log.jsonl (one line per log interval and per evaluation), loss.png.
"""

from __future__ import annotations

import copy
import math
import random
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
import torch

from kinora.defaults import vae_filename
from kinora.errors import KinoraError
from kinora.io.atomic import make_folders, remove_empty
from kinora.models.presets import DEFAULT_VAE_PRESET, VAE_PRESETS, PoolBucket, VAETrainDefaults, get_vae_train_defaults
from kinora.models.vae import VAEConfig, VideoVAE, latent_id, load_vae, save_vae
from kinora.train.common import (
    Panel,
    append_log,
    check_number,
    check_out,
    check_seed,
    check_threads,
    ema_decay_at,
    ema_update,
    keep_log_until,
    plot_log,
    read_log,
)
from kinora.train.data import ClipPool, heldout_clips, simulate_clip, to_video_tensor, world_shards


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
        if pool is not None:
            check_number("--pool", pool, 1)
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

    def validate(self) -> None:
        """The values alone (check_inputs looks at the files); one line for the first wrong one."""
        if self.preset not in VAE_PRESETS:
            raise KinoraError(f"unknown VAE preset {self.preset!r}; choose one of {', '.join(sorted(VAE_PRESETS))}")
        for k in ("steps", "eval_clips", "eval_every", "log_every", "save_every", "stat_clips", "refresh_every"):
            check_number(f"--{k.replace('_', '-')}", getattr(self, k), 1)
        check_number("--lr", self.lr, 0, lo_open=True)
        check_number("--edge-weight", self.edge_weight, 0)
        check_seed(self.seed)
        check_threads(self.threads)
        if self.decoder_only and not self.init:
            raise KinoraError("--decoder-only fine-tunes a trained VAE: name it with --init VAE.safetensors")


# ---------------------------------------------------------------------------------
# Evaluation
# ---------------------------------------------------------------------------------


@torch.no_grad()
def reconstruct(model: VideoVAE, frames: np.ndarray) -> np.ndarray:
    """uint8 (T, H, W, 3) -> reconstructed uint8 (T, H, W, 3) through encode/decode."""
    x = to_video_tensor(frames[None])  # (1, 3, T, H, W)
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
        mean, _ = model.encode_dist(to_video_tensor(clips[i][None]))
        zs.append(mean.flatten())
    z = torch.cat(zs)
    return float(z.mean()), float(1.0 / (z.std() + 1e-8))


def evaluate_checkpoint(path: str | Path, clips: int, width: int = 64, height: int = 64, threads: int = 1) -> dict:
    """Held-out PSNR of a VAE file on `clips` clips of 33 frames (cached next to it), with the seconds it took."""
    check_number("--eval-clips", clips, 1)
    check_threads(threads)
    torch.set_num_threads(threads)
    model = load_vae(path)
    frames = heldout_clips(clips, Path(path).parent / f"heldout-{width}x{height}.npz", width=width, height=height)
    t = time.time()
    res = evaluate(model, frames)
    res["seconds"] = round(time.time() - t, 1)
    return res


# ---------------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------------


PLOT = [Panel("train loss (L1 + MSE), log scale", "loss", log_scale=True, color="blue"),  # loss.png
        Panel("held-out PSNR (dB), 64x64, 33 frames", "psnr", color="red", marks=True)]


def cosine_lr_at(step: int, cfg: TrainConfig) -> float:
    """Linear warm-up, then a cosine from lr to lr * lr_min_ratio at the last step. (Not
    kinora.train.common.lr_at: a different curve, and even its warm-up rounds differently.)"""
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    p = min(1.0, (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup))
    return cfg.lr * (cfg.lr_min_ratio + (1 - cfg.lr_min_ratio) * 0.5 * (1 + math.cos(math.pi * p)))


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
    path = out / vae_filename(cfg.preset)
    if cfg.decoder_only:
        save_vae(ema, path, dtype=torch.float16, latents=latent_id(cfg.init))
        return path
    shipped = copy.deepcopy(ema)
    shift, scale = latent_stats(shipped, pool, cfg.stat_clips)
    shipped.cfg = VAEConfig(**{**asdict(shipped.cfg), "shift_factor": shift, "scaling_factor": scale})
    save_vae(shipped, path, dtype=torch.float16)
    return path


def export_state(out: Path, eval_clips: int, threads: int = 1) -> dict:
    """Write vae-<preset>.safetensors from OUT/train_state.pt's EMA and evaluate it.

    For a run that was stopped between evaluations: the scaling factors are measured on
    the run's `stat_clips` training clips, simulated afresh (seeds 0, 1, ...).
    """
    check_number("--eval-clips", eval_clips, 1)
    check_threads(threads)
    state_path = Path(out) / "train_state.pt"
    if not state_path.is_file():
        raise KinoraError(f"no {state_path} to export from")
    torch.set_num_threads(threads)
    out = Path(out)
    st = torch.load(state_path, weights_only=False)
    cfg = TrainConfig(**{**st["train_config"], "buckets": [PoolBucket(**b) for b in st["train_config"]["buckets"]]})
    ema = VideoVAE(VAEConfig(**st["model_config"]))
    ema.load_state_dict(st["ema"])
    pool = ClipPool(cfg, random.Random(0))
    b = cfg.buckets[0]
    pool.clips[(b.frames, b.height, b.width)] = [simulate_clip(s, b.width, b.height, b.frames)
                                                 for s in range(cfg.stat_clips)]
    path = save_shipped(ema, pool, cfg, out)
    result = {"step": st["step"], **evaluate(load_vae(path), heldout_clips(eval_clips, out / "heldout-64x64.npz"))}
    log_path = out / "log.jsonl"
    if not any(r.get("step") == result["step"] and "psnr" in r for r in read_log(log_path)):
        append_log(log_path, result)
        plot_log(read_log(log_path), out / "loss.png", PLOT)
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


def check_inputs(cfg: TrainConfig, out: Path, data: str | None = None, resume: bool = False) -> None:
    """The files a run names: --out (a folder one can write; with --resume, one holding a
    run), the shards in --data, the VAE to start from (--init, of the run's preset)."""
    check_out(Path(out), resume, products=("vae-*.safetensors",))
    if data is not None:
        world_shards(Path(data))
    if cfg.init:  # a clear error now for a missing, foreign or other-sized file
        have = {k: v for k, v in asdict(load_vae(cfg.init).cfg).items() if not k.endswith("_factor")}
        want = {k: v for k, v in asdict(VAE_PRESETS[cfg.preset]).items() if not k.endswith("_factor")}
        if have != want:
            raise KinoraError(f"--init {cfg.init} is not a {cfg.preset!r} VAE; pass its --preset")


def train(cfg: TrainConfig, out: Path, data: str | None = None, resume: bool = False, quiet: bool = False) -> dict:
    """Train as `cfg` says into `out` (on the shards in `data`, else on simulated clips);
    return the last held-out evaluation."""
    out = Path(out)
    cfg.validate()
    check_inputs(cfg, out, data, resume)  # before anything is written
    torch.set_num_threads(cfg.threads)
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
    pool = ClipPool(cfg, rng, data)  # reads the shards, if any, before the folder is made
    made = make_folders(out)
    try:
        step = 0
        if resume:  # check_inputs made sure there is a state to resume from
            st = torch.load(state_path, weights_only=False)
            model.load_state_dict(st["model"])
            ema.load_state_dict(st["ema"])
            opt.load_state_dict(st["opt"])
            step = st["step"]
            rng.setstate(st["py_rng"])
            torch.set_rng_state(st["torch_rng"])
            if pool.simulated:
                n_pool = sum(map(len, st["pool"]["seeds"].values()))
                say(f"resuming at step {step}: re-simulating the pool ({n_pool} clips)")
                pool.restore(st["pool"]["seeds"], st["pool"]["next_seed"])
            keep_log_until(log_path, step)  # drop log lines from after the saved step (a crash between save and log)
        if step == 0:
            log_path.write_text("", encoding="utf-8")
            append_log(log_path, {"step": 0, "event": "start", "model_config": asdict(model.cfg),
                                  "train_config": asdict(cfg), "data": data or "simulated",
                                  "params": sum(p.numel() for p in model.parameters())})
        nparams = sum(p.numel() for p in model.parameters())
        ntrained = sum(p.numel() for p in trained)
        say(f"VAE {cfg.preset}: {nparams / 1e6:.2f}M parameters ({ntrained / 1e6:.2f}M trained); "
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
                g["lr"] = cosine_lr_at(step, cfg)
            loss, parts = vae_loss(model, x, cfg.kl_weight, cfg.edge_weight)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            gnorm = torch.nn.utils.clip_grad_norm_(trained, cfg.grad_clip)
            opt.step()
            ema_update(ema, model, ema_decay_at(step, cfg.ema_decay))
            step += 1

            for k, v in {"loss": loss.item(), **parts, "gnorm": float(gnorm)}.items():
                acc[k] = acc.get(k, 0.0) + v
            n_acc += 1
            if step % cfg.log_every == 0 or step == cfg.steps:
                rec = {"step": step, **{k: v / n_acc for k, v in acc.items()}, "lr": cosine_lr_at(step - 1, cfg),
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
                plot_log(read_log(log_path), out / "loss.png", PLOT)
        return result
    except BaseException:
        remove_empty(made)  # a run that failed on its inputs leaves no empty folder behind
        raise


if __name__ == "__main__":  # the old way in: the same as `kinora train-vae ...`
    import sys

    from kinora.cli import main

    sys.exit(main(["train-vae", *sys.argv[1:]]))
