"""The analyzer: what is in a video of the micro-world, from its RGB frames alone.

Frames from the simulator, from the generator or from a user's file go through the
same steps, each a plain function:

1. pixels: an object pixel is saturated (chroma = max - min of RGB), the floor, its
   shadows and the white sky are not. Its colour class is the palette hue (from
   `kinora.world.spec.COLORS`) nearest to its hue; shading scales R, G and B alike under
   the world's white light, so it keeps the hue.
2. components: 4-connected regions of one colour class, labelled for the whole clip at
   once by min-label propagation with pointer jumping (pure numpy). Pieces of one
   object cut in two by a thin occluder are merged. H.264 stores colour per 2x2 block,
   which leaves specks and, where two objects meet, strips of a mixed hue (cyan and
   purple make blue): specks rejoin the object they broke off or are dropped, strips
   whose hue lies between their two neighbours' are dropped.
3. detections: colour, centroid, area, box, how much of the outline touches another
   object, and a shape (sphere / cube / cylinder) from a small classifier (16 ReLU
   units, softmax) over hand-made features of the silhouette and its shading
   (`shape_weights.json`, fitted on simulated clips by `python -m kinora.verify.fit_shapes`).
4. camera: block matching of the floor texture (object and sky pixels masked out)
   between consecutive frames, by masked SSD through FFT cross-correlation, and per
   frame pair the 8-parameter motion of a plane fitted to the blocks. From the
   accumulated translation, divergence (zoom scale) and vertical shear (the parallax
   of an orbit: near floor and far floor move in opposite directions) one of
   static / pan / orbit / zoom.
5. tracks: detections linked frame to frame (same colour, nearest predicted centroid,
   similar size), broken tracks of one colour re-joined; each track gets a consensus
   shape (views cut by the border or partly hidden count less), a net direction
   relative to the floor under it (left/right/up/down/toward/away/still; toward and
   away also from the change of apparent size), bounces (down-up turns of its
   height), the frame it stops, and how it appeared and vanished (clip start or end,
   frame edge, behind another object, or without cause).
6. `compare(analysis, spec)`: the video against a ShotSpec, as a `Report` of missing,
   extra, wrong-colour, wrong-shape, wrong-count, wrong-motion, wrong-camera and
   unexplained (appeared / vanished without cause) issues, per-dimension scores and
   a pass flag.

Verification against a known spec is the strong position that VBench-style object /
colour / count / motion checks approximate with learned detectors; here the world's
palette and shapes are known, so the checks can be exact. `kinora.verify.validate`
measures every step against the simulator's ground truth.
"""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from kinora.errors import KinoraError
from kinora.world.spec import COLORS, SHAPES, ShotSpec

COLOR_NAMES: tuple[str, ...] = tuple(COLORS)
SHAPE_NAMES: tuple[str, ...] = tuple(SHAPES)
DIRECTIONS = ("still", "left", "right", "up", "down", "toward", "away")
WEIGHTS_PATH = Path(__file__).with_name("shape_weights.json")

# Everything below is in pixels of a 64-pixel-high frame and scaled by height / 64.
CHROMA_MIN = 40  # an object pixel's max - min of RGB; floor and sky have 0 (a few after H.264)
SAT_MIN = 0.25  # and chroma / max: a light, washed-out pixel is not an object
SKY_VALUE = 230  # unsaturated and brighter than this = sky (no texture to match)
MIN_AREA = 4.0  # a detection has at least this many pixels (at 64 high)
SPECK_AREA = 10.0  # smaller components next to a bigger one are compression artefacts
MERGE_GAP = 2.0  # two pieces of one colour this close, with another object between, are one
MAX_PIECES = 48  # a frame with more components than this is noise: no merging or speck passes
SEARCH_X, SEARCH_Y = 5, 3  # block matching search range per frame pair (working resolution)
BLOCK = 12  # block size for the floor flow (working resolution): 5 x 5 blocks at 64 x 64
STILL_DIFF = 1.0  # mean |grey difference| of the floor below which a frame pair has not moved
WORK_SIZE = 64  # frames larger than this are box-downsampled for the camera estimate


def _palette_hues() -> np.ndarray:
    rgb = np.array([COLORS[c]["rgb"] for c in COLOR_NAMES], dtype=np.float64)
    return np.degrees(_hue(rgb[:, 0], rgb[:, 1], rgb[:, 2])) % 360


def _hue(r, g, b):
    """Hue angle (radians) in the chromaticity plane; equal to HSV hue at the primaries."""
    return np.arctan2(np.sqrt(3.0) * (g - b), 2.0 * r - g - b)


PALETTE_HUES = _palette_hues()  # (6,) degrees


# ---------------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------------


@dataclass
class Detection:
    """One object seen in one frame."""

    frame: int
    index: int  # this detection's value in Analysis.labels[frame]
    color: str
    shape: str  # the track's consensus shape once tracks are linked, else this frame's
    shape_probs: dict[str, float]  # this frame's classifier output
    confidence: float  # max of shape_probs
    centroid: tuple[float, float]  # (x, y) pixels, mean of the component's pixel centres
    area: int  # pixels
    bbox: tuple[int, int, int, int]  # [x0, y0, x1, y1)
    at_edge: bool  # touches the frame border: may be cut off
    contact: float = 0.0  # share of its outline that touches another object (> ~0.15: partly hidden)
    track: int = -1


@dataclass
class Track:
    """One object followed through the clip."""

    id: int
    color: str
    shape: str
    shape_probs: dict[str, float]  # weighted mean of the per-frame log-probabilities, renormalised
    size: float  # median sqrt(area), pixels
    frames: list[int]
    detections: list[int]  # Detection.index in each of `frames`
    direction: str = "still"  # net motion relative to the floor
    displacement: tuple[float, float] = (0.0, 0.0)  # (dx, dy) pixels relative to the floor
    log_area_change: float = 0.0  # log(end area / start area), zoom removed
    bounces: list[int] = field(default_factory=list)  # frames where it turned from falling to rising
    stop_frame: int | None = None  # first frame of rest after moving
    appear: dict = field(default_factory=dict)  # {"frame", "cause": start|edge|occlusion|none}
    vanish: dict = field(default_factory=dict)  # {"frame", "cause": end|edge|occlusion|none}
    hidden: list[dict] = field(default_factory=list)  # gaps inside the track: {"from", "to", "cause"}


@dataclass
class CameraMotion:
    motion: str  # one of kinora.world.spec.CAMERA_MOTIONS
    translation: tuple[float, float]  # accumulated floor shift at the frame centre (pixels)
    scale: float  # accumulated zoom factor (> 1: zoom in)
    shear: float  # accumulated d(u)/d(y) * height: < 0 when the near floor moves left (orbit right)
    per_frame: list[list[float]] = field(default_factory=list)  # [tx, ty, log scale, shear] per pair


