"""Steps 1-2 of the analyzer (`kinora.verify.analyzer`): object pixels and their
connected components, from the RGB frames alone.

1. pixels: an object pixel is saturated (chroma = max - min of RGB), the floor, its
   shadows and the white sky are not. Its colour class is the palette hue (from
   `kinora.world.spec.COLORS`) nearest to its hue; shading scales R, G and B alike under
   the world's white light, so it keeps the hue.
2. components: 4-connected regions of one colour class, labelled for the whole clip at
   once by min-label propagation with pointer jumping (pure numpy).

These are the first steps: nothing comes before them. `kinora.verify.detect` follows,
mending the components (pieces of one object merged, compression specks dropped) and
turning them into detections.
"""

from __future__ import annotations

import numpy as np

from kinora.world.spec import COLORS

COLOR_NAMES: tuple[str, ...] = tuple(COLORS)

CHROMA_MIN = 40  # an object pixel's max - min of RGB; floor and sky have 0 (a few after H.264)
SAT_MIN = 0.25  # and chroma / max: a light, washed-out pixel is not an object


def _palette_hues() -> np.ndarray:
    rgb = np.array([COLORS[c]["rgb"] for c in COLOR_NAMES], dtype=np.float64)
    return np.degrees(_hue(rgb[:, 0], rgb[:, 1], rgb[:, 2])) % 360


def _hue(r, g, b):
    """Hue angle (radians) in the chromaticity plane; equal to HSV hue at the primaries."""
    return np.arctan2(np.sqrt(3.0) * (g - b), 2.0 * r - g - b)


PALETTE_HUES = _palette_hues()  # (6,) degrees


def classify_pixels(frames: np.ndarray) -> np.ndarray:
    """(T, H, W, 3) uint8 -> (T, H, W) int8 colour class (index into COLOR_NAMES), -1 = none."""
    r, g, b = (frames[..., i].astype(np.int16) for i in range(3))
    mx = np.maximum(np.maximum(r, g), b)
    chroma = mx - np.minimum(np.minimum(r, g), b)
    idx = np.nonzero((chroma >= CHROMA_MIN) & (chroma >= SAT_MIN * mx))
    cls = np.full(frames.shape[:3], -1, np.int8)
    if len(idx[0]):
        hue = np.degrees(_hue(*(c[idx].astype(np.float32) for c in (r, g, b)))) % 360  # (N,)
        d = np.abs(hue[:, None] - PALETTE_HUES.astype(np.float32))
        cls[idx] = np.minimum(d, 360 - d).argmin(1)
    return cls


def _hue_between(c: int, c1: int, c2: int) -> bool:
    """Does palette colour c lie on the shorter hue arc from c1 to c2?"""
    def dist(a, b):
        d = abs(PALETTE_HUES[a] - PALETTE_HUES[b]) % 360
        return min(d, 360 - d)

    return c not in (c1, c2) and abs(dist(c1, c) + dist(c, c2) - dist(c1, c2)) < 1.0


def label_components(cls: np.ndarray) -> np.ndarray:
    """4-connected components of equal class, per frame. (T, H, W) int8 -> (T, H, W) int32.

    Every component's label is the flat index (in a one-pixel padded copy) of one of its
    pixels; -1 = background. Min-label propagation over the foreground pixels only,
    with pointer jumping: each round takes the smallest label among same-class
    neighbours, then follows label -> the label of that pixel twice, which roughly
    halves the remaining distance."""
    t, h, w = cls.shape
    c = np.full((t, h + 2, w + 2), -1, np.int8)
    c[:, 1:-1, 1:-1] = cls
    flat_c = c.reshape(-1)
    fg = np.nonzero(flat_c >= 0)[0]  # (N,) flat indices; the padding keeps neighbours in range
    lab = np.zeros(c.size, np.int64)
    lab[fg] = fg
    # Each neighbour of the same class, or the pixel itself.
    nbrs = [np.where(flat_c[fg + o] == flat_c[fg], fg + o, fg) for o in (-(w + 2), w + 2, -1, 1)]
    cur = fg.copy()
    while True:
        m = cur.copy()
        for nb in nbrs:
            np.minimum(m, lab[nb], out=m)
        m = lab[lab[m]]
        if np.array_equal(m, cur):
            break
        lab[fg] = cur = m
    out = np.full(c.shape, -1, np.int64)
    out.reshape(-1)[fg] = cur
    return out[:, 1:-1, 1:-1]
