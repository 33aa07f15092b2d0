"""The shape part of step 3 of the analyzer (`kinora.verify.analyzer`): a shape
(sphere / cube / cylinder) for every component, from a small classifier (16 ReLU
units, softmax) over hand-made features of the silhouette and its shading.

The weights are `shape_weights.json`, fitted on simulated clips by
`python scripts/fit_shapes.py` (`kinora.verify.fit_shapes`). The components come from
steps 1-2 (`kinora.verify.pixels`, mended in `kinora.verify.detect`);
`kinora.verify.detect` calls `shape_features` and `shape_probabilities` on them, and
each track's consensus shape (`kinora.verify.tracks`) follows from these per-frame
probabilities.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np

from kinora.world.spec import SHAPES

SHAPE_NAMES: tuple[str, ...] = tuple(SHAPES)
WEIGHTS_PATH = Path(__file__).with_name("shape_weights.json")

N_PROFILE = 5


def _masked_mean(x: np.ndarray, m: np.ndarray, axis=(1, 2), default: float = 0.0) -> np.ndarray:
    n = m.sum(axis)
    return np.where(n > 0, (x * m).sum(axis) / np.maximum(n, 1), default)


def _edge_fit(edge: np.ndarray, valid: np.ndarray, scale: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row of `edge` (N, L) over `valid` positions: the quadratic coefficient of a
    parabola fit (curvature, times n^2 / scale) and the mean residual of a straight-line
    fit (/ scale). Fewer than 4 valid positions give zeros."""
    n = valid.sum(1).astype(np.float64)
    idx = np.arange(edge.shape[1], dtype=np.float64)[None]
    mu = (idx * valid).sum(1) / np.maximum(n, 1)
    x = np.where(valid, idx - mu[:, None], 0.0)
    e = np.where(valid, edge, 0.0).astype(np.float64)
    s = [(x**k * valid).sum(1) for k in range(5)]
    ta = [(x**k * e).sum(1) for k in range(3)]
    a = np.stack([np.stack([s[4], s[3], s[2]], 1), np.stack([s[3], s[2], s[1]], 1),
                  np.stack([s[2], s[1], s[0]], 1)], 1) + np.eye(3) * 1e-6
    q = np.linalg.solve(a, np.stack([ta[2], ta[1], ta[0]], 1)[..., None])[..., 0]
    slope = ta[1] / np.maximum(s[2], 1e-6)
    line = ta[0][:, None] / np.maximum(n, 1)[:, None] + slope[:, None] * x
    res = (np.abs(line - e) * valid).sum(1) / np.maximum(n, 1)
    enough = n >= 4
    return np.where(enough, q[:, 0] * n**2 / scale, 0.0), np.where(enough, res / scale, 0.0)


