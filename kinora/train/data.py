"""Training data, prepared once and then drawn from by seed: what kinora.train.dit and
kinora.train.vae train on.

The DiT trains on latents (the frozen VAE's, cached), in buckets of one (F, h, w) each:

* Captions: `TextBank` holds every caption's frozen MiniLM token states, encoded once
  and kept memory-mapped (texts.json + states.npy); "" is always there (guidance).
* `Bucket` / `LatentData`: all latents, one bucket per clip shape; `LatentData.batch`
  draws a bucket by size, a batch from it and one caption per clip from a generator.
* Caches: `cache_world_shards` encodes the shards of `kinora world sample` (one latent
  file per shard; held-out seeds >= HELDOUT_SEED_BASE skipped); `cache_csv_videos` reads
  a `path,text` CSV of real videos, resamples them to the run's fps, cuts them to
  1 + 4k frames, centre-crops and resizes each to its aspect-ratio bucket (`bucket_size`,
  `resize_video`) and encodes them. `synthetic_data` is random latents and text states
  for tests and smoke runs.

The VAE trains on pixels: `ClipPool` keeps micro-world clips of a few sizes in memory,
simulated on the fly (`simulate_clip`) or read from shards; `heldout_clips` are the
evaluation clips (seeds HELDOUT_SEED_BASE + i, never trained on).

What it follows: Open-Sora's bucketed data (one clip shape per batch, aspect-ratio buckets
of about one pixel count), and the latent-diffusion practice of running the frozen VAE
and text encoder once, before training, rather than in the loop.

Videos are (N, 3, T, H, W) floats in [-1, 1] here (`to_video_tensor` from uint8 frames
(N, T, H, W, 3)); latents (N, C, F, h, w) float16.
"""

from __future__ import annotations

import csv
import json
import math
import random
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F

from kinora.defaults import HELDOUT_SEED_BASE
from kinora.errors import KinoraError
from kinora.io.atomic import atomic_path, write_json_atomic
from kinora.io.hashing import sha256_file
from kinora.models.text import pad_states

if TYPE_CHECKING:
    from kinora.models.presets import PoolBucket, Preset
    from kinora.train.dit import TrainSettings
    from kinora.train.vae import TrainConfig

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
            states = self.states[self.offsets[i]:self.offsets[i + 1]]
            rows.append(torch.from_numpy(np.asarray(states, dtype=np.float32)))
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
# Latents (the DiT): buckets of one (F, h, w) each
# ---------------------------------------------------------------------------------


@dataclass
class Bucket:
    latents: torch.Tensor  # (N, C, F, h, w) float16
    captions: list[list[str]]  # per clip, the captions to choose from
    source: str = ""
    signals: torch.Tensor | None = None  # (N, S, F, k*h, k*w) float16 physics signal; None: not known (real videos)


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

    def batch(self, n: int, g: torch.Generator, text_dropout: float, signal_dropout: float):
        """x0 (n, C, F, h, w) float32, text (n, L, D), text_mask (n, L), captions used, and the
        physics signal (n, S, F, 2h, 2w) float32 with each clip's zeroed with probability
        `signal_dropout` (None where the bucket has none)."""
        b = self.buckets[int(torch.multinomial(self.weights, 1, generator=g))]
        idx = torch.randint(len(b.captions), (n,), generator=g)
        x0 = b.latents[idx].float()  # (n, C, F, h, w)
        signal = None
        keep = torch.rand(n, generator=g) >= signal_dropout  # (n,) True = this clip sees its signal
        if b.signals is not None:
            signal = b.signals[idx].float() * keep.view(-1, 1, 1, 1, 1)  # (n, S, F, 2h, 2w)
        caps = []
        for i in idx.tolist():
            options = b.captions[i]
            cap = options[int(torch.randint(len(options), (1,), generator=g))]
            if float(torch.rand((), generator=g)) < text_dropout:
                cap = NULL_TEXT
            caps.append(cap)
        text, text_mask = self.text.lookup(caps)
        return x0, text, text_mask, caps, signal


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


def save_bucket(path: Path, latents: torch.Tensor, captions: list[list[str]], extra: dict | None = None,
                signals: torch.Tensor | None = None) -> None:
    from safetensors.torch import save_file

    meta = {"captions": json.dumps(captions, ensure_ascii=False)}
    meta.update({k: json.dumps(v) for k, v in (extra or {}).items()})
    tensors = {"latents": latents.contiguous()}
    if signals is not None:
        from kinora.world.signal import VERSION

        tensors["signals"] = signals.contiguous()
        meta["signal"] = json.dumps(VERSION)
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=meta)


def load_bucket(path: Path) -> Bucket:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        captions = json.loads(f.metadata()["captions"])
        latents = f.get_tensor("latents")
        signals = f.get_tensor("signals") if "signals" in f.keys() else None
    return Bucket(latents, captions, source=path.name, signals=signals)


def has_signals(path: Path) -> bool:
    """Whether a cached bucket holds physics signals of the current definition (kinora.world.signal)."""
    from safetensors import safe_open

    from kinora.world.signal import VERSION

    with safe_open(str(path), framework="pt") as f:
        return "signals" in f.keys() and json.loads((f.metadata() or {}).get("signal", "null")) == VERSION


