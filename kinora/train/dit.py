"""Train the diffusion transformer (kinora.models.dit) with rectified flow on cached VAE latents.

    # micro-world shards, then the shipped CPU model (resumable: add --resume)
    kinora world sample --n 20000 --out data/world
    kinora train --preset small --data data/world --vae checkpoints/vae/vae-small.safetensors \\
        --out checkpoints/dit
    # no shards yet: simulate N clips first (written under OUT/world), then train on them
    kinora train --preset small --generate 2000 --out runs/dit
    # real videos: a CSV with a header "path,text" (paths relative to the CSV's folder)
    kinora train --preset small --data-csv videos.csv --out runs/real
    # data-parallel: gloo on CPU, nccl on GPUs (one process per GPU)
    torchrun --nproc_per_node 2 -m kinora.train --preset tiny --synthetic --out /tmp/dit-ddp
    # a smoke test in seconds (random latents, random text states, no VAE needed)
    kinora train --preset tiny --synthetic --out /tmp/dit-tiny

How it works, top to bottom (nanoGPT-style: one loop, DDP inline):
1. Data is prepared once and cached under --cache (default OUT/cache/VAEHASH): every clip
   is encoded to latents by the frozen VAE (float16, one file per source shard, so each
   file is one (F, h, w) bucket), and every caption is encoded once by the frozen MiniLM
   into a memory-mapped bank. Clips with seeds >= 10,000,000 (held out) are skipped. A
   video longer than the preset's max_frames is cut to its first 1 + 4k frames, so latent
   frame 0 is always a lone first frame (what image-to-video conditions on).
2. Each step draws a bucket (weighted by its size) and a batch from it, one random caption
   per clip (English captions and the canonical one), replaced by "" with probability
   text_dropout (for classifier-free guidance), one task mask per clip (kinora.diffusion.flow.TASKS),
   logit-normal timesteps shifted for the bucket's size, and takes the flow loss on the
   unknown positions. AdamW, linear warm-up, gradient clipping, EMA weights.
3. Every step's random draws come from a generator seeded by (seed, rank, step), so a
   resumed run continues exactly as an uninterrupted one would.

Outputs in --out: dit-PRESET.safetensors (weights) and dit-PRESET-ema.safetensors (EMA
weights, what generation loads; --ship-fp16 stores them as float16), each with the preset,
DiTConfig, VAE config and hash, and training args as JSON metadata; train_state.pt (model,
EMA, optimizer, step, RNG; for --resume); log.jsonl (loss per log interval, by task) and
loss.png.
"""

from __future__ import annotations

import argparse
import copy
import csv
import dataclasses
import json
import math
import os
import sys
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from kinora.models.dit import DiT, save_dit
from kinora.defaults import HELDOUT_SEED_BASE, WEIGHTS_DIR, vae_filename
from kinora.errors import KinoraError
from kinora.diffusion.flow import TASKS, flow_loss, resolution_shift, sample_masks, sample_t
from kinora.io.atomic import atomic_path, write_json_atomic, write_text_atomic
from kinora.io.hashing import sha256_file
from kinora.models.presets import PRESETS, Preset, get_preset
from kinora.models.text import pad_states

NULL_TEXT = ""  # the unconditional caption (kinora.models.text)

# ---------------------------------------------------------------------------------
# Text: every caption encoded once, kept memory-mapped
# ---------------------------------------------------------------------------------


