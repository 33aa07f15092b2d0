"""The data engine: many random micro-world clips, written for people and for training.

`write_dataset` draws seeded random ShotSpecs, simulates them on all cores and writes

    DIR/clips/SEED.mp4       the clip (plain MP4: simulator output is not AI-generated)
    DIR/clips/SEED.json      {"seed", "spec", "captions", "truth"}
    DIR/shards/shard-sFIRSTSEED-XXXXX.npz    frames uint8 (N, T, H, W, 3), one (T, H, W) per shard,
                                             and seg int8 (N, T, H, W): the object index per pixel
                                             (-1 floor or sky), what the physics signal is made of
    DIR/shards/shard-sFIRSTSEED-XXXXX.jsonl  one {"seed", "spec", "captions", "events"} per clip
    DIR/index.json           every run written here, with its distribution and measured speed

Shards group clips of one (T, H, W), which is what bucketed training wants. Every file
goes through a temporary name, so an interrupted run leaves no half-written file.
Seeds at or above HELDOUT_SEED_BASE are reserved for evaluation and refused here.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import multiprocessing as mp
import os
import signal
import time
from pathlib import Path

import numpy as np

from kinora.defaults import HELDOUT_SEED_BASE
from kinora.errors import KinoraError
from kinora.io.atomic import atomic_path, check_writable, write_json_atomic, write_text_atomic
from kinora.world.spec import ShotSpec, SpecDistribution, random_spec


def make_record(seed: int, dist: SpecDistribution, with_truth: bool = True) -> tuple[np.ndarray, np.ndarray, dict]:
    """Simulate one random clip; return (frames (T, H, W, 3) uint8, seg (T, H, W) int8, record dict)."""
    from kinora.world.captions import make_captions
    from kinora.world.sim import simulate

    spec = random_spec(seed, dist)
    clip = simulate(spec)
    caps = make_captions(spec, seed)
    record = {
        "seed": seed,
        "spec": spec.to_dict(),
        "captions": {"en": caps.en, "zh": caps.zh, "canonical": caps.canonical},
        "events": clip.truth["events"],
    }
    if with_truth:
        record["truth"] = clip.truth
    return clip.frames, clip.seg, record


def _worker(job) -> tuple[np.ndarray, np.ndarray, dict]:
    seed, dist_dict, clips_dir = job
    dist = SpecDistribution(**dist_dict)
    frames, seg, record = make_record(seed, dist, with_truth=clips_dir is not None)
    if clips_dir is not None:
        from kinora.io.video import write_mp4

        write_mp4(frames, Path(clips_dir) / f"{seed:08d}.mp4", dist.fps)
        write_json_atomic(Path(clips_dir) / f"{seed:08d}.json", record)
        record = {k: v for k, v in record.items() if k != "truth"}
    return frames, seg, record


def _save_shard(shards_dir: Path, first_seed: int, index: int, frames: list[np.ndarray], segs: list[np.ndarray],
                records: list[dict]) -> str:
    # The first seed in the name lets several runs (other durations, sizes) share a folder.
    name = f"shard-s{first_seed:08d}-{index:05d}"
    with atomic_path(shards_dir / f"{name}.npz") as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, frames=np.stack(frames), seg=np.stack(segs))
    write_text_atomic(shards_dir / f"{name}.jsonl",
                      "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
    return name


def _earlier_runs(out: Path) -> list[dict]:
    """The runs an existing index.json lists (none for a new folder or an unreadable index)."""
    try:
        prev = json.loads((out / "index.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    return [r for r in prev.get("runs", []) if isinstance(r, dict) and len(r.get("seeds") or []) == 2]


def _quiet_worker() -> None:
    # Ctrl-C and SIGTERM are for the parent, which stops the pool: a worker that raised
    # KeyboardInterrupt itself would print a traceback and leave the pool waiting for it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


@contextlib.contextmanager
def worker_pool(workers: int):
    """A process pool of `workers` (None for one: work in this process) that is closed
    normally when the work is done and terminated at once when it is interrupted."""
    if workers <= 1:
        yield None
        return
    ctx = mp.get_context("fork") if hasattr(os, "fork") else mp.get_context()
    pool = ctx.Pool(workers, initializer=_quiet_worker)
    try:
        yield pool
    except BaseException:
        pool.terminate()
        pool.join()
        raise
    pool.close()
    pool.join()


def write_dataset(
    out: str | Path,
    n: int,
    seed: int = 0,
    dist: SpecDistribution | None = None,
    workers: int | None = None,
    shard_size: int = 256,
    clips: bool = True,
    progress: bool = True,
) -> dict:
    """Write `n` clips with seeds seed .. seed + n - 1; return the index dict."""
    if n < 1:
        raise KinoraError(f"--n must be at least 1, got {n}")
    if seed < 0 or seed + n > HELDOUT_SEED_BASE:
        raise KinoraError(
            f"seeds {seed}..{seed + n - 1} reach the held-out range (>= {HELDOUT_SEED_BASE}) kept for evaluation; "
            "use a smaller --seed"
        )
    if shard_size < 1:
        raise KinoraError(f"--shard-size must be at least 1, got {shard_size}")
    if workers is not None and workers < 1:
        raise KinoraError(f"--workers must be at least 1, got {workers}")
    if Path(out).exists() and not Path(out).is_dir():
        raise KinoraError(f"--out {out} is a file; a dataset is a folder (shards/, clips/, index.json)")
    check_writable(Path(out) / "index.json")
    for run in _earlier_runs(Path(out)):
        lo, hi = run["seeds"]
        if lo <= seed + n - 1 and seed <= hi:  # the same clip twice would be trained on twice
            raise KinoraError(f"{out} already holds seeds {lo}..{hi}; this run's {seed}..{seed + n - 1} overlap "
                              f"them: use --seed {hi + 1} to add clips, or another --out")
    dist = dist or SpecDistribution()
    # Validate the distribution once, up front, so a bad option fails before any work.
    random_spec(seed, dist)
    out = Path(out)
    clips_dir = out / "clips"
    shards_dir = out / "shards"
    shards_dir.mkdir(parents=True, exist_ok=True)
    if clips:
        clips_dir.mkdir(parents=True, exist_ok=True)
    workers = workers or os.cpu_count() or 1
    jobs = [(s, dataclasses.asdict(dist), str(clips_dir) if clips else None) for s in range(seed, seed + n)]

    from tqdm import tqdm

    buckets: dict[tuple, tuple[list, list, list]] = {}
    shard_names: list[str] = []
    t0 = time.perf_counter()
    with worker_pool(workers) as pool:
        results = pool.imap(_worker, jobs, chunksize=4) if pool else map(_worker, jobs)
        for frames, seg, record in tqdm(results, total=n, desc="clips", unit="clip", disable=not progress):
            key = frames.shape
            fl, sl, rl = buckets.setdefault(key, ([], [], []))
            fl.append(frames)
            sl.append(seg)
            rl.append(record)
            if len(fl) >= shard_size:
                shard_names.append(_save_shard(shards_dir, seed, len(shard_names), fl, sl, rl))
                buckets[key] = ([], [], [])
        for fl, sl, rl in buckets.values():
            if fl:
                shard_names.append(_save_shard(shards_dir, seed, len(shard_names), fl, sl, rl))
    elapsed = time.perf_counter() - t0
    index = {
        "n": n,
        "seeds": [seed, seed + n - 1],
        "distribution": dataclasses.asdict(dist),
        "shards": shard_names,
        "clips_dir": "clips" if clips else None,
        "workers": workers,
        "seconds": round(elapsed, 3),
        "clips_per_s": round(n / elapsed, 2),
    }
    # index.json describes the latest run and lists every run written into this folder.
    index["runs"] = _earlier_runs(out) + [{k: v for k, v in index.items() if k != "runs"}]
    write_json_atomic(out / "index.json", index)
    return index


def read_shards(root: str | Path):
    """Yield (frames (N, T, H, W, 3) uint8, records) for every shard under root."""
    root = Path(root)
    shards_dir = root / "shards" if (root / "shards").is_dir() else root
    names = sorted(p.stem for p in shards_dir.glob("shard-*.npz"))
    if not names:
        raise KinoraError(f"no shards in {shards_dir}; write some with 'kinora world sample --n N --out {root}'")
    for name in names:
        with np.load(shards_dir / f"{name}.npz") as z:
            frames = z["frames"]
        jsonl = shards_dir / f"{name}.jsonl"
        records = [json.loads(line) for line in jsonl.read_text(encoding="utf-8").splitlines() if line]
        yield frames, records


def spec_of(record: dict) -> ShotSpec:
    return ShotSpec.from_dict(record["spec"])