def shard_signals(seg: np.ndarray, records: list[dict]) -> torch.Tensor:
    """The physics signal of every clip of a shard: seg (N, T, H, W) -> (N, S, F, H/4, W/4) float16."""
    from kinora.world.dataset import spec_of
    from kinora.world.signal import clip_signal

    return torch.stack([torch.from_numpy(clip_signal(s, spec_of(r))).to(torch.float16)
                        for s, r in zip(seg, records)])


def clip_captions(record: dict) -> list[str]:
    """The captions a world clip trains with: its English captions and the canonical one."""
    caps = record.get("captions") or {}
    out = list(caps.get("en") or [])
    if caps.get("canonical"):
        out.append(caps["canonical"])
    return [c for c in dict.fromkeys(out) if c] or [NULL_TEXT]


def world_shards(data: Path) -> tuple[Path, list[str]]:
    """The folder of a `kinora world sample` output's shards and their names (shard-NNNNN);
    a one-line error if `data` is not a folder or holds no shards."""
    data = Path(data)
    if not data.is_dir():
        raise KinoraError(f"--data {data}: no such folder; write one with 'kinora world sample --n N --out {data}'")
    shards_dir = data / "shards" if (data / "shards").is_dir() else data
    names = sorted(p.stem for p in shards_dir.glob("shard-*.npz"))
    if not names:
        raise KinoraError(f"no shards in {shards_dir}; write some with 'kinora world sample --n N --out {data}'")
    return shards_dir, names


def cache_world_shards(data: Path, vae, cache: Path, max_frames: int) -> list[Path]:
    """Encode every shard of `kinora world sample` output once; return the latent files.
    Shards that kept their segmentation also get their physics signal (kinora.world.signal)."""
    shards_dir, names = world_shards(data)
    from tqdm import tqdm

    files = []
    for name in tqdm(names, desc="encoding shards", unit="shard", disable=len(names) < 2):
        path = cache / f"world-{name}.safetensors"
        files.append(path)
        with np.load(shards_dir / f"{name}.npz") as z:
            with_seg = "seg" in z.files
            if path.exists() and (has_signals(path) or not with_seg):
                continue
            frames = None if path.exists() else z["frames"]  # (N, T, H, W, 3) uint8; cached latents are kept
            seg = z["seg"] if with_seg else None  # (N, T, H, W) int8
        lines = (shards_dir / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()
        records = [json.loads(line) for line in lines if line]
        keep = [i for i, r in enumerate(records) if int(r.get("seed", 0)) < HELDOUT_SEED_BASE]
        n = seg.shape[0] if frames is None else frames.shape[0]
        if len(records) != n:
            raise KinoraError(f"{name}: {n} clips but {len(records)} records")
        if not keep:
            files.pop()
            continue
        T = valid_frames((seg if frames is None else frames).shape[1], max_frames)
        # Latents encoded before the signal existed are reused: only the (cheap) signal is added.
        latents = encode_videos(vae, frames[keep, :T]) if frames is not None else load_bucket(path).latents
        signals = shard_signals(seg[keep, :T], [records[i] for i in keep]) if seg is not None else None
        save_bucket(path, latents, [clip_captions(records[i]) for i in keep],
                    {"seeds": [records[i].get("seed") for i in keep]}, signals=signals)
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
    """Random latents (and physics signals) in two buckets and random text states: for tests and smoke runs."""
    g = torch.Generator().manual_seed(seed)
    C, pt = preset.dit.latent_channels, preset.dit.patch[0]
    Fr = 1 + (train.max_frames - 1) // 4
    h, w = train.height // 8, train.width // 8
    shapes = [(Fr, h, w), (max(pt, (Fr // 2) // pt * pt), h, 2 * w)]  # a second aspect ratio
    buckets, texts = [], [NULL_TEXT]
    for k, shape in enumerate(shapes):
        caps = [[f"synthetic clip {k}-{i}", f"clip {k}-{i}"] for i in range(n)]
        texts += [c for cs in caps for c in cs]
        S, k_sig = preset.dit.signal_channels, preset.dit.signal_scale
        signals = torch.rand(n, S, shape[0], k_sig * shape[1], k_sig * shape[2], generator=g).half() if S else None
        buckets.append(Bucket(torch.randn(n, C, *shape, generator=g).half(), caps, source=f"synthetic-{k}",
                              signals=signals))
    states = [torch.randn(3 + len(t) % 4, preset.dit.text_dim, generator=g) for t in texts]
    return LatentData(buckets, TextBank.from_states(texts, states))


# ---------------------------------------------------------------------------------
# Pixels (the VAE): a pool of clips, simulated or read from shards; the held-out clips
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

    def __init__(self, cfg: "TrainConfig", rng: random.Random, data: str | None = None):
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
    def _key(self, b: "PoolBucket") -> tuple[int, int, int]:
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
        return to_video_tensor(np.stack(out))


def heldout_clips(n: int, cache: Path | None = None, width: int = 64, height: int = 64, frames: int = 33) -> np.ndarray:
    """Held-out clips (n, T, H, W, 3) uint8: seeds HELDOUT_SEED_BASE + i, cached as npz."""
    if cache is not None and cache.exists():
        with np.load(cache) as z:
            arr = z["frames"]
        if arr.shape[0] >= n and arr.shape[1:4] == (frames, height, width):
            return arr[:n]
    arr = np.stack([simulate_clip(HELDOUT_SEED_BASE + i, width, height, frames) for i in range(n)])
    if cache is not None:
        with atomic_path(cache) as tmp:
            with open(tmp, "wb") as f:
                np.savez(f, frames=arr)
    return arr