@dataclass
class Analysis:
    width: int
    height: int
    num_frames: int
    fps: float
    detections: list[list[Detection]]  # per frame
    tracks: list[Track]
    camera: CameraMotion
    labels: np.ndarray  # (T, H, W) int16: Detection.index, -1 = no object

    def unexplained(self, min_frames: int = 2) -> list[dict]:
        """Appearances and vanishings without cause (object permanence failures) of
        tracks seen in at least `min_frames` frames (a blob in one frame of a compressed
        64x64 video is more often a colour artefact than an object)."""
        out = []
        for tr in self.tracks:
            if len(tr.frames) < min_frames:
                continue
            if tr.appear.get("cause") == "none":
                out.append({"track": tr.id, "color": tr.color, "event": "appeared", "frame": tr.appear["frame"]})
            if tr.vanish.get("cause") == "none":
                out.append({"track": tr.id, "color": tr.color, "event": "vanished", "frame": tr.vanish["frame"]})
            for g in tr.hidden:
                if g["cause"] == "none":
                    out.append({"track": tr.id, "color": tr.color, "event": "flickered", "frame": g["from"]})
        return out

    def to_dict(self) -> dict:
        return {
            "width": self.width, "height": self.height, "num_frames": self.num_frames, "fps": self.fps,
            "detections": [[asdict(d) for d in ds] for ds in self.detections],
            "tracks": [asdict(t) for t in self.tracks],
            "camera": asdict(self.camera),
            "unexplained": self.unexplained(),
        }


# ---------------------------------------------------------------------------------
# 1-2. Pixels and connected components
# ---------------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------------
# 3. Shape features and classifier
# ---------------------------------------------------------------------------------

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
                           f"{feats.shape[1]}: refit with python -m kinora.verify.fit_shapes")
    x = (feats - model["mean"]) / model["std"]
    x = np.nan_to_num(np.clip(x, -8, 8))
    if "w1" in model:  # one hidden layer
        x = np.maximum(x @ model["w1"] + model["b1"], 0)
    z = x @ model["w"] + model["b"]
    z = z - z.max(1, keepdims=True)
    p = np.exp(z)
    return p / p.sum(1, keepdims=True)


# ---------------------------------------------------------------------------------
# Detections
# ---------------------------------------------------------------------------------


def _components(frames: np.ndarray):
    """Per-frame components after occlusion-split merging and speck removal.

    Returns (cls (T, H, W) int8 pixel classes, labels (T, H, W) int16 with per-frame
    component indices, per frame a list of dicts with class, area, centroid and box).
    The pairwise passes only look at components of at least MIN_AREA pixels, and skip
    a frame with more than MAX_PIECES of them (noise, not a scene: no object there
    needs mending)."""
    t, h, w, _ = frames.shape
    s = h / 64.0
    cls = classify_pixels(frames)
    raw = label_components(cls)
    fg = raw >= 0
    keys, inv = np.unique(raw[fg], return_inverse=True)
    n = len(keys)
    labels = np.full((t, h, w), -1, np.int16)
    if n == 0:
        return cls, labels, [[] for _ in range(t)]
    tt, yy, xx = np.nonzero(fg)
    area = np.bincount(inv, minlength=n)
    frame_of = np.zeros(n, np.int64)
    frame_of[inv] = tt
    klass = np.zeros(n, np.int64)
    klass[inv] = cls[tt, yy, xx]
    x0 = np.full(n, w, np.int64); y0 = np.full(n, h, np.int64)
    x1 = np.zeros(n, np.int64); y1 = np.zeros(n, np.int64)
    np.minimum.at(x0, inv, xx); np.minimum.at(y0, inv, yy)
    np.maximum.at(x1, inv, xx + 1); np.maximum.at(y1, inv, yy + 1)
    # Merge pieces of one colour split by a thin occluder: boxes within MERGE_GAP and
    # another object's box overlapping the gap between them.
    parent = np.arange(n)

    def find(a):
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    gap = MERGE_GAP * s
    big = area >= MIN_AREA * s * s
    pieces = np.bincount(frame_of[big], minlength=t)
    candidate = big & (pieces[frame_of] <= MAX_PIECES)
    for f in range(t):
        ids = np.nonzero((frame_of == f) & candidate)[0]
        if len(ids) < 2:
            continue
        for a, b in itertools.combinations(ids, 2):
            if klass[a] != klass[b]:
                continue
            gx = max(x0[a], x0[b]) - min(x1[a], x1[b])
            gy = max(y0[a], y0[b]) - min(y1[a], y1[b])
            if max(gx, gy) > gap:
                continue
            ux0, uy0 = min(x0[a], x0[b]), min(y0[a], y0[b])
            ux1, uy1 = max(x1[a], x1[b]), max(y1[a], y1[b])
            for c in ids:
                if klass[c] != klass[a] and area[c] >= MIN_AREA * s * s and \
                        x0[c] < ux1 and x1[c] > ux0 and y0[c] < uy1 and y1[c] > uy0:
                    parent[find(b)] = find(a)
                    break
    # Specks: video compression stores colour per 2x2 block, so where two objects meet
    # (or at a ragged edge) a few pixels take a mixed hue (cyan + purple reads blue) or
    # break off. A speck touching a component at least twice its size joins it when of
    # the same colour and is dropped otherwise.
    # A strip of mixed hue where two objects overlap is larger: up to three times that,
    # touching two bigger components of two other colours whose hues it lies between
    # (cyan and purple mix to blue), it is dropped too; a small object of another hue
    # peeking out between two others is kept.
    dropped = np.zeros(n, bool)
    for a in np.nonzero(candidate & (area < 3 * SPECK_AREA * s * s))[0]:
        speck = area[a] < SPECK_AREA * s * s
        others: set[int] = set()
        for b in np.nonzero((frame_of == frame_of[a]) & candidate)[0]:
            if b == a or area[b] < 2 * area[a]:
                continue
            if max(max(x0[a], x0[b]) - min(x1[a], x1[b]), max(y0[a], y0[b]) - min(y1[a], y1[b])) > 1:
                continue
            if speck:
                if klass[b] == klass[a]:
                    parent[find(a)] = find(b)
                else:
                    dropped[a] = True
                break
            if klass[b] != klass[a]:
                others.add(int(klass[b]))
        if any(_hue_between(int(klass[a]), c1, c2) for c1, c2 in itertools.combinations(others, 2)):
            dropped[a] = True
        if speck and not dropped[a] and find(a) == a:
            # A speck of an object's colour broken off it (a chroma block a pixel or two away).
            for b in np.nonzero((frame_of == frame_of[a]) & candidate & (klass == klass[a]) & (area >= 4 * area[a]))[0]:
                if max(max(x0[a], x0[b]) - min(x1[a], x1[b]), max(y0[a], y0[b]) - min(y1[a], y1[b])) <= 3 * s:
                    parent[find(a)] = find(b)
                    break
    roots = np.array([find(a) for a in range(n)])
    uroots, rinv = np.unique(roots, return_inverse=True)
    m = len(uroots)
    area_r = np.bincount(rinv, weights=area, minlength=m)
    keep = (area_r >= MIN_AREA * s * s) & np.bincount(rinv, weights=~dropped, minlength=m).astype(bool)
    comp_of_pixel = rinv[inv]
    ok = keep[comp_of_pixel]
    tt, yy, xx, cp = tt[ok], yy[ok], xx[ok], comp_of_pixel[ok]
    # Per-frame indices in order of first pixel.
    frame_r = np.zeros(m, np.int64)
    frame_r[cp] = tt
    order = np.nonzero(keep)[0]
    per_frame_index = np.full(m, -1, np.int64)
    comps: list[list[dict]] = [[] for _ in range(t)]
    for r in order:
        f = int(frame_r[r])
        per_frame_index[r] = len(comps[f])
        comps[f].append({"root": int(r)})
    labels[tt, yy, xx] = per_frame_index[cp]
    sx = np.bincount(cp, weights=xx, minlength=m)
    sy = np.bincount(cp, weights=yy, minlength=m)
    bx0 = np.full(m, w); by0 = np.full(m, h); bx1 = np.zeros(m, np.int64); by1 = np.zeros(m, np.int64)
    np.minimum.at(bx0, cp, xx); np.minimum.at(by0, cp, yy)
    np.maximum.at(bx1, cp, xx + 1); np.maximum.at(by1, cp, yy + 1)
    cnt = np.bincount(cp, minlength=m)
    kl = np.zeros(m, np.int64)
    kl[cp] = cls[tt, yy, xx]
    for f in range(t):
        for d in comps[f]:
            r = d["root"]
            d.update(klass=int(kl[r]), area=int(cnt[r]), cx=float(sx[r] / cnt[r]), cy=float(sy[r] / cnt[r]),
                     bbox=(int(bx0[r]), int(by0[r]), int(bx1[r]), int(by1[r])))
    return cls, labels, comps


