"""Which physics signal: how much of the clean latents each candidate explains on its own.

A cheap stand-in for training one model per candidate: a ridge regression from each latent
cell's signal values (its own cell and its 8 neighbours) to the VAE's 8 latent channels of
that cell, fitted on the clips of some training shards and scored (R^2) on others. The
candidates, all from the simulator's segmentation, pooled to 4-pixel cells in latent time
(kinora.world.signal):

    boxes          each object's 2D box filled with its colour (the "boxes" option)
    mask           one channel: object or not (a plain mask)
    silhouettes    cover + colour (present, cover, r, g, b)
    + shape        silhouettes and the shape one-hot: what Kinora ships (kinora.world.signal)

    python scripts/signal_choice.py --data data/world --cache runs/dit-phys/cache/9f91eb34b4b5653b

Prints one line per candidate: R^2 on the held-apart shards (1 = the latents are a linear
function of the signal; what is left for the DiT to render is the floor, shading and texture).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np


def box_seg(seg: np.ndarray) -> np.ndarray:
    """Each object's per-frame bounding box filled with its index (larger boxes drawn first)."""
    out = np.full_like(seg, -1)
    for t in range(seg.shape[0]):
        boxes = []
        for i in np.unique(seg[t][seg[t] >= 0]):
            ys, xs = np.nonzero(seg[t] == i)
            boxes.append(((ys.max() - ys.min() + 1) * (xs.max() - xs.min() + 1), i, ys.min(), ys.max(), xs.min(),
                          xs.max()))
        for _, i, y0, y1, x0, x1 in sorted(boxes, reverse=True):
            out[t, y0:y1 + 1, x0:x1 + 1] = i
    return out


def features(sig: np.ndarray) -> np.ndarray:
    """(S, F, 2h, 2w) signal -> (F * h * w, 9 * 4 * S) per latent cell: its 2x2 signal cells and its neighbours'."""
    S, F, H2, W2 = sig.shape
    h, w = H2 // 2, W2 // 2
    cells = sig.reshape(S, F, h, 2, w, 2)  # (S, F, h, 2, w, 2): each latent cell's 2x2 signal cells
    cells = cells.transpose(1, 2, 4, 0, 3, 5).reshape(F, h, w, -1)  # (F, h, w, 4S)
    pad = np.pad(cells, ((0, 0), (1, 1), (1, 1), (0, 0)))  # (F, h+2, w+2, 4S)
    nb = [pad[:, 1 + dy:1 + dy + h, 1 + dx:1 + dx + w] for dy in (-1, 0, 1) for dx in (-1, 0, 1)]
    return np.concatenate(nb, -1).reshape(F * h * w, -1)  # (F*h*w, 9*4S)


def main() -> None:
    from kinora.defaults import HELDOUT_SEED_BASE
    from kinora.world.dataset import spec_of
    from kinora.world.signal import CHANNELS, clip_signal

    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="data/world")
    ap.add_argument("--cache", required=True, help="the training run's latent cache (world-shard-*.safetensors)")
    ap.add_argument("--fit", type=int, default=2, help="shards to fit on")
    ap.add_argument("--test", type=int, default=1, help="shards to score on")
    args = ap.parse_args()
    from safetensors.numpy import load_file

    shards = sorted(Path(args.data, "shards").glob("shard-s00000000-*.npz"))[: args.fit + args.test]
    keep = {"mask": [CHANNELS.index("present"), CHANNELS.index("cover")],
            "silhouettes": [CHANNELS.index(c) for c in ("present", "cover", "r", "g", "b")],
            "silhouettes + shape": list(range(len(CHANNELS))), "boxes": list(range(len(CHANNELS)))}
    data = {k: ([], []) for k in keep}
    for n, path in enumerate(shards):
        with np.load(path) as z:
            segs = z["seg"]  # (N, T, H, W), read once
        records = [json.loads(line) for line in path.with_suffix(".jsonl").read_text().splitlines() if line]
        records = [r for r in records if r["seed"] < HELDOUT_SEED_BASE]  # what the cache holds, in order
        lat = load_file(str(Path(args.cache) / f"world-{path.stem}.safetensors"))["latents"].astype(np.float32)
        for j, rec in enumerate(records):
            spec = spec_of(rec)
            y = lat[j].transpose(1, 2, 3, 0).reshape(-1, lat.shape[1])  # (C, F, h, w) -> (F*h*w, C)
            for name, chans in keep.items():
                seg = box_seg(segs[j]) if name == "boxes" else segs[j]
                x = features(clip_signal(seg, spec)[chans])
                data[name][0 if n < args.fit else 1].append((x, y))
    for name, (fit, test) in data.items():
        X = np.concatenate([x for x, _ in fit])
        Y = np.concatenate([y for _, y in fit])
        X = np.concatenate([X, np.ones((len(X), 1))], 1)
        W = np.linalg.solve(X.T @ X + 1e-2 * np.eye(X.shape[1]), X.T @ Y)
        Xt = np.concatenate([x for x, _ in test])
        Yt = np.concatenate([y for _, y in test])
        pred = np.concatenate([Xt, np.ones((len(Xt), 1))], 1) @ W
        r2 = 1 - ((pred - Yt) ** 2).sum() / ((Yt - Yt.mean(0)) ** 2).sum()
        print(f"{name:22s} R^2 {r2:.4f}  ({len(Xt)} latent cells scored, {X.shape[1] - 1} features per cell)")


if __name__ == "__main__":
    main()