class TextBank:
    """Token states of a fixed set of captions: texts.json + states.npy (float16, (tokens, 384))."""

    def __init__(self, texts: list[str], states: np.ndarray, offsets: np.ndarray):
        self.texts = texts
        self.states = states  # (total_tokens, D) float16, maybe a memmap
        self.offsets = offsets  # (n + 1,) int64: caption i is states[offsets[i]:offsets[i + 1]]
        self.index = {t: i for i, t in enumerate(texts)}
        if NULL_TEXT not in self.index:
            raise KinoraError("the text bank has no empty caption (needed for guidance)")

    def lookup(self, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, L, D) float32 states and (B, L) bool mask for captions in the bank."""
        rows = []
        for t in texts:
            i = self.index[t]
            rows.append(torch.from_numpy(np.asarray(self.states[self.offsets[i]:self.offsets[i + 1]], dtype=np.float32)))
        return pad_states(rows)

    @classmethod
    def from_states(cls, texts: list[str], states: list[torch.Tensor]) -> "TextBank":
        lengths = [s.shape[0] for s in states]
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        flat = torch.cat(states).numpy().astype(np.float16)  # (total_tokens, D)
        return cls(list(texts), flat, offsets)

    @classmethod
    def build(cls, texts: list[str], folder: Path, batch_size: int = 256) -> "TextBank":
        """Encode `texts` (plus "") with the frozen MiniLM into `folder`, or load it if it is there."""
        texts = sorted(set(texts) | {NULL_TEXT})
        index_path = folder / "texts.json"
        if index_path.exists():
            bank = cls.load(folder)
            if set(texts) <= set(bank.texts):
                return bank
        from kinora.models.text import get_encoder

        enc = get_encoder()
        states: list[torch.Tensor] = []
        for i in range(0, len(texts), batch_size):
            states.extend(enc.token_states(texts[i:i + batch_size]))
        bank = cls.from_states(texts, states)
        folder.mkdir(parents=True, exist_ok=True)
        with atomic_path(folder / "states.npy") as tmp:
            np.save(tmp, bank.states)
        write_json_atomic(index_path, {"texts": texts, "offsets": bank.offsets.tolist()})  # last: marks complete
        return cls.load(folder)

    @classmethod
    def load(cls, folder: Path) -> "TextBank":
        meta = json.loads((folder / "texts.json").read_text(encoding="utf-8"))
        states = np.load(folder / "states.npy", mmap_mode="r")
        return cls(meta["texts"], states, np.asarray(meta["offsets"], dtype=np.int64))


# ---------------------------------------------------------------------------------
# Latents: buckets of one (F, h, w) each
# ---------------------------------------------------------------------------------


@dataclass
class Bucket:
    latents: torch.Tensor  # (N, C, F, h, w) float16
    captions: list[list[str]]  # per clip, the captions to choose from
    source: str = ""


class LatentData:
    """All training latents in buckets, plus the text bank; draws seeded batches."""

    def __init__(self, buckets: list[Bucket], text: TextBank):
        if not buckets:
            raise KinoraError("no training clips (all held out or empty?)")
        self.buckets = buckets
        self.text = text
        self.weights = torch.tensor([float(len(b.captions)) for b in buckets])

    def __len__(self) -> int:
        return sum(len(b.captions) for b in self.buckets)

    def batch(self, n: int, g: torch.Generator, text_dropout: float):
        """x0 (n, C, F, h, w) float32, text (n, L, D), text_mask (n, L), captions used."""
        b = self.buckets[int(torch.multinomial(self.weights, 1, generator=g))]
        idx = torch.randint(len(b.captions), (n,), generator=g)
        x0 = b.latents[idx].float()  # (n, C, F, h, w)
        caps = []
        for i in idx.tolist():
            options = b.captions[i]
            cap = options[int(torch.randint(len(options), (1,), generator=g))]
            if float(torch.rand((), generator=g)) < text_dropout:
                cap = NULL_TEXT
            caps.append(cap)
        text, text_mask = self.text.lookup(caps)
        return x0, text, text_mask, caps


def check_buckets(buckets: list[Bucket], patch: tuple[int, int, int]) -> list[Bucket]:
    """Keep the buckets whose latent grid the patch size divides; say which were dropped."""
    keep = []
    for b in buckets:
        _, _, Fr, h, w = b.latents.shape
        if Fr % patch[0] or h % patch[1] or w % patch[2]:
            print(f"skipping {b.source}: latent grid {Fr}x{h}x{w} not divisible by patch {patch}", file=sys.stderr)
        else:
            keep.append(b)
    return keep


def valid_frames(t: int, max_frames: int) -> int:
    """The largest 1 + 4k that is <= min(t, max_frames)."""
    t = min(t, max_frames)
    return 1 + 4 * ((t - 1) // 4)


def to_video_tensor(frames: np.ndarray) -> torch.Tensor:
    """(N, T, H, W, 3) uint8 -> (N, 3, T, H, W) float in [-1, 1]."""
    x = torch.from_numpy(np.ascontiguousarray(frames)).float() / 127.5 - 1.0
    return x.permute(0, 4, 1, 2, 3)


@torch.inference_mode()
def encode_videos(vae, frames: np.ndarray | torch.Tensor, batch: int = 8) -> torch.Tensor:
    """Frames (N, T, H, W, 3) uint8, or video (N, 3, T, H, W) in [-1, 1] -> (N, C, F, h, w)
    float16 latents (posterior mean), a few clips at a time to bound memory."""
    out = []
    for i in range(0, frames.shape[0], batch):
        x = frames[i:i + batch]
        x = to_video_tensor(x) if isinstance(x, np.ndarray) else x  # (b, 3, T, H, W)
        out.append(vae.encode(x).to(torch.float16))
    return torch.cat(out)


def save_bucket(path: Path, latents: torch.Tensor, captions: list[list[str]], extra: dict | None = None) -> None:
    from safetensors.torch import save_file

    meta = {"captions": json.dumps(captions, ensure_ascii=False)}
    meta.update({k: json.dumps(v) for k, v in (extra or {}).items()})
    with atomic_path(path) as tmp:
        save_file({"latents": latents.contiguous()}, str(tmp), metadata=meta)


def load_bucket(path: Path) -> Bucket:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        captions = json.loads(f.metadata()["captions"])
        latents = f.get_tensor("latents")
    return Bucket(latents, captions, source=path.name)


def clip_captions(record: dict) -> list[str]:
    """The captions a world clip trains with: its English captions and the canonical one."""
    caps = record.get("captions") or {}
    out = list(caps.get("en") or [])
    if caps.get("canonical"):
        out.append(caps["canonical"])
    return [c for c in dict.fromkeys(out) if c] or [NULL_TEXT]


def cache_world_shards(data: Path, vae, cache: Path, max_frames: int) -> list[Path]:
    """Encode every shard of `kinora world sample` output once; return the latent files."""
    shards_dir = data / "shards" if (data / "shards").is_dir() else data
    names = sorted(p.stem for p in shards_dir.glob("shard-*.npz"))
    if not names:
        raise KinoraError(f"no shards in {shards_dir}; write some with 'kinora world sample --n N --out {data}'")
    from tqdm import tqdm

    files = []
    for name in tqdm(names, desc="encoding shards", unit="shard", disable=len(names) < 2):
        path = cache / f"world-{name}.safetensors"
        files.append(path)
        if path.exists():
            continue
        records = [json.loads(line) for line in (shards_dir / f"{name}.jsonl").read_text(encoding="utf-8").splitlines() if line]
        keep = [i for i, r in enumerate(records) if int(r.get("seed", 0)) < HELDOUT_SEED_BASE]
        with np.load(shards_dir / f"{name}.npz") as z:
            frames = z["frames"]  # (N, T, H, W, 3) uint8
        if len(records) != frames.shape[0]:
            raise KinoraError(f"{name}: {frames.shape[0]} clips but {len(records)} records")
        if not keep:
            files.pop()
            continue
        T = valid_frames(frames.shape[1], max_frames)
        latents = encode_videos(vae, frames[keep, :T])  # (N, C, F, h, w)
        save_bucket(path, latents, [clip_captions(records[i]) for i in keep],
                    {"seeds": [records[i].get("seed") for i in keep]})
    return files


ASPECTS = (1.0, 4 / 3, 3 / 4, 16 / 9, 9 / 16, 3 / 2, 2 / 3, 2.0, 0.5)


def bucket_size(height: int, width: int, area: int, multiple: int) -> tuple[int, int]:
    """The (H, W) bucket for a video: the listed aspect ratio nearest to its own, about `area`
    pixels, both sides multiples of `multiple` (VAE 8x times the DiT patch)."""
    ar = min(ASPECTS, key=lambda a: abs(math.log(a) - math.log(width / height)))
    H = max(multiple, round(math.sqrt(area / ar) / multiple) * multiple)
    W = max(multiple, round(math.sqrt(area * ar) / multiple) * multiple)
    return H, W


def resize_video(frames: np.ndarray, H: int, W: int) -> torch.Tensor:
    """(T, h, w, 3) uint8 -> (3, T, H, W) in [-1, 1]: centre-crop to the bucket's aspect, then resize."""
    x = to_video_tensor(frames[None])[0]  # (3, T, h, w)
    _, _, h, w = x.shape
    if w * H > W * h:  # too wide: crop width
        cw = round(h * W / H)
        x = x[..., (w - cw) // 2:(w - cw) // 2 + cw]
    else:
        ch = round(w * H / W)
        x = x[..., (h - ch) // 2:(h - ch) // 2 + ch, :]
    x = x.permute(1, 0, 2, 3)  # (T, 3, h', w') for 2D resizing per frame
    x = F.interpolate(x, size=(H, W), mode="bilinear", antialias=True, align_corners=False)
    return x.permute(1, 0, 2, 3).clamp(-1, 1)  # (3, T, H, W)


def cache_csv_videos(csv_path: Path, vae, cache: Path, train: "TrainSettings", multiple: int) -> list[Path]:
    """Read, resample, bucket and encode every video of a `path,text` CSV once."""
    from kinora.io.video import read_video

    if not csv_path.exists():
        raise KinoraError(f"CSV not found: {csv_path}")
    digest = sha256_file(csv_path)[:12]
    done = cache / f"csv-{digest}.json"
    if done.exists():
        return [cache / n for n in json.loads(done.read_text())["files"]]
    with open(csv_path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    if not rows or not {"path", "text"} <= set(rows[0]):
        raise KinoraError(f"{csv_path} needs a header 'path,text' and at least one row")
    groups: dict[tuple, tuple[list, list]] = {}
    from tqdm import tqdm

    for row in tqdm(rows, desc="encoding videos", unit="video"):
        path = Path(row["path"])
        path = path if path.is_absolute() else csv_path.parent / path
        frames, fps, _ = read_video(path, max_frames=train.max_frames * 8)
        step = max(1, round(fps / train.fps))
        frames = frames[::step]
        frames = frames[:valid_frames(len(frames), train.max_frames)]
        H, W = bucket_size(frames.shape[1], frames.shape[2], train.width * train.height, multiple)
        x = resize_video(frames, H, W)  # (3, T, H, W)
        z = encode_videos(vae, x[None])[0]  # (C, F, h, w)
        lat, caps = groups.setdefault(tuple(z.shape[1:]), ([], []))
        lat.append(z)
        caps.append([row["text"]])
    files = []
    for (Fr, h, w), (lat, caps) in groups.items():
        name = f"csv-{digest}-{Fr}x{h}x{w}.safetensors"
        save_bucket(cache / name, torch.stack(lat), caps)
        files.append(name)
    write_json_atomic(done, {"csv": str(csv_path), "files": files})
    return [cache / n for n in files]


def synthetic_data(preset: Preset, train: "TrainSettings", seed: int, n: int = 8) -> LatentData:
    """Random latents in two buckets and random text states: for tests and smoke runs."""
    g = torch.Generator().manual_seed(seed)
    C, (pt, ph, pw) = preset.dit.latent_channels, preset.dit.patch
    Fr = 1 + (train.max_frames - 1) // 4
    h, w = train.height // 8, train.width // 8
    shapes = [(Fr, h, w), (max(pt, (Fr // 2) // pt * pt), h, 2 * w)]  # a second aspect ratio
    buckets, texts = [], [NULL_TEXT]
    for k, shape in enumerate(shapes):
        caps = [[f"synthetic clip {k}-{i}", f"clip {k}-{i}"] for i in range(n)]
        texts += [c for cs in caps for c in cs]
        buckets.append(Bucket(torch.randn(n, C, *shape, generator=g).half(), caps, source=f"synthetic-{k}"))
    states = [torch.randn(3 + len(t) % 4, preset.dit.text_dim, generator=g) for t in texts]
    return LatentData(buckets, TextBank.from_states(texts, states))


def default_vae_path(preset: Preset) -> Path:
    return WEIGHTS_DIR / vae_filename(preset.vae_name)  # the shipped VAE (package data)


# ---------------------------------------------------------------------------------
# Settings: the preset's defaults with this run's overrides, in one record
# ---------------------------------------------------------------------------------

# The preset training defaults that a command-line flag may override.
OVERRIDABLE = ("batch_size", "lr", "weight_decay", "warmup_steps", "steps", "ema_decay", "grad_clip",
               "text_dropout", "shift_scale", "log_every", "ckpt_every", "width", "height", "fps", "max_frames")


@dataclass
class TrainSettings:
    preset: str
    out: str
    data: str | None = None  # world shards folder
    data_csv: str | None = None  # real videos: CSV path,text
    generate: int = 0  # simulate this many clips into OUT/world first
    synthetic: bool = False
    vae: str | None = None
    cache: str | None = None
    resume: bool = False
    init: str | None = None  # warm start: a folder with dit-PRESET(-ema).safetensors (fresh optimizer)
    allow_new_vae: bool = False  # --init from weights trained on another VAE's latents (fine-tune to it)
    seed: int = 0
    threads: int | None = None
    device: str | None = None
    ship_fp16: bool = False
    quiet: bool = False
    decay_steps: int = 0  # linear cool-down to lr * decay_to over the last this many steps (0: none)
    decay_to: float = 0.1
    # Filled from the preset, then from the flags:
    batch_size: int = 0
    lr: float = 0.0
    weight_decay: float = 0.0
    warmup_steps: int = 0
    steps: int = 0
    ema_decay: float = 0.0
    grad_clip: float = 0.0
    text_dropout: float = 0.0
    shift_scale: float = 1.0
    log_every: int = 1
    ckpt_every: int = 1
    width: int = 0
    height: int = 0
    fps: int = 0
    max_frames: int = 0
    task_probs: dict | None = None

    @classmethod
    def from_preset(cls, preset: str, out: str, **overrides) -> "TrainSettings":
        p = get_preset(preset)
        base = {k: getattr(p.train, k) for k in OVERRIDABLE}
        base["task_probs"] = dict(p.train.task_probs)
        base.update({k: v for k, v in overrides.items() if v is not None})
        s = cls(preset=preset, out=str(out), **base)
        s.validate()
        return s

    def validate(self) -> None:
        sources = sum([self.data is not None, self.data_csv is not None, self.generate > 0, self.synthetic])
        if sources != 1:
            raise KinoraError("give exactly one data source: --data DIR, --data-csv FILE, --generate N or --synthetic")
        for k in ("batch_size", "steps", "log_every", "ckpt_every", "width", "height", "fps", "max_frames"):
            if getattr(self, k) < 1:
                raise KinoraError(f"--{k.replace('_', '-')} must be at least 1, got {getattr(self, k)}")
        if not 0.0 <= self.text_dropout < 1.0:
            raise KinoraError(f"--text-dropout must be in [0, 1), got {self.text_dropout}")
        if self.lr <= 0:
            raise KinoraError(f"--lr must be positive, got {self.lr}")
        if not 0 <= self.decay_steps <= self.steps:
            raise KinoraError(f"--decay-steps must be in [0, --steps={self.steps}], got {self.decay_steps}")
        if not 0.0 <= self.decay_to <= 1.0:
            raise KinoraError(f"--decay-to must be in [0, 1], got {self.decay_to}")
        if (self.max_frames - 1) % 4:
            raise KinoraError(f"--max-frames must be 1 + 4k (the VAE's frame rule), got {self.max_frames}")
        unknown = set(self.task_probs or {}) - set(TASKS)
        if unknown:
            raise KinoraError(f"unknown tasks {sorted(unknown)}; known: {sorted(TASKS)}")


# ---------------------------------------------------------------------------------
# Checkpoints, log, plot
# ---------------------------------------------------------------------------------


def ema_update(ema: torch.nn.Module, model: torch.nn.Module, decay: float) -> None:
    with torch.no_grad():
        for pe, pm in zip(ema.parameters(), model.parameters()):
            pe.lerp_(pm, 1.0 - decay)


def lr_at(step: int, s: TrainSettings) -> float:
    """Linear warm-up, constant, then an optional linear cool-down over the last decay_steps
    (warmup-stable-decay: a run can be extended, and cooled down only when it is to end)."""
    lr = s.lr * min(1.0, (step + 1) / s.warmup_steps) if s.warmup_steps > 0 else s.lr
    start = s.steps - s.decay_steps
    if s.decay_steps > 0 and step >= start:
        lr *= 1.0 - (1.0 - s.decay_to) * min(1.0, (step - start + 1) / s.decay_steps)
    return lr


def step_generator(seed: int, rank: int, step: int) -> torch.Generator:
    """The generator for everything random in one step of one rank."""
    return torch.Generator().manual_seed(((seed * 1_000_003 + rank) * 1_000_000_007 + step) % (2 ** 63))


def checkpoint_meta(s: TrainSettings, preset: Preset, vae: dict, step: int, ema: bool) -> dict:
    """What a DiT checkpoint says about itself; `vae` is the VAE the latents came from
    ({"hash", "config", "path"}; hash "none" for synthetic data)."""
    return {"preset": preset.name, "vae_name": preset.vae_name,
            "vae_config": vae.get("config") or dataclasses.asdict(preset.vae), "vae_hash": vae["hash"],
            "vae_path": vae.get("path"), "train_args": dataclasses.asdict(s), "step": step, "ema": ema}


def plot_log(records: list[dict], path: Path, size: tuple[int, int] = (640, 360)) -> None:
    """Training loss against step (log scale) as a PNG, with PIL only."""
    from PIL import Image, ImageDraw

    pts = [(r["step"], r["loss"]) for r in records if r.get("loss", 0) > 0]
    img = Image.new("RGB", size, "white")
    d = ImageDraw.Draw(img)
    W, H, m = size[0], size[1], 40
    d.rectangle([m, m // 2, W - m // 2, H - m], outline="black")
    if len(pts) >= 2:
        x0, x1 = pts[0][0], max(pts[-1][0], pts[0][0] + 1)
        ly = [math.log10(v) for _, v in pts]
        y0, y1 = min(ly), max(max(ly), min(ly) + 1e-3)

        def px(x, y):
            return (m + (x - x0) / (x1 - x0) * (W - 1.5 * m), H - m - (y - y0) / (y1 - y0) * (H - 1.5 * m))

        d.line([px(x, y) for (x, _), y in zip(pts, ly)], fill=(40, 90, 200), width=2)
        d.text((m, H - m + 8), f"step {x0}", fill="black")
        d.text((W - 3 * m, H - m + 8), f"{x1}", fill="black")
        d.text((4, m // 2), f"{10 ** y1:.3g}", fill="black")
        d.text((4, H - m - 10), f"{10 ** y0:.3g}", fill="black")
    d.text((W // 2 - 60, 4), "flow loss (log scale)", fill="black")
    with atomic_path(path) as tmp:
        img.save(tmp, format="PNG")


def read_log(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


# ---------------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------------


def prepare_data(s: TrainSettings, preset: Preset, out: Path, device, rank: int, world: int):
    """Build (rank 0) or wait for (others) the latent and text caches; return (data, vae info)."""
    import torch.distributed as dist

    if s.synthetic:
        return synthetic_data(preset, s, s.seed), {"hash": "none"}
    from kinora.models.vae import latent_id, load_vae

    vae_path = Path(s.vae) if s.vae else default_vae_path(preset)
    if not vae_path.exists():
        raise KinoraError(f"no VAE weights at {vae_path}; train them first (python -m kinora.train.vae) or pass --vae")
    vae_info = {"hash": latent_id(vae_path), "path": str(vae_path)}  # a decoder fine-tune shares its caches
    cache = Path(s.cache) if s.cache else out / "cache" / vae_info["hash"]
    files = None
    if rank == 0:
        vae = load_vae(vae_path)
        vae_info["config"] = dataclasses.asdict(vae.cfg)  # with its measured scaling/shift factors
        if vae.cfg.latent_channels != preset.dit.latent_channels:
            raise KinoraError(f"{vae_path} has {vae.cfg.latent_channels} latent channels; preset "
                              f"{preset.name} needs {preset.dit.latent_channels}")
        cache.mkdir(parents=True, exist_ok=True)
        multiple = 8 * max(preset.dit.patch[1:])
        if s.data_csv:
            files = cache_csv_videos(Path(s.data_csv), vae, cache, s, multiple)
        else:
            data = Path(s.data) if s.data else out / "world"
            if s.generate and not (data / "index.json").exists():
                from kinora.world.dataset import write_dataset
                from kinora.world.spec import SpecDistribution

                dur = s.max_frames / s.fps  # T = round(dur * fps) = max_frames, e.g. 33 at 8 fps
                write_dataset(data, s.generate, seed=s.seed, clips=False, progress=not s.quiet,
                              dist=SpecDistribution(duration=(dur / 2, dur), fps=s.fps, width=s.width, height=s.height))
            files = cache_world_shards(data, vae, cache, s.max_frames)
        del vae
    if world > 1:  # the others wait for rank 0's caches, then read the same files
        box = [[str(f) for f in files] if files is not None else None]
        dist.broadcast_object_list(box, src=0)
        files = [Path(f) for f in box[0]]
    buckets = check_buckets([load_bucket(f) for f in files], preset.dit.patch)
    texts = sorted({c for b in buckets for cs in b.captions for c in cs})
    if rank == 0:
        bank = TextBank.build(texts, cache / "text")
    if world > 1:
        dist.barrier()
    if rank != 0:
        bank = TextBank.load(cache / "text")
    return LatentData(buckets, bank), vae_info


def run(s: TrainSettings, data: LatentData | None = None) -> DiT:
    """Train as `s` says; return the trained (unwrapped) model. Works under torchrun.

    `data` replaces the data source named in `s` (a LatentData built in code, e.g. by tests).
    """
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel as DDP

    s.validate()
    preset = get_preset(s.preset)
    ddp = int(os.environ.get("RANK", -1)) != -1
    use_cuda = (s.device or ("cuda" if torch.cuda.is_available() else "cpu")).startswith("cuda")
    if ddp:
        dist.init_process_group("nccl" if use_cuda else "gloo", timeout=timedelta(hours=2))
        rank, world, local_rank = dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", 0))
        device = torch.device(f"cuda:{local_rank}" if use_cuda else "cpu")
    else:
        rank, world = 0, 1
        device = torch.device(s.device or ("cuda" if use_cuda else "cpu"))
    if use_cuda:
        torch.cuda.set_device(device)
    if s.threads:
        torch.set_num_threads(s.threads)
    if s.batch_size % world:
        raise KinoraError(f"--batch-size {s.batch_size} is not divisible by the {world} ranks")
    local_batch = s.batch_size // world
    master = rank == 0
    say = (lambda *a: print(*a, flush=True)) if master and not s.quiet else (lambda *a: None)
    out = Path(s.out)
    state_path = out / "train_state.pt"
    try:
        if master:
            out.mkdir(parents=True, exist_ok=True)
            if state_path.exists() and not s.resume:
                raise KinoraError(f"{out} already holds a run; add --resume to continue it or pick another --out")

        if data is None:
            data, vae_info = prepare_data(s, preset, out, device, rank, world)
        else:
            vae_info = {"hash": "none"}
        say(f"data: {len(data)} clips in {len(data.buckets)} buckets "
            f"{sorted({tuple(b.latents.shape[2:]) for b in data.buckets})}")

        torch.manual_seed(s.seed)  # the same initial weights on every rank
        model = DiT(preset.dit).to(device)
        ema = copy.deepcopy(model).requires_grad_(False)
        opt = torch.optim.AdamW(model.parameters(), lr=s.lr, betas=(0.9, 0.99), weight_decay=s.weight_decay)
        step = 0
        if s.resume and state_path.exists():
            state = torch.load(state_path, map_location="cpu", weights_only=False)  # RNG state must stay on CPU
            if state["preset"] != preset.name:
                raise KinoraError(f"{state_path} is a {state['preset']!r} run, not {preset.name!r}")
            if state.get("vae_hash", vae_info["hash"]) != vae_info["hash"]:
                raise KinoraError(f"{state_path} was trained on latents of VAE {state['vae_hash']}, "
                                  f"not {vae_info['hash']}; start a new run for the new VAE")
            model.load_state_dict(state["model"])
            ema.load_state_dict(state["ema"])
            opt.load_state_dict(state["optimizer"])
            step = state["step"]
            torch.set_rng_state(state["rng"])
            if master:  # drop log lines written after the last checkpoint: they are redone now
                kept = [r for r in read_log(out / "log.jsonl") if r["step"] <= step]
                write_text_atomic(out / "log.jsonl", "".join(json.dumps(r) + "\n" for r in kept))
            say(f"resumed at step {step}")
        elif s.init:
            # Warm start from exported weights when the full train_state.pt (optimizer
            # included, several times the model's size) was not kept: the step count and
            # the EMA carry on, AdamW's moments start afresh.
            from kinora.models.dit import load_dit

            folder = Path(s.init)
            raw, meta = load_dit(folder / f"dit-{preset.name}.safetensors")
            if meta.get("preset") != preset.name:
                raise KinoraError(f"{folder} holds a {meta.get('preset')!r} model, not {preset.name!r}")
            if meta.get("vae_hash", vae_info["hash"]) != vae_info["hash"]:
                if not s.allow_new_vae:
                    raise KinoraError(f"{folder} was trained on latents of VAE {meta['vae_hash']}, not "
                                      f"{vae_info['hash']}; add --allow-new-vae to fine-tune it to the new VAE")
                say(f"fine-tuning from VAE {meta['vae_hash']} latents to VAE {vae_info['hash']}")
            model.load_state_dict(raw.state_dict())
            ema_path = folder / f"dit-{preset.name}-ema.safetensors"
            ema.load_state_dict((load_dit(ema_path)[0] if ema_path.exists() else raw).state_dict())
            step = int(meta.get("step", 0))
            say(f"warm start from {folder} at step {step} (fresh optimizer)")
        say(f"model: {preset.name}, {model.num_params() / 1e6:.2f} M parameters, {world} rank(s) on {device}")
        train_model = DDP(model, device_ids=[device.index] if use_cuda else None) if ddp else model

        log_path = out / "log.jsonl"
        interval: dict[str, list[float]] = {"loss": []}
        t_last = time.perf_counter()
        while step < s.steps:
            g = step_generator(s.seed, rank, step)
            x0, text, text_mask, _ = data.batch(local_batch, g, s.text_dropout)
            B, _, Fr, h, w = x0.shape
            masks, tasks = sample_masks(B, Fr, h, w, s.task_probs, g)  # (B, 1, F, h, w)
            t = sample_t(B, resolution_shift(Fr, h, w, scale=s.shift_scale), g)  # (B,)
            noise = torch.randn(x0.shape, generator=g)
            cond = {"text": text.to(device), "text_mask": text_mask.to(device), "mask": masks.to(device)}
            loss, per_item = flow_loss(train_model, x0.to(device), cond, t.to(device), noise.to(device), per_sample=True)

            for pg in opt.param_groups:
                pg["lr"] = lr_at(step, s)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if s.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), s.grad_clip)
            opt.step()
            # EMA warms up (decay grows from 0.1 towards ema_decay) so early weights fade fast.
            ema_update(ema, model, min(s.ema_decay, (1 + step) / (10 + step)))
            step += 1

            interval["loss"].append(loss.item())
            for name, l in zip(tasks, per_item.tolist()):
                interval.setdefault(name, []).append(l)
            if step % s.log_every == 0 or step == s.steps:
                mean = torch.tensor(sum(interval["loss"]) / len(interval["loss"]), device=device)
                if ddp:
                    dist.all_reduce(mean)
                    mean /= world
                dt = (time.perf_counter() - t_last) / len(interval["loss"])
                rec = {"step": step, "loss": round(mean.item(), 6), "lr": lr_at(step - 1, s),
                       "sec_per_step": round(dt, 4), "clips_per_s": round(s.batch_size / dt, 2),
                       "by_task": {k: round(sum(v) / len(v), 5) for k, v in interval.items() if k != "loss"}}
                if master:
                    with open(log_path, "a", encoding="utf-8") as f:
                        f.write(json.dumps(rec) + "\n")
                    say(f"step {step}/{s.steps} loss {rec['loss']:.4f} {dt:.2f} s/step")
                interval = {"loss": []}
                t_last = time.perf_counter()
            if master and (step % s.ckpt_every == 0 or step == s.steps):
                save_checkpoint(out, s, preset, model, ema, opt, step, vae_info)
                plot_log(read_log(log_path), out / "loss.png")
        if master:
            say(f"done: {out / f'dit-{preset.name}-ema.safetensors'}")
        return model
    finally:
        if ddp and dist.is_initialized():
            dist.destroy_process_group()


def save_checkpoint(out: Path, s: TrainSettings, preset: Preset, model, ema, opt, step: int, vae: dict) -> None:
    """train_state.pt for resuming (everything), then the safetensors exports."""
    state = {"preset": preset.name, "model": model.state_dict(), "ema": ema.state_dict(),
             "optimizer": opt.state_dict(), "step": step, "rng": torch.get_rng_state(), "vae_hash": vae["hash"],
             "settings": dataclasses.asdict(s)}
    with atomic_path(out / "train_state.pt") as tmp:
        torch.save(state, tmp)
    save_dit(out / f"dit-{preset.name}.safetensors", model, checkpoint_meta(s, preset, vae, step, ema=False))
    save_dit(out / f"dit-{preset.name}-ema.safetensors", ema, checkpoint_meta(s, preset, vae, step, ema=True),
             dtype=torch.float16 if s.ship_fp16 else None)


# ---------------------------------------------------------------------------------
# Command line (`kinora train` and `python -m kinora.train` / torchrun -m kinora.train)
# ---------------------------------------------------------------------------------


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--preset", required=True, choices=sorted(PRESETS), help="model size (kinora/models/presets.py)")
    p.add_argument("--out", required=True, help="run folder: checkpoints, log, plot")
    src = p.add_argument_group("data (exactly one)")
    src.add_argument("--data", help="folder written by 'kinora world sample'")
    src.add_argument("--data-csv", help="CSV of real videos with a header 'path,text'")
    src.add_argument("--generate", type=int, default=0, metavar="N", help="simulate N micro-world clips into OUT/world first")
    src.add_argument("--synthetic", action="store_true", help="random latents and text (tests, smoke runs)")
    p.add_argument("--vae", help="VAE weights (default: checkpoints/vae/vae-<preset's VAE>.safetensors)")
    p.add_argument("--cache", help="latent/text cache folder (default: OUT/cache/<VAE hash>)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out")
    p.add_argument("--init", help="warm start from a folder of exported weights (dit-PRESET.safetensors and -ema)")
    p.add_argument("--allow-new-vae", action="store_true",
                   help="with --init: the weights were trained on another VAE's latents; fine-tune them to this one")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, help="torch CPU threads")
    p.add_argument("--device", help="cpu or cuda (default: cuda when available)")
    p.add_argument("--ship-fp16", action="store_true", help="store the EMA weights as float16")
    p.add_argument("--quiet", action="store_true")
    p.add_argument("--decay-steps", type=int, default=0, metavar="N",
                   help="cool the learning rate down linearly over the last N steps (default: none)")
    p.add_argument("--decay-to", type=float, default=0.1, metavar="R",
                   help="the cool-down ends at lr * R (default: 0.1)")
    o = p.add_argument_group("overrides of the preset's training defaults")
    types = {f.name: f.type for f in dataclasses.fields(TrainSettings)}
    for k in OVERRIDABLE:
        o.add_argument(f"--{k.replace('_', '-')}", type=float if types[k] in (float, "float") else int,
                       metavar="X", help="(default: the preset's)")


def settings_from_args(args: argparse.Namespace) -> TrainSettings:
    overrides = {k: getattr(args, k) for k in OVERRIDABLE}
    return TrainSettings.from_preset(
        args.preset, args.out, data=args.data, data_csv=args.data_csv, generate=args.generate,
        synthetic=args.synthetic, vae=args.vae, cache=args.cache, resume=args.resume, init=args.init,
        allow_new_vae=args.allow_new_vae, seed=args.seed,
        threads=args.threads, device=args.device, ship_fp16=args.ship_fp16, quiet=args.quiet,
        decay_steps=args.decay_steps, decay_to=args.decay_to, **overrides)


def main(args: argparse.Namespace) -> int:
    run(settings_from_args(args))
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m kinora.train", description="Train the Kinora DiT.")
    add_arguments(parser)
    try:
        sys.exit(main(parser.parse_args()))
    except KinoraError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(e.exit_code)