def _contact(labels: np.ndarray) -> np.ndarray:
    """(T, K) share of each detection's outline pixels that are 4-adjacent to another
    detection: two objects side by side share a few pixels of outline, an object partly
    behind another shares a long stretch of it."""
    t = labels.shape[0]
    k = int(labels.max()) + 1 if labels.size else 0
    if k <= 0:
        return np.zeros((t, 0))
    pad = np.pad(labels, ((0, 0), (1, 1), (1, 1)), constant_values=-1)
    own = labels
    nbrs = [pad[:, :-2, 1:-1], pad[:, 2:, 1:-1], pad[:, 1:-1, :-2], pad[:, 1:-1, 2:]]
    edge = np.zeros(own.shape, bool)
    touch = np.zeros(own.shape, bool)
    for nl in nbrs:
        edge |= nl != own
        touch |= (nl >= 0) & (nl != own)
    sel = own >= 0
    key = (np.arange(t)[:, None, None] * k + own)[sel & edge]
    n_edge = np.bincount(key, minlength=t * k)
    n_touch = np.bincount((np.arange(t)[:, None, None] * k + own)[sel & touch], minlength=t * k)
    return (n_touch / np.maximum(n_edge, 1)).reshape(t, k)


def detect(frames: np.ndarray,
           classify: bool = True) -> tuple[list[list[Detection]], np.ndarray, list[list[np.ndarray]]]:
    """Find the objects in every frame: (detections per frame, labels (T, H, W), features).
    classify=False skips the shape classifier (uniform probabilities), for fitting it."""
    t, h, w, _ = frames.shape
    _, labels, comps = _components(frames)
    value = frames.max(-1)
    where = [(f, i) for f in range(t) for i in range(len(comps[f]))]
    feats = np.zeros((0, 0), np.float32)
    if where:
        boxes = np.array([comps[f][i]["bbox"] for f, i in where])
        sizes = np.stack([boxes[:, 3] - boxes[:, 1], boxes[:, 2] - boxes[:, 0]], 1)
        S = int(sizes.max())
        masks = np.zeros((len(where), S, S), bool)
        values = np.zeros((len(where), S, S), np.float32)
        for k, ((f, i), (x0, y0, x1, y1)) in enumerate(zip(where, boxes)):
            masks[k, : y1 - y0, : x1 - x0] = labels[f, y0:y1, x0:x1] == i
            values[k, : y1 - y0, : x1 - x0] = value[f, y0:y1, x0:x1]
        contact = _contact(labels)
        touching = np.array([contact[f, i] for f, i in where], np.float32)
        feats = np.concatenate([shape_features(masks, values, sizes, h), touching[:, None]], 1)
    if not where:
        probs = np.zeros((0, 3), np.float32)
    elif classify:
        probs = shape_probabilities(feats)
    else:
        probs = np.full((len(where), len(SHAPE_NAMES)), 1 / len(SHAPE_NAMES), np.float32)
    dets: list[list[Detection]] = [[] for _ in range(t)]
    per_frame_feats: list[list[np.ndarray]] = [[] for _ in range(t)]
    for k, (f, i) in enumerate(where):
        d = comps[f][i]
        x0, y0, x1, y1 = d["bbox"]
        p = probs[k]
        dets[f].append(Detection(
            frame=f, index=i, color=COLOR_NAMES[d["klass"]], shape=SHAPE_NAMES[int(p.argmax())],
            shape_probs={s: round(float(q), 4) for s, q in zip(SHAPE_NAMES, p)}, confidence=round(float(p.max()), 4),
            centroid=(round(d["cx"], 3), round(d["cy"], 3)), area=d["area"], bbox=d["bbox"],
            at_edge=x0 == 0 or y0 == 0 or x1 == w or y1 == h, contact=round(float(contact[f, i]), 3),
        ))
        per_frame_feats[f].append(feats[k])
    return dets, labels, per_frame_feats


# ---------------------------------------------------------------------------------
# 4. Camera motion from the floor texture
# ---------------------------------------------------------------------------------


