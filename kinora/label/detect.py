"""Finding the visible label in frames: template matching on the luma channel.

`inspect` has to find the label in any MP4, including files that were re-encoded or
rescaled after Kinora wrote them, and must not see one in a micro-world render (white
sky, grey floor, coloured solids). Both come from matching the exact rendering of
"AI生成" that `visible.py` draws (same atlas, same Lanczos resize) with normalised
cross-correlation (NCC), which ignores brightness and contrast, so a lighter or darker
re-encode still matches:

1. Search: the frame's luma is shrunk to at most 360 px on its shortest side; in each
   corner region, templates of text heights from 4.5 % to 16 % of the shortest side
   (steps of 8 %) are correlated by FFT. The best peak above `SEARCH_THRESHOLD` is a
   candidate.
2. Refine: at full resolution, whole-pixel text heights within 8 % of the candidate's
   and positions a few pixels around it; the best NCC must reach `MATCH_THRESHOLD`.
   The winning height is the reported text height (within a pixel).
3. Track: every later frame is checked at that height and place (a few pixels of
   slack), which is cheap enough for every frame of a long video.

The template is the text's coverage inside its padded box; the box itself is flat,
so the match is driven by the strokes of the glyphs. Measured when the thresholds were
set: labels stamped over noise, white, gradients and micro-world scenes score 0.90-0.98
after a CRF 40 re-encode or a rescale to half size; unlabeled simulator renders and
synthetic micro-world scenes score at most 0.42 (tests/label/test_label_detect.py).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
from PIL import Image

from kinora.label.config import CHINESE_TEXT, ENGLISH_TEXT, MAX_TEXT_HEIGHT
from kinora.label.visible import ENGLISH_SCALE, LINE_GAP, PAD, text_mask

SEARCH_SIDE = 360  # the coarse search runs on luma shrunk to this shortest side
SEARCH_MIN, SEARCH_MAX, SEARCH_STEP = 0.045, MAX_TEXT_HEIGHT + 0.01, 1.08
SEARCH_THRESHOLD = 0.45
MATCH_THRESHOLD = 0.6
TRACK_SLACK = 2  # px of movement allowed between frames when tracking


@dataclass(frozen=True)
class Match:
    """The label's "AI生成" line: top-left of its ink, ink height (px), NCC score."""

    x: int
    y: int
    height: int
    score: float


@functools.lru_cache(maxsize=256)
def _template(height: int) -> tuple[np.ndarray, int]:
    """Zero-mean, unit-norm template of "AI生成" at `height` with a border; (tmpl, border)."""
    m = text_mask(CHINESE_TEXT, height)
    border = max(1, round(PAD * height / 2))
    t = np.pad(m, border).astype(np.float64)
    t -= t.mean()
    return t / (np.linalg.norm(t) + 1e-12), border