def shape_features(masks: np.ndarray, values: np.ndarray, sizes: np.ndarray, frame_height: int) -> np.ndarray:
    """Scale-free features of N components, computed together.

    masks (N, S, S) bool and values (N, S, S) (max of R, G, B) hold each component's box
    at the top left; sizes (N, 2) = (h, w) of the boxes. Silhouette: aspect, fill, size,
    row / column width profiles, moment ellipse fit, curvature and straightness of the
    four outlines; shading: spread, flat-face fraction, brightness by region. A cube
    shows faces of distinct flat brightness and straight outlines, a sphere a round
    outline and a smooth gradient, a standing cylinder straight sides under a bright
    elliptical top. Returns (N, F) float32."""
    n, S, _ = masks.shape
    m = masks
    hh, ww = sizes[:, 0].astype(np.float64), sizes[:, 1].astype(np.float64)
    area = m.sum((1, 2)).astype(np.float64)
    yy, xx = np.meshgrid(np.arange(S, dtype=np.float64), np.arange(S, dtype=np.float64), indexing="ij")
    f = [np.log(hh / ww), area / (hh * ww), np.log(area * (64.0 / frame_height) ** 2)]
    # Width profiles sampled at N_PROFILE relative positions.
    for prof, length in ((m.sum(2), hh), (m.sum(1), ww)):
        prof = prof / np.maximum(prof.max(1, keepdims=True), 1)
        pos = np.clip((np.arange(N_PROFILE) + 0.5)[None] / N_PROFILE * length[:, None] - 0.5, 0, length[:, None] - 1)
        i0 = np.floor(pos).astype(np.int64)
        i1 = np.minimum(i0 + 1, (length[:, None] - 1).astype(np.int64))
        fr = pos - i0
        f += list((np.take_along_axis(prof, i0, 1) * (1 - fr) + np.take_along_axis(prof, i1, 1) * fr).T)
    # Second moments against those of a filled ellipse of the same area.
    cy = (yy * m).sum((1, 2)) / area
    cx = (xx * m).sum((1, 2)) / area
    dy, dx = yy[None] - cy[:, None, None], xx[None] - cx[:, None, None]
    vy = (dy**2 * m).sum((1, 2)) / area + 1 / 12
    vx = (dx**2 * m).sum((1, 2)) / area + 1 / 12
    cxy = (dx * dy * m).sum((1, 2)) / area
    det = np.maximum(vx * vy - cxy**2, 1e-6)
    tr = vx + vy
    disc = np.sqrt(np.maximum(tr**2 / 4 - det, 0))
    f += [area / (4 * np.pi * np.sqrt(det)), np.log((tr / 2 + disc) / np.maximum(tr / 2 - disc, 1e-6)) / 2,
          cxy / np.sqrt(vx * vy)]
    # Outlines: left / right edge of each row, top / bottom edge of each column.
    for mm, scale in ((m, ww), (m.transpose(0, 2, 1), hh)):
        has = mm.any(2)
        first = mm.argmax(2).astype(np.float64)
        last = (S - 1 - mm[:, :, ::-1].argmax(2)).astype(np.float64)
        for e in (first, last):
            f += list(_edge_fit(e, has, scale))
    # Shading, brightness relative to the component's 95th percentile.
    flatv = np.where(m, values, -1.0).reshape(n, -1).astype(np.float64)
    srt = np.sort(flatv, 1)  # masked-out -1 first
    cnt = area.astype(np.int64)
    base = S * S - cnt

    def pct(q):
        return np.take_along_axis(srt, (base + np.minimum((q * cnt).astype(np.int64), cnt - 1))[:, None], 1)[:, 0]

    vmax = np.maximum(pct(0.95), 1.0)
    vn = np.where(m, values / vmax[:, None, None], 0.0)
    mean_v = (vn * m).sum((1, 2)) / area
    f += [np.sqrt(np.maximum((vn**2 * m).sum((1, 2)) / area - mean_v**2, 0)), pct(0.10) / vmax, pct(0.5) / vmax]
    mh = m[:, :, 1:] & m[:, :, :-1]
    mv = m[:, 1:] & m[:, :-1]
    dh = np.abs(np.diff(vn, axis=2))
    dv = np.abs(np.diff(vn, axis=1))
    nd = np.maximum(mh.sum((1, 2)) + mv.sum((1, 2)), 1)
    f += [((dh * mh).sum((1, 2)) + (dv * mv).sum((1, 2))) / nd,
          (((dh < 0.02) & mh).sum((1, 2)) + ((dv < 0.02) & mv).sum((1, 2))) / nd,
          (((dh > 0.08) & mh).sum((1, 2)) + ((dv > 0.08) & mv).sum((1, 2))) / nd]
    ry = yy[None] / np.maximum(hh - 1, 1)[:, None, None]
    rx = xx[None] / np.maximum(ww - 1, 1)[:, None, None]
    for sel in (ry < 1 / 3, (ry >= 1 / 3) & (ry < 2 / 3), ry >= 2 / 3, rx < 0.5, rx >= 0.5):
        f.append(_masked_mean(vn, m & sel, default=0.0) + np.where((m & sel).any((1, 2)), 0.0, mean_v))
    var_v = np.maximum((vn**2 * m).sum((1, 2)) / area - mean_v**2, 0)
    for r in (ry, rx):
        mr = (r * m).sum((1, 2)) / area
        var_r = np.maximum((r**2 * m).sum((1, 2)) / area - mr**2, 0)
        cov = (r * vn * m).sum((1, 2)) / area - mr * mean_v
        ok = (var_r > 1e-9) & (var_v > 1e-12)
        f.append(np.where(ok, cov / np.sqrt(np.maximum(var_r * var_v, 1e-18)), 0.0))
    bright = m & (vn > 0.93)
    f.append(bright.sum((1, 2)) / area)
    f.append(_masked_mean(ry, bright, default=0.5))
    return np.stack(f, 1).astype(np.float32)


@lru_cache(maxsize=1)
def _shape_model() -> dict | None:
    if not WEIGHTS_PATH.exists():
        return None
    d = json.loads(WEIGHTS_PATH.read_text())
    return {k: np.asarray(v, dtype=np.float32) if isinstance(v, list) else v for k, v in d.items()}


def shape_probabilities(feats: np.ndarray) -> np.ndarray:
    """(N, F) features -> (N, 3) probabilities over SHAPE_NAMES (uniform without weights)."""
    model = _shape_model()
    if model is None or len(feats) == 0:
        return np.full((len(feats), len(SHAPE_NAMES)), 1 / len(SHAPE_NAMES), dtype=np.float32)
    if model["mean"].shape[0] != feats.shape[1]:
        raise RuntimeError(f"{WEIGHTS_PATH.name} expects {model['mean'].shape[0]} features, the analyzer makes "
                           f"{feats.shape[1]}: refit with python scripts/fit_shapes.py")
    x = (feats - model["mean"]) / model["std"]
    x = np.nan_to_num(np.clip(x, -8, 8))
    if "w1" in model:  # one hidden layer
        x = np.maximum(x @ model["w1"] + model["b1"], 0)
    z = x @ model["w"] + model["b"]
    z = z - z.max(1, keepdims=True)
    p = np.exp(z)
    return p / p.sum(1, keepdims=True)