def _downsample(a: np.ndarray, k: int, reduce) -> np.ndarray:
    """Box-reduce the last two axes by k (cropping the remainder)."""
    if k == 1:
        return a
    t, h, w = a.shape
    a = a[:, : h - h % k, : w - w % k].reshape(t, h // k, k, w // k, k)
    return reduce(a, axis=(2, 4))


def _match_blocks(ga: np.ndarray, va: np.ndarray, gb: np.ndarray, vb: np.ndarray, layout: tuple,
                  cnt0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Best shift of every block of frames ga in frames gb (masks va, vb), sub-pixel by a
    parabola through the neighbouring costs: (flow (P, nby, nbx, 2), trusted (P, nby, nbx))."""
    # Masked SSD for every shift d of every block b, by FFT cross-correlation:
    # sum_b v0 v1' (g1' - g0)^2 = sum v0 g0^2 v1' - 2 sum v0 g0 (v1 g1)' + sum v0 (v1 g1^2)'
    # where ' = frame t+1 shifted by d. Blocks come from frame t, search windows (block
    # plus the search margin) from frame t+1.
    oy, ox, nby, nbx, by, bx = layout
    sx, sy = SEARCH_X, SEARCH_Y
    p = len(ga)
    v0f = va.astype(np.float32)
    g0 = (ga - 128.0).astype(np.float32)  # smaller sums, less cancellation in float32
    def blk(a):  # (P, nby, nbx, by, bx) blocks of frame t
        return a[:, oy:oy + nby * by, ox:ox + nbx * bx].reshape(p, nby, by, nbx, bx).transpose(0, 1, 3, 2, 4)

    v1f = np.pad(vb.astype(np.float32), ((0, 0), (sy, sy), (sx, sx)))
    g1 = np.pad((gb - 128.0).astype(np.float32), ((0, 0), (sy, sy), (sx, sx)))
    rh, rw = by + 2 * sy, bx + 2 * sx
    fh, fw = rh, rw  # circular correlation: lags 0..2s of a block never wrap in a window this size

    def win(a):  # (P, nby, nbx, rh, rw) search windows of frame t+1
        wv = np.lib.stride_tricks.sliding_window_view(a, (rh, rw), axis=(1, 2))
        return wv[:, oy:oy + nby * by:by, ox:ox + nbx * bx:bx][:, :nby, :nbx]

    def spec(a):
        return np.fft.rfft2(a, s=(fh, fw))

    b_v, b_g, b_g2 = spec(blk(v0f)), spec(blk(v0f * g0)), spec(blk(v0f * g0 * g0))
    w_v, w_g, w_g2 = spec(win(v1f)), spec(win(v1f * g1)), spec(win(v1f * g1 * g1))

    def corr(a, b_):  # sum_x a[x] b[x + k] for k in the search range
        return np.fft.irfft2(np.conj(a) * b_, s=(fh, fw))[..., : 2 * sy + 1, : 2 * sx + 1]

    cnt = corr(b_v, w_v)
    ssd = corr(b_g2, w_v) - 2 * corr(b_g, w_g) + corr(b_v, w_g2)
    cost = np.where(cnt >= 0.4 * by * bx - 0.5, np.maximum(ssd, 0) / np.maximum(cnt, 1), np.inf)
    flat = cost.reshape(p, nby, nbx, -1)
    best = flat.argmin(-1)
    iy, ix = np.divmod(best, 2 * sx + 1)
    cmin = np.take_along_axis(flat, best[..., None], -1)[..., 0]
    cmed = np.median(np.where(np.isfinite(flat), flat, 1e9), -1)
    ok = np.isfinite(cmin) & (cmin < 0.5 * cmed) & (cmed > 4.0) & (cnt0 >= 0.4 * by * bx)

    def parabola(c_m, c_0, c_p):
        c_m, c_0, c_p = (np.where(np.isfinite(c), c, 0.0) for c in (c_m, c_0, c_p))
        den = c_m - 2 * c_0 + c_p
        off = 0.5 * (c_m - c_p) / np.where(den > 1e-6, den, 1.0)
        return np.where(den > 1e-6, np.clip(off, -0.5, 0.5), 0.0)

    def at(iy_, ix_):
        iy_ = np.clip(iy_, 0, 2 * sy)
        ix_ = np.clip(ix_, 0, 2 * sx)
        return np.take_along_axis(flat, (iy_ * (2 * sx + 1) + ix_)[..., None], -1)[..., 0]

    fx = parabola(at(iy, ix - 1), cmin, at(iy, ix + 1))
    fy = parabola(at(iy - 1, ix), cmin, at(iy + 1, ix))
    fx = np.where((ix > 0) & (ix < 2 * sx), fx, 0.0)
    fy = np.where((iy > 0) & (iy < 2 * sy), fy, 0.0)
    flow = np.stack([ix - sx + fx, iy - sy + fy], -1).astype(np.float32)
    return flow, ok


def floor_flow(frames: np.ndarray, cls: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Block matching of the floor between consecutive frames.

    Returns (flow (T-1, nby, nbx, 2) pixels at working resolution, ok (T-1, nby, nbx)
    bool, block centres (nby, nbx, 2) as (x, y), k the downsampling factor). Object and
    sky pixels are masked out of the sum of squared differences; a block is trusted when
    enough floor is left and its best shift stands out from the others (the checker is
    periodic, the search range stays below half its period).
    """
    t, h, w, _ = frames.shape
    k = max(1, int(round(min(h, w) / WORK_SIZE)))
    g = frames.astype(np.float32).mean(-1)
    valid = (cls < 0) & (frames.max(-1) < SKY_VALUE)
    g = _downsample(g, k, np.mean)
    valid = _downsample(valid, k, np.all)
    _, hh, ww = g.shape
    nby, nbx = max(1, hh // BLOCK), max(1, ww // BLOCK)
    by, bx = min(BLOCK, hh), min(BLOCK, ww)
    oy, ox = (hh - nby * by) // 2, (ww - nbx * bx) // 2
    p = t - 1
    if p < 1:
        return np.zeros((0, nby, nbx, 2)), np.zeros((0, nby, nbx), bool), np.zeros((nby, nbx, 2)), k
    sx, sy = SEARCH_X, SEARCH_Y
    crop = (slice(None), slice(oy, oy + nby * by), slice(ox, ox + nbx * bx))
    cnt_all = valid[crop].reshape(t, nby, by, nbx, bx).sum((2, 4))  # floor pixels per block
    # A pair whose floor barely changes (mean |difference| under STILL_DIFF grey levels;
    # a slow pan or zoom changes it by 1.4 or more) has not moved: no block matching.
    both = valid[1:] & valid[:-1]
    diff = (np.abs(g[1:] - g[:-1]) * both).sum((1, 2)) / np.maximum(both.sum((1, 2)), 1)
    flow = np.zeros((p, nby, nbx, 2), np.float32)
    ok = cnt_all[:-1] >= 0.4 * by * bx
    moving = np.nonzero(diff >= STILL_DIFF)[0]
    if len(moving):
        f_m, ok_m = _match_blocks(g[moving], valid[moving], g[moving + 1], valid[moving + 1],
                                  (oy, ox, nby, nbx, by, bx), cnt_all[moving])
        flow[moving], ok[moving] = f_m, ok_m
    cy_, cx_ = np.meshgrid(oy + (np.arange(nby) + 0.5) * by, ox + (np.arange(nbx) + 0.5) * bx, indexing="ij")
    centres = np.stack([cx_ - 0.5, cy_ - 0.5], -1)
    return flow, ok, centres, k


def _row_median(x: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Median of each row of x over its masked entries (0 for an empty row)."""
    n = mask.sum(1)
    srt = np.sort(np.where(mask, x, np.inf), 1)
    lo = np.take_along_axis(srt, np.maximum((n - 1) // 2, 0)[:, None], 1)[:, 0]
    hi = np.take_along_axis(srt, np.maximum(n // 2, 0)[:, None], 1)[:, 0]
    return np.where(n > 0, (lo + hi) / 2, 0.0)


def fit_floor_motion(flow: np.ndarray, ok: np.ndarray, centres: np.ndarray, w: int, h: int) -> np.ndarray:
    """Per frame pair, the 8-parameter motion of a plane seen by a moving camera
    (pseudo-perspective: exact to first order for any small rotation, and for a
    translation in front of a flat floor):

        u = a0 + a1 x + a2 y + c1 x^2 + c2 x y
        v = b0 + b1 x + b2 y + c1 x y + c2 y^2,   x = (px - W/2) / H, y = (py - H/2) / H

    Least squares over the trusted blocks, refitted twice without the blocks far off the
    fit (aliasing on the periodic checker). Fewer than 8 blocks: affine (c = 0); fewer
    than 4: the median translation; none: zeros. Returns (P, 8) [a0 a1 a2 b0 b1 b2 c1 c2]."""
    p = flow.shape[0]
    if p == 0:
        return np.zeros((0, 8))
    x = ((centres[..., 0] + 0.5 - w / 2) / h).reshape(-1)
    y = ((centres[..., 1] + 0.5 - h / 2) / h).reshape(-1)
    z, o = np.zeros_like(x), np.ones_like(x)
    rows_u = np.stack([o, x, y, z, z, z, x * x, x * y], 1)  # (B, 8)
    rows_v = np.stack([z, z, z, o, x, y, x * y, y * y], 1)
    u = flow[..., 0].reshape(p, -1).astype(np.float64)
    v = flow[..., 1].reshape(p, -1).astype(np.float64)
    wgt = ok.reshape(p, -1).astype(np.float64)
    n0 = wgt.sum(1)
    out = np.zeros((p, 8))
    for _ in range(3):
        n = wgt.sum(1)
        # Ridge: tiny on the affine terms, strong on the quadratic ones when blocks are few.
        ridge = np.zeros((p, 8, 8))
        ridge[:, range(6), range(6)] = 1e-6
        ridge[:, [6, 7], [6, 7]] = np.where(n >= 8, 1e-3, 1e6)[:, None]
        ata = np.einsum("pb,bi,bj->pij", wgt, rows_u, rows_u) + np.einsum("pb,bi,bj->pij", wgt, rows_v, rows_v) + ridge
        atb = np.einsum("pb,bi,pb->pi", wgt, rows_u, u) + np.einsum("pb,bi,pb->pi", wgt, rows_v, v)
        out = np.linalg.solve(ata, atb[..., None])[..., 0]
        r = np.hypot(out @ rows_u.T - u, out @ rows_v.T - v)  # (P, B)
        med = _row_median(r, wgt > 0)
        new = wgt * (r <= np.maximum(1.0, 2.5 * med)[:, None])
        wgt = np.where((new.sum(1) >= 6)[:, None], new, wgt)
    okf = ok.reshape(p, -1)
    for i in np.nonzero((n0 > 0) & (n0 < 4))[0]:
        out[i] = [np.median(u[i][okf[i]]), 0, 0, np.median(v[i][okf[i]]), 0, 0, 0, 0]
    out[n0 == 0] = 0.0
    return out


def flow_at(params: np.ndarray, px: float, py: float, w: int, h: int) -> tuple[float, float]:
    """Floor displacement (full-resolution pixels) at pixel (px, py) for one frame pair."""
    x, y = (px + 0.5 - w / 2) / h, (py + 0.5 - h / 2) / h
    a0, a1, a2, b0, b1, b2, c1, c2 = params
    return a0 + a1 * x + a2 * y + c1 * x * x + c2 * x * y, b0 + b1 * x + b2 * y + c1 * x * y + c2 * y * y


# Thresholds on the accumulated motion, in pixels of a 64-high frame (calibrated on
# simulated clips of every camera move at every speed, see kinora.verify.validate).
CAM_TRANSLATE = 3.0  # |tx| beyond this: the camera turned (pan); static stays below 0.3
CAM_SHEAR = 6.0  # |shear| beyond this and beyond 2 |tx|: orbit (a pan's own shear is ~0.5 |tx|)
CAM_ZOOM = 0.08  # |log scale| beyond this: zoom


def classify_camera(tx: float, ty: float, log_scale: float, shear: float) -> str:
    """One of CAMERA_MOTIONS from accumulated floor motion (64-high pixels).

    A pan turns the camera: the whole floor shifts the other way (pan left: floor
    moves right, tx > 0). An orbit circles the look-at point: the floor behind it moves
    with the camera and the floor in front against it, a vertical shear (orbit right:
    shear < 0 as the near, lower floor moves left). A zoom scales about the centre."""
    if abs(log_scale) >= CAM_ZOOM and abs(log_scale) * 32 >= 0.5 * max(abs(tx), abs(shear)):
        return "zoom_in" if log_scale > 0 else "zoom_out"
    if abs(shear) >= CAM_SHEAR and abs(shear) >= 2.0 * abs(tx):
        return "orbit_right" if shear < 0 else "orbit_left"
    if abs(tx) >= CAM_TRANSLATE:
        return "pan_left" if tx > 0 else "pan_right"
    return "static"


def estimate_camera(frames: np.ndarray, cls: np.ndarray) -> tuple[CameraMotion, np.ndarray]:
    """Camera move and the per-pair floor motion (P, 8) in full-resolution pixels."""
    t, h, w, _ = frames.shape
    flow, ok, centres, k = floor_flow(frames, cls)
    params = fit_floor_motion(flow, ok, centres, w // k, h // k) * k  # to full-resolution pixels
    s64 = 64.0 / h
    tx, ty = float(params[:, 0].sum()), float(params[:, 3].sum())
    log_scale = float(((params[:, 1] + params[:, 5]) / (2 * h)).sum())
    shear = float(params[:, 2].sum())
    motion = classify_camera(tx * s64, ty * s64, log_scale, shear * s64)
    per = [[round(float(a), 3), round(float(b), 3), round(float((c + d) / (2 * h)), 5), round(float(e), 3)]
           for a, b, c, d, e in zip(params[:, 0], params[:, 3], params[:, 1], params[:, 5], params[:, 2])]
    cam = CameraMotion(motion=motion, translation=(round(tx, 3), round(ty, 3)), scale=round(math.exp(log_scale), 4),
                       shear=round(shear, 3), per_frame=per)
    return cam, params


# ---------------------------------------------------------------------------------
# 5. Tracks and what each object does
# ---------------------------------------------------------------------------------

ANCHOR = 0.6  # the floor under an object: this far from its centroid to the bottom of its box
MAX_GAP = 4  # frames a track may go unseen (behind something) and still be continued
EDGE_WEIGHT = 0.2  # weight of a view cut by the border in the track's shape vote
SHAPE_PRIOR_WEIGHT = 0.5  # weight of a uniform pseudo-view in that vote


def _gap(a: tuple, b: tuple) -> int:
    """Pixels between two boxes (0 when they touch or overlap)."""
    return max(0, max(a[0], b[0]) - min(a[2], b[2]), max(a[1], b[1]) - min(a[3], b[3]))


def _floor_shift(params: np.ndarray, f0: int, f1: int, d: Detection, w: int, h: int) -> tuple[float, float]:
    """How far the floor where detection d stands (frame f0) has moved by frame f1.

    Under an orbit the floor's motion changes with distance (parallax), so the reference
    must be the floor point at the object's depth, the one under its centre: not the
    centroid (over a floor point farther away), not the bottom of the box (the nearest
    edge of its footprint) but between them, ANCHOR of the way down (fitted on
    simulated orbits: mean error 0.14 px per frame against 0.25 at the box bottom)."""
    x, y = d.centroid[0], d.centroid[1] + ANCHOR * (d.bbox[3] - 0.5 - d.centroid[1])
    px, py = x, y
    for f in range(f0, f1):
        u, v = flow_at(params[f], px, py, w, h)
        px, py = px + u, py + v
    return px - x, py - y


def _step(a: Detection, b: Detection, w: int, h: int) -> tuple[float, float]:
    """Screen motion from detection a to b. Where the frame border cuts either view, the
    centroid lags the object, so that axis follows the box side away from the border."""
    out = []
    for axis, size in ((0, w), (1, h)):
        lo = a.bbox[axis] == 0 or b.bbox[axis] == 0
        hi = a.bbox[axis + 2] == size or b.bbox[axis + 2] == size
        if lo and not hi:
            out.append(float(b.bbox[axis + 2] - a.bbox[axis + 2]))
        elif hi and not lo:
            out.append(float(b.bbox[axis] - a.bbox[axis]))
        else:
            out.append(b.centroid[axis] - a.centroid[axis])
    return out[0], out[1]


def link_tracks(dets: list[list[Detection]], params: np.ndarray, w: int, h: int) -> list[list[tuple[int, int]]]:
    """Link detections into tracks: lists of (frame, detection index).

    Frame by frame, each live track predicts its next centroid (last position, plus its
    last velocity, plus the floor's motion there) and takes the nearest unclaimed
    detection of its colour within a gate that grows with the object's size and the
    gap. Afterwards a track that starts where a track of the same colour ended (no
    overlap in time, plausibly near) continues it: an object seen again after an
    occlusion is the same object."""
    s = h / 64.0
    tracks: list[list[tuple[int, int]]] = []
    for f, fd in enumerate(dets):
        by_color: dict[str, list[int]] = {}
        for di, d in enumerate(fd):
            by_color.setdefault(d.color, []).append(di)
        cands = []
        for ti, tr in enumerate(tracks):
            lf, li = tr[-1]
            if f - lf > MAX_GAP or lf == f:
                continue
            last = dets[lf][li]
            vx = vy = 0.0
            if len(tr) >= 2:
                pf, pi = tr[-2]
                prev = dets[pf][pi]
                cu, cv = _floor_shift(params, pf, lf, prev, w, h)
                vx = (last.centroid[0] - prev.centroid[0] - cu) / (lf - pf)
                vy = (last.centroid[1] - prev.centroid[1] - cv) / (lf - pf)
            cu, cv = _floor_shift(params, lf, f, last, w, h)
            px = last.centroid[0] + cu + vx * (f - lf)
            py = last.centroid[1] + cv + vy * (f - lf)
            for di in by_color.get(last.color, ()):
                d = fd[di]
                size = math.sqrt(max(last.area, d.area))
                dist = math.hypot(d.centroid[0] - px, d.centroid[1] - py)
                if dist <= 4 * s + 1.2 * size + 3 * s * (f - lf - 1):
                    change = abs(math.log(d.area / last.area))  # objects keep their size from frame to frame
                    cands.append((dist / (size + 1) + 0.5 * change + 0.5 * (f - lf - 1), ti, di))
        taken_t, taken_d = set(), set()
        for _, ti, di in sorted(cands):
            if ti in taken_t or di in taken_d:
                continue
            tracks[ti].append((f, di))
            taken_t.add(ti)
            taken_d.add(di)
        for di in range(len(fd)):
            if di not in taken_d:
                tracks.append([(f, di)])
    # Re-join: same colour, B starts after A ends; nearest such A, within reach.
    tracks.sort(key=lambda tr: tr[0][0])
    merged: list[list[tuple[int, int]]] = []
    for tr in tracks:
        f0, i0 = tr[0]
        first = dets[f0][i0]
        best, best_d = None, float("inf")
        for m in merged:
            lf, li = m[-1]
            last = dets[lf][li]
            if last.color != first.color or lf >= f0:
                continue
            cu, cv = _floor_shift(params, lf, f0, last, w, h)
            dist = math.hypot(first.centroid[0] - last.centroid[0] - cu, first.centroid[1] - last.centroid[1] - cv)
            reach = max(24 * s, 3 * math.sqrt(max(first.area, last.area))) + 4 * s * (f0 - lf)
            if dist <= reach and dist < best_d:
                best, best_d = m, dist
        if best is not None:
            best.extend(tr)
        else:
            merged.append(list(tr))
    return merged


def _cause(dets: list[list[Detection]], f: int, d: Detection, nbr_frame: int | None, s: float) -> str:
    """Why an object (re)appears or disappears next to frame f: edge, occlusion or none."""
    if d.at_edge:
        return "edge"
    for g in (f, nbr_frame):
        if g is None or not 0 <= g < len(dets):
            continue
        for o in dets[g]:
            if o is not d and o.color != d.color and _gap(o.bbox, d.bbox) <= 2 * s:
                return "occlusion"
    return "none"


def _log_size_change(ds: list[Detection], frames: list[int], dets: list[list[Detection]], params: np.ndarray,
                     w: int, h: int) -> float:
    """log(apparent area at the end / at the start) with the zoom removed, from whole
    views only (not cut by the border, not touching another object; mean of the first
    two and of the last two). An object cut by the top or
    bottom border keeps its width, so 2 log(width) stands in when too few views are
    whole. 0 when neither works."""
    log_zoom = np.concatenate([[0.0], np.cumsum((params[:, 1] + params[:, 5]) / (2 * h))])
    free = [d.contact == 0 for d in ds]  # touching nothing that may hide part of it
    whole = [k for k, d in enumerate(ds) if free[k] and not d.at_edge]
    measure = lambda k: math.log(ds[k].area)  # noqa: E731
    if len(whole) < 2 or whole[-1] - whole[0] < 2:
        whole = [k for k, d in enumerate(ds) if free[k] and d.bbox[0] > 0 and d.bbox[2] < w]
        measure = lambda k: 2 * math.log(ds[k].bbox[2] - ds[k].bbox[0])  # noqa: E731
        if len(whole) < 2 or whole[-1] - whole[0] < 2:
            return 0.0
    a0 = np.mean([measure(k) - 2 * log_zoom[frames[k]] for k in whole[:2]])
    a1 = np.mean([measure(k) - 2 * log_zoom[frames[k]] for k in whole[-2:]])
    return float(a1 - a0)


def summarize_track(tid: int, members: list[tuple[int, int]], dets: list[list[Detection]], params: np.ndarray,
                    w: int, h: int, num_frames: int) -> Track:
    """Consensus shape, net direction, bounces, stop, appearance and vanishing of one track."""
    s = h / 64.0
    ds = [dets[f][i] for f, i in members]
    frames = [f for f, _ in members]
    # Shape: weighted mean of per-frame log-probabilities; views cut by the border or
    # partly hidden (long shared outline with another object) count less.
    logp, total = np.zeros(len(SHAPE_NAMES)), 0.0
    for d in ds:
        wgt = (EDGE_WEIGHT if d.at_edge else 1.0) * max(0.05, 1.0 - 4.0 * d.contact)
        logp += wgt * np.log(np.maximum([d.shape_probs[n] for n in SHAPE_NAMES], 1e-4))
        total += wgt
    # A uniform pseudo-view: a track seen only in poor views stays undecided.
    logp = (logp + SHAPE_PRIOR_WEIGHT * math.log(1 / len(SHAPE_NAMES))) / (total + SHAPE_PRIOR_WEIGHT)
    p = np.exp(logp - logp.max())
    p /= p.sum()
    shape = SHAPE_NAMES[int(p.argmax())]
    for d in ds:
        d.shape = shape
        d.track = tid
    # Positions relative to the floor: each step's displacement minus the floor's there.
    pos = [np.array(ds[0].centroid, dtype=np.float64)]
    for a, b in zip(ds, ds[1:]):
        cu, cv = _floor_shift(params, a.frame, b.frame, a, w, h)
        mx, my = _step(a, b, w, h)
        pos.append(pos[-1] + np.array([mx - cu, my - cv]))
    pos = np.stack(pos)
    dx, dy = (pos[-1] - pos[0]).tolist()
    size = math.sqrt(float(np.median([d.area for d in ds])))
    la = _log_size_change(ds, frames, dets, params, w, h)
    direction = _direction(dx, dy, la, size, s)
    bounces = _bounces(frames, pos[:, 1], size, s)
    stop = _stop_frame(frames, pos, size, s, ds[-1].at_edge, num_frames)
    f_first, f_last = frames[0], frames[-1]
    appear = {"frame": f_first, "cause": "start" if f_first == 0 else _cause(dets, f_first, ds[0], f_first - 1, s)}
    vanish = {"frame": f_last,
              "cause": "end" if f_last == num_frames - 1 else _cause(dets, f_last, ds[-1], f_last + 1, s)}
    hidden = []
    for (fa, da), (fb, db) in zip(zip(frames, ds), zip(frames[1:], ds[1:])):
        if fb - fa > 1:
            c1, c2 = _cause(dets, fa, da, fa + 1, s), _cause(dets, fb, db, fb - 1, s)
            hidden.append({"from": fa + 1, "to": fb - 1, "cause": c1 if c1 != "none" else c2})
    return Track(id=tid, color=ds[0].color, shape=shape,
                 shape_probs={n: round(float(q), 4) for n, q in zip(SHAPE_NAMES, p)}, size=round(size, 3),
                 frames=frames, detections=[i for _, i in members], direction=direction,
                 displacement=(round(dx, 3), round(dy, 3)), log_area_change=round(la, 4), bounces=bounces,
                 stop_frame=stop, appear=appear, vanish=vanish, hidden=hidden)


# Motion thresholds (pixels of a 64-high frame, or of the object's size sqrt(area)).
MOVE_PX = 2.5  # a net displacement below max(this, MOVE_SIZE * size) is still ...
MOVE_SIZE = 0.3
MOVE_LOG_AREA = 0.15  # ... unless it also grows or shrinks this much while moving down or up
DEPTH_LOG_AREA = 0.1  # moving down (up) while growing (shrinking) by this much: toward (away)
TOWARD_PER_PX = 0.022  # toward also grows by this much per pixel it moves down; a fall far less


def _direction(dx: float, dy: float, la: float, size: float, s: float) -> str:
    """Net motion relative to the floor, from the displacement (dx, dy) in pixels and the
    change la of log apparent area.

    Sideways motion keeps the size. Rolling away moves up the screen and shrinks;
    rolling towards the camera moves down and grows, and on a flat floor the growth
    and the descent go together (both follow 1 / distance: about 0.05 per pixel of a
    64-high frame at the default camera). A fall also moves down, but at about the same
    size (it shrinks a little as the camera looks down on it; a tumbling cube changes
    its outline by up to 30 %), so down with little growth per pixel is a fall."""
    d = math.hypot(dx, dy)
    depth_cue = abs(la) >= MOVE_LOG_AREA and abs(dy) >= 0.6 * MOVE_PX * s and la * dy > 0
    if d < max(MOVE_PX * s, MOVE_SIZE * size) and not depth_cue:
        return "still"
    if abs(dx) >= abs(dy):
        return "right" if dx > 0 else "left"
    if dy > 0:
        return "toward" if la > DEPTH_LOG_AREA and la >= TOWARD_PER_PX * dy / s else "down"
    return "away" if la < -DEPTH_LOG_AREA else "up"  # nothing in the world rises for long but a bounce


BOUNCE_PX = 1.0  # a bounce: down then up by at least max(this, BOUNCE_SIZE * size)
BOUNCE_SIZE = 0.12


def _bounces(frames: list[int], y: np.ndarray, size: float, s: float) -> list[int]:
    """Frames where the object's height turns from falling to rising: a local maximum of
    its screen y (y grows downwards) with a drop before and a rise after it."""
    thr = max(BOUNCE_PX * s, BOUNCE_SIZE * size)
    out = []
    n = len(y)
    for k in range(1, n - 1):
        if frames[k + 1] - frames[k - 1] != 2:
            continue
        if not (y[k] >= y[k - 1] and y[k] > y[k + 1]):
            continue
        lo = max(0, k - 3)
        fall = y[k] - y[lo:k].min()
        rise = y[k] - y[k + 1:k + 4].min()
        if fall >= thr and rise >= thr:
            out.append(frames[k])
    return out


STOP_SPEED_PX = 0.45  # at rest: every later step below max(this, STOP_SPEED_SIZE * size) per frame ...
STOP_SPEED_SIZE = 0.04
STOP_DRIFT_PX = 1.5  # ... and never farther than max(this, STOP_DRIFT_SIZE * size) from where it stopped
STOP_DRIFT_SIZE = 0.15


def _stop_frame(frames: list[int], pos: np.ndarray, size: float, s: float, ends_at_edge: bool,
                num_frames: int) -> int | None:
    """First frame from which the object stays put to the end of the clip, after having
    moved; None if it never moved, never settled, or left the frame. "Stays put" allows
    the small per-frame drift of the camera compensation (a step limit plus a looser
    limit on the total), so a moving camera does not postpone the stop."""
    if ends_at_edge or len(frames) < 4 or frames[-1] < num_frames - 1:
        return None
    v_rest = max(STOP_SPEED_PX * s, STOP_SPEED_SIZE * size)
    drift = max(STOP_DRIFT_PX * s, STOP_DRIFT_SIZE * size)
    move = max(MOVE_PX * s, MOVE_SIZE * size)
    steps = np.hypot(*np.diff(pos, axis=0).T) / np.maximum(np.diff(frames), 1)  # (n-1,) pixels per frame
    k = len(frames) - 1
    while k > 0 and steps[k - 1] <= v_rest and np.hypot(*(pos[k - 1:] - pos[k - 1]).T).max() <= drift:
        k -= 1
    if k == 0 or k > len(frames) - 3:  # never moved, or fewer than three frames of rest
        return None
    if np.hypot(*(pos[:k] - pos[k]).T).max() < move:
        return None
    return frames[k]


# ---------------------------------------------------------------------------------
# The whole analysis
# ---------------------------------------------------------------------------------


def analyze(frames: np.ndarray, fps: float = 8.0) -> Analysis:
    """Analyse (T, H, W, 3) uint8 RGB frames: detections, tracks, camera motion."""
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.shape[0] < 1:
        raise KinoraError(f"frames must have shape (T, H, W, 3) with T >= 1, got {frames.shape}")
    if frames.dtype != np.uint8:
        raise KinoraError(f"frames must be uint8 RGB, got {frames.dtype}")
    t, h, w, _ = frames.shape
    dets, labels, _ = detect(frames)
    cls = np.where(labels >= 0, 0, -1).astype(np.int8)  # objects masked out of the floor
    camera, params = estimate_camera(frames, cls)
    members = link_tracks(dets, params, w, h)
    tracks = [summarize_track(i, m, dets, params, w, h, t) for i, m in enumerate(members)]
    return Analysis(width=w, height=h, num_frames=t, fps=float(fps), detections=dets, tracks=tracks,
                    camera=camera, labels=labels)


def analyze_file(path) -> Analysis:
    """Analyse a video file (MP4 or anything PyAV reads)."""
    from kinora.io.video import read_video

    frames, fps, _ = read_video(path)
    return analyze(frames, fps)


# ---------------------------------------------------------------------------------
# 6. The video against a ShotSpec
# ---------------------------------------------------------------------------------

ISSUE_KINDS = ("missing", "extra", "wrong_color", "wrong_shape", "wrong_count", "wrong_motion", "wrong_camera",
               "unexplained")
# Spec direction (relative to the camera at the start) -> the screen direction it shows.
SCREEN_OF = {"left": "left", "right": "right", "forward": "away", "backward": "toward"}
SHAPE_DOUBT = 0.2  # a wrong shape is flagged when the spec's shape has less probability than this
MIN_TRACK_FRAMES = 3  # a track seen in fewer frames (and less than half the clip) is noise, not an object


@dataclass
class Issue:
    kind: str  # one of ISSUE_KINDS
    message: str
    object: str | None = None  # spec object id
    track: int | None = None
    expected: str | None = None
    found: str | None = None


@dataclass
class Report:
    passed: bool
    issues: list[Issue]
    scores: dict[str, float]  # color, shape, count, motion, camera (fractions), overall = their mean
    matches: dict[str, int | None]  # spec object id -> track id (None: missing)

    def to_dict(self) -> dict:
        return asdict(self)

    def __str__(self) -> str:
        head = "PASS" if self.passed else f"FAIL ({len(self.issues)} issue{'s' * (len(self.issues) != 1)})"
        scores = "  ".join(f"{k} {v:.2f}" for k, v in self.scores.items())
        return "\n".join([f"{head}  {scores}"] + [f"  - {i.kind}: {i.message}" for i in self.issues])


def expected_direction(spec: ShotSpec, oid: str) -> str | None:
    """The screen direction a spec object should show, or None when the spec does not
    pin it down (toppling, or a still object that something pushes or stands on)."""
    o = spec.object(oid)
    if o.motion == "still":
        acted_on = any(p.target == o.id or p.on == o.id for p in spec.objects)
        return None if acted_on else "still"
    if o.motion == "fall":
        return "down"
    if o.motion in ("roll", "slide", "push"):
        return SCREEN_OF[o.direction or "right"]
    return None


def direction_agrees(track: Track, expected: str, frame_height: int) -> bool:
    """Does the track move the expected way? Its dominant direction, or a clear component
    of its motion: a ball meant to roll right that rolls right and a little towards the
    camera does roll right; a fall that bounces sideways still comes down."""
    if track.direction == expected:
        return True
    if expected == "still" or track.direction == "still":
        return False
    s = frame_height / 64.0
    dx, dy = track.displacement
    move = max(MOVE_PX * s, MOVE_SIZE * track.size)
    return {
        "left": dx <= -move, "right": dx >= move, "down": dy >= move,
        "toward": dy >= 0.6 * MOVE_PX * s and track.log_area_change > 0,
        "away": dy <= -0.6 * MOVE_PX * s,  # up the screen on the floor: nothing in the world rises for long
        "up": dy <= -move,
    }[expected]


def significant_tracks(analysis: Analysis) -> list[Track]:
    """Tracks that are objects rather than noise: seen in MIN_TRACK_FRAMES frames or in
    at least half of a short clip."""
    need = min(MIN_TRACK_FRAMES, max(1, (analysis.num_frames + 1) // 2))
    return [t for t in analysis.tracks if len(t.frames) >= need]


def _assign(cost: np.ndarray, unmatched: float) -> list[tuple[int, int]]:
    """Minimum-cost matching of rows to columns, either side may stay unmatched at
    `unmatched` each. Exhaustive for the micro-world's few objects, greedy beyond."""
    n, m = cost.shape
    if n == 0 or m == 0:
        return []
    if max(n, m) <= 7:
        best, best_c = [], float("inf")
        big = max(n, m)
        pad = np.full((big, big), unmatched * 2)
        pad[:n, :m] = np.minimum(cost, unmatched * 2)
        for perm in itertools.permutations(range(big), n):
            c = sum(pad[i, j] if j < m else unmatched for i, j in enumerate(perm))
            if c < best_c:
                best_c, best = c, [(i, j) for i, j in enumerate(perm) if j < m and cost[i, j] < unmatched * 2]
        return best
    pairs, used_r, used_c = [], set(), set()
    for i, j in sorted(np.ndindex(n, m), key=lambda ij: cost[ij]):
        if i not in used_r and j not in used_c and cost[i, j] < unmatched * 2:
            pairs.append((i, j))
            used_r.add(i)
            used_c.add(j)
    return pairs


def compare(analysis: Analysis, spec: ShotSpec, check_permanence: bool = True) -> Report:
    """Check a video's analysis against the spec it should show.

    Spec objects are matched to tracks by minimum total cost (colour disagreement 3,
    shape 1 - p(shape), direction 0.5; leaving an object or a track unmatched 2.5), so a
    red ball rendered blue reads as one wrong colour, not a missing and an extra
    object. A shape is wrong when the track gives the spec's shape less than SHAPE_DOUBT
    (a mostly hidden object stays undecided rather than wrong); a motion is wrong when
    the track does not move the expected way (`direction_agrees`). Every disagreement
    becomes an Issue; the report passes when there are none."""
    tracks = significant_tracks(analysis)
    objs = spec.objects
    cost = np.zeros((len(objs), len(tracks)))
    for i, o in enumerate(objs):
        exp = expected_direction(spec, o.id)
        for j, tr in enumerate(tracks):
            cost[i, j] = (3.0 * (tr.color != o.color) + (1.0 - tr.shape_probs[o.shape])
                          + 0.5 * (exp is not None and not direction_agrees(tr, exp, analysis.height)))
    pairs = _assign(cost, unmatched=2.5)
    issues: list[Issue] = []
    matches: dict[str, int | None] = {o.id: None for o in objs}
    n_color = n_shape = n_motion = n_motion_checked = 0
    for i, j in pairs:
        o, tr = objs[i], tracks[j]
        matches[o.id] = tr.id
        desc = f"{o.id} ({o.color} {o.shape})"
        if tr.color != o.color:
            issues.append(Issue("wrong_color", f"{desc} appears {tr.color}", o.id, tr.id, o.color, tr.color))
        else:
            n_color += 1
        if tr.shape_probs[o.shape] < SHAPE_DOUBT:
            issues.append(Issue("wrong_shape", f"{desc} looks like a {tr.shape}", o.id, tr.id, o.shape, tr.shape))
        else:
            n_shape += 1
        exp = expected_direction(spec, o.id)
        if exp is not None:
            n_motion_checked += 1
            if not direction_agrees(tr, exp, analysis.height):
                issues.append(Issue("wrong_motion", f"{desc} should move {exp} but moves {tr.direction}",
                                    o.id, tr.id, exp, tr.direction))
            else:
                n_motion += 1
    matched_t = {j for _, j in pairs}
    for i, o in enumerate(objs):
        if matches[o.id] is None:
            issues.append(Issue("missing", f"{o.id} ({o.color} {o.shape}) is not in the video", o.id, None,
                                f"{o.color} {o.shape}", None))
    for j, tr in enumerate(tracks):
        if j not in matched_t:
            issues.append(Issue("extra", f"a {tr.color} {tr.shape} (track {tr.id}) that the spec does not have",
                                None, tr.id, None, f"{tr.color} {tr.shape}"))
    if len(tracks) != len(objs):
        issues.append(Issue("wrong_count", f"{len(tracks)} objects in the video, {len(objs)} in the spec",
                            expected=str(len(objs)), found=str(len(tracks))))
    if analysis.camera.motion != spec.camera.motion:
        issues.append(Issue("wrong_camera", f"camera should be {spec.camera.motion} but is {analysis.camera.motion}",
                            expected=spec.camera.motion, found=analysis.camera.motion))
    if check_permanence:
        sig = {t.id for t in tracks}
        for u in analysis.unexplained():
            if u["track"] in sig:
                msg = f"the {u['color']} object {u['event']} without cause at frame {u['frame']}"
                issues.append(Issue("unexplained", msg, None, u["track"]))
    n = max(len(objs), 1)
    scores = {
        "color": n_color / n if objs else float(not tracks),
        "shape": n_shape / n if objs else float(not tracks),
        "count": float(len(tracks) == len(objs)),
        "motion": n_motion / n_motion_checked if n_motion_checked else 1.0,
        "camera": float(analysis.camera.motion == spec.camera.motion),
    }
    scores["overall"] = sum(scores.values()) / len(scores)
    scores = {k: round(v, 4) for k, v in scores.items()}
    return Report(passed=not issues, issues=issues, scores=scores, matches=matches)