class _Correlator:
    """Normalised cross-correlation of many templates against one image.

    The image's FFT and integral images are computed once; each template then costs
    one forward and one inverse FFT. Templates are zero-mean with unit norm."""

    def __init__(self, image: np.ndarray):
        self.img = image.astype(np.float64)  # (H, W)
        self.spec = np.fft.rfft2(self.img)
        # Integral images of the image and its square, for local sums over windows.
        self.c1 = np.pad(self.img.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
        self.c2 = np.pad((self.img * self.img).cumsum(0).cumsum(1), ((1, 0), (1, 0)))

    def __call__(self, tmpl: np.ndarray) -> np.ndarray:
        """NCC at every position where `tmpl` fits ("valid"): (H-h+1, W-w+1); empty if none."""
        H, W = self.img.shape
        h, w = tmpl.shape
        if h > H or w > W:
            return np.full((0, 0), -1.0)
        corr = np.fft.irfft2(self.spec * np.fft.rfft2(tmpl[::-1, ::-1], (H, W)), (H, W))
        corr = corr[h - 1:, w - 1:]  # (H-h+1, W-w+1)

        def box_sum(c):
            return c[h:, w:] - c[:-h, w:] - c[h:, :-w] + c[:-h, :-w]

        n = h * w
        s, s2 = box_sum(self.c1), box_sum(self.c2)
        var = np.maximum(s2 - s * s / n, 0.0)
        # Flat windows (variance ~ 0) cannot hold text: score them 0, not noise / 0.
        return np.where(var > 1e-3 * n, corr / np.sqrt(np.maximum(var, 1e-12)), 0.0)


def ncc(image: np.ndarray, tmpl: np.ndarray) -> np.ndarray:
    """Normalised cross-correlation of a zero-mean unit-norm template over every
    position where it fits in `image` ("valid" mode). image (H, W) -> (H-h+1, W-w+1)."""
    return _Correlator(image)(tmpl)


def _corners(H: int, W: int) -> dict[str, tuple[int, int, int, int]]:
    """Regions (y0, y1, x0, x1) where a corner label's "AI生成" line can sit."""
    short = min(H, W)
    rh, rw = min(H, math.ceil(0.55 * short)), min(W, math.ceil(0.8 * short))
    return {"top-left": (0, rh, 0, rw), "top-right": (0, rh, W - rw, W),
            "bottom-left": (H - rh, H, 0, rw), "bottom-right": (H - rh, H, W - rw, W)}


def corner_of(match: Match, H: int, W: int) -> str:
    w = text_mask(CHINESE_TEXT, match.height).shape[1]
    cy, cx = match.y + match.height / 2, match.x + w / 2
    return ("top" if cy < H / 2 else "bottom") + "-" + ("left" if cx < W / 2 else "right")


def _shrink(gray: np.ndarray, side: int) -> tuple[np.ndarray, float]:
    H, W = gray.shape
    r = min(1.0, side / min(H, W))
    if r == 1.0:
        return gray.astype(np.float64), 1.0
    size = (max(1, round(W * r)), max(1, round(H * r)))
    return np.asarray(Image.fromarray(gray).resize(size, Image.BILINEAR), dtype=np.float64), r


def _best_at(gray: np.ndarray, heights, y0: int, y1: int, x0: int, x1: int) -> Match | None:
    """Best match of templates of the given heights inside gray[y0:y1, x0:x1]."""
    best = None
    region = _Correlator(gray[max(0, y0):y1, max(0, x0):x1])
    for h in heights:
        t, border = _template(h)
        scores = region(t)
        if scores.size == 0:
            continue
        iy, ix = np.unravel_index(np.argmax(scores), scores.shape)
        s = float(scores[iy, ix])
        if best is None or s > best.score:
            best = Match(int(ix) + max(0, x0) + border, int(iy) + max(0, y0) + border, h, s)
    return best


def search(gray: np.ndarray) -> Match | None:
    """Look for the label anywhere in the frame's corners; gray is (H, W) uint8 luma."""
    H, W = gray.shape
    small, r = _shrink(gray, SEARCH_SIDE)
    sh, sw = small.shape
    short = min(sh, sw)
    heights, h = [], max(6.0, SEARCH_MIN * short)
    while h <= SEARCH_MAX * short:
        heights.append(int(round(h)))
        h *= SEARCH_STEP
    heights = sorted(set(heights))
    best = None
    for (y0, y1, x0, x1) in _corners(sh, sw).values():
        m = _best_at(small, heights, y0, y1, x0, x1)
        if m and (best is None or m.score > best.score):
            best = m
    if best is None or best.score < SEARCH_THRESHOLD:
        return None
    # Refine at full resolution around the candidate.
    h0 = best.height / r
    slack = int(math.ceil(2 / r)) + 2
    cands = range(max(6, math.floor(h0 / 1.08)), math.ceil(h0 * 1.08) + 1)
    found = None
    for hh in cands:
        border = max(1, round(PAD * hh / 2))
        x, y = round(best.x / r) - border, round(best.y / r) - border
        w = text_mask(CHINESE_TEXT, hh).shape[1] + 2 * border
        m = _best_at(gray.astype(np.float64), [hh], y - slack, y + hh + 2 * border + slack,
                     x - slack, x + w + slack)
        if m and (found is None or m.score > found.score):
            found = m
    return found if found is not None and found.score >= MATCH_THRESHOLD else None


def find_label(frame: np.ndarray) -> Match | None:
    """Is Kinora's visible label in this frame? frame: (H, W, 3) RGB or (H, W) luma, uint8.

    Data pipelines can use it to keep labeled frames out of training data."""
    frame = np.asarray(frame)
    if frame.ndim == 3:  # RGB -> luma (BT.601 weights, as the decoder's gray output)
        frame = (frame[..., :3].astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32))
        frame = np.clip(np.rint(frame), 0, 255).astype(np.uint8)
    return search(frame)


def track(gray: np.ndarray, prev: Match) -> Match | None:
    """Check one frame for the label at (about) the place and size it had before."""
    border = max(1, round(PAD * prev.height / 2))
    w = text_mask(CHINESE_TEXT, prev.height).shape[1] + 2 * border
    x, y = prev.x - border, prev.y - border
    m = _best_at(gray.astype(np.float64), [prev.height], y - TRACK_SLACK, y + prev.height + 2 * border
                 + TRACK_SLACK, x - TRACK_SLACK, x + w + TRACK_SLACK)
    return m if m is not None and m.score >= MATCH_THRESHOLD else None


def english_score(gray: np.ndarray, match: Match) -> float:
    """NCC of the "AI-generated" line where `visible.py` puts it under "AI生成"."""
    h = match.height
    eh = round(ENGLISH_SCALE * h)
    m = text_mask(ENGLISH_TEXT, eh)
    border = max(1, round(PAD * eh / 2))
    t = np.pad(m, border).astype(np.float64)
    t -= t.mean()
    t /= np.linalg.norm(t) + 1e-12
    y = match.y + text_mask(CHINESE_TEXT, h).shape[0] + max(1, round(LINE_GAP * h)) - border
    x = match.x - border
    s = 3
    region = gray[max(0, y - s):y + t.shape[0] + s, max(0, x - s):x + t.shape[1] + s].astype(np.float64)
    scores = ncc(region, t)
    return float(scores.max()) if scores.size else 0.0
