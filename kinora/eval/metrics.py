"""Per-clip measurements of a generated video against its ShotSpec, and their summaries.

Every measurement starts from the analyzer (`kinora.verify.analyzer.analyze`): its
detections (colour class, shape probabilities, centroid, area, box, pixel labels), its
tracks (objects followed through the clip, their net direction, how they appeared and
vanished) and its camera estimate. Only *significant* tracks count (seen in at least
3 frames, `significant_tracks`); shorter ones are noise. Distances are in pixels of a
64-pixel-high frame. The definitions, per clip, then summarised over the suite:

text alignment (`compare(analysis, spec)` matches spec objects to tracks):
  colour / shape: spec objects whose matched track has the right colour / shape, over
    all spec objects (a missing object counts as wrong).
  count: clips whose number of significant tracks equals the number of spec objects.
  motion: spec objects whose expected screen direction (`expected_direction`: still,
    down for a fall, left/right/away/toward for a roll, slide or push) equals their
    track's direction, over the spec objects with an expected direction (a missing
    object counts as wrong; `compare`'s own motion score skips missing objects).
  camera: clips whose estimated camera move is the spec's.
  All five are pooled over objects or clips of the whole suite (micro-averages).

object permanence: clips in which no significant track appears, vanishes or flickers
  without a cause (the analyzer's causes: clip start or end, frame edge, occlusion by
  another object), over all clips.

consistency (VBench subject consistency, adapted): for each significant track with
  detections d_1 .. d_n in time order (cut-off ones at the frame edge left out),
      S = 1/(n-1) * sum_{i>=2} ( sim(d_1, d_i) + sim(d_{i-1}, d_i) ) / 2
  with sim = (BC(colour histograms) + BC(shape probabilities)) / 2, BC the Bhattacharyya
  coefficient sum(sqrt(p q)) in [0, 1], and the colour histogram over the object's
  pixels in hue (24 bins) x saturation (4 bins). VBench compares DINO features; the
  micro-world's objects are fully described by colour and shape. The clip's value is the
  mean of its tracks' S weighted by n; the suite's the mean over clips with a track.

smoothness (VBench motion smoothness, adapted): drop every middle frame of three
  consecutive detections of a track and re-interpolate its centroid linearly from its
  neighbours; the error e = |c_t - (c_{t-1} + c_{t+1}) / 2| / sqrt(area_t) is relative to
  the object's size, and each triple scores max(0, 1 - e). Clip = mean over its
  triples; suite = mean over clips with a triple. Real physics is not linear either (a
  bounce turns around in one frame), so the simulator's own score is the ceiling.
  smoothness_pixel is VBench's pixel form: 1 - mean |x_t - (x_{t-1} + x_{t+1}) / 2| / 255.

dynamic degree (VBench): the share of clips that move: the camera moves, or a
  significant track has a direction other than still or bounces. The simulator's value
  on the same suite is the share that should move.

drift (long horizon): agreement between frame 0 and frame k for every gap k = 1 ..
  T - 1, per clip, then averaged over clips at each k:
  colour(k): mean BC of the colour histograms of each significant track at frames 0 and
    k (tracks seen, not cut off, at both);
  size(k): mean of min(a_0, a'_k) / max(a_0, a'_k) over the same tracks, a'_k the area at
    frame k divided by the square of the camera's accumulated zoom;
  count(k): min(n_0, n_k) / max(n_0, n_k) of the significant detections in the two
    frames (1 when both are 0).
  Objects roll out of view and towards the camera in the true clips too, so each curve
  is compared with the same curve of the simulator's clips of the same prompts: the
  drift score of a dimension is min(1, sum_k model(k) / sum_k simulator(k)), and
  drift.score their mean.

unreadable clips (`analyze_clip`): when the median frame holds more than MAX_REGIONS
  colour regions of MIN_REGION_AREA pixels (noise, as from an untrained model), the
  clip is not analysed but scored as showing nothing: every spec object missing, no
  permanence, consistency, smoothness and drift 0, dynamic. `readable` is the share of
  clips that were analysed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from kinora.verify.analyzer import (
    SHAPE_NAMES,
    Analysis,
    CameraMotion,
    _hue,
    analyze,
    classify_pixels,
    compare,
    expected_direction,
    label_components,
    significant_tracks,
)
from kinora.world.spec import ShotSpec

HUE_BINS, SAT_BINS = 24, 4
DIMENSIONS = ("color", "shape", "count", "motion", "camera")
# A frame of the micro-world holds at most 6 objects, so it shows a few colour regions
# of MIN_REGION_AREA pixels or more (per 64x64 frame); an untrained or broken generator
# makes coloured noise with dozens to thousands. Such a clip is scored as showing
# nothing rather than analysed: noise holds every palette colour, and a match of the
# prompt's colour by chance would be credit for nothing.
MAX_REGIONS = 24
MIN_REGION_AREA = 4


# ---------------------------------------------------------------------------------
# The analyzer, guarded against noise
# ---------------------------------------------------------------------------------


def analyze_clip(frames: np.ndarray, fps: float) -> tuple[Analysis, str | None]:
    """`analyze(frames)`, or an empty analysis and the reason when the clip is noise:
    in the median frame, more than MAX_REGIONS colour regions of MIN_REGION_AREA pixels.

    An unreadable clip shows no object and no camera move ("unknown"): every object of
    its spec counts as missing, and `clip_metrics` scores it as failing every dimension."""
    T, H, W, _ = frames.shape
    s2 = H * W / 4096
    raw = label_components(classify_pixels(frames))  # (T, H, W), -1 = no colour
    counts = []
    for f in range(T):
        _, areas = np.unique(raw[f][raw[f] >= 0], return_counts=True)
        counts.append(int((areas >= MIN_REGION_AREA * s2).sum()))
    median = float(np.median(counts))
    if median > MAX_REGIONS * s2:
        empty = Analysis(width=W, height=H, num_frames=T, fps=float(fps), detections=[[] for _ in range(T)],
                         tracks=[], camera=CameraMotion("unknown", (0.0, 0.0), 1.0, 0.0, []),
                         labels=np.full((T, H, W), -1, np.int16))
        return empty, (f"unreadable: the median frame has {median:g} colour regions (noise); "
                       f"a frame of the world has a few")
    return analyze(frames, fps), None


# ---------------------------------------------------------------------------------
# Small pieces
# ---------------------------------------------------------------------------------


def color_histogram(pixels: np.ndarray) -> np.ndarray:
    """(N, 3) uint8 RGB -> (HUE_BINS * SAT_BINS,) histogram summing to 1 (zeros if N == 0)."""
    if len(pixels) == 0:
        return np.zeros(HUE_BINS * SAT_BINS)
    p = pixels.astype(np.float32)
    r, g, b = p[:, 0], p[:, 1], p[:, 2]
    mx = p.max(1)
    sat = (mx - p.min(1)) / np.maximum(mx, 1.0)
    hue = np.degrees(_hue(r, g, b)) % 360
    hi = np.minimum((hue / 360 * HUE_BINS).astype(np.int64), HUE_BINS - 1)
    si = np.minimum((sat * SAT_BINS).astype(np.int64), SAT_BINS - 1)
    h = np.bincount(hi * SAT_BINS + si, minlength=HUE_BINS * SAT_BINS).astype(np.float64)
    return h / h.sum()


def bhattacharyya(p: np.ndarray, q: np.ndarray) -> float:
    return float(np.sqrt(np.maximum(p, 0) * np.maximum(q, 0)).sum())


def _shape_vec(d) -> np.ndarray:
    v = np.array([d.shape_probs[n] for n in SHAPE_NAMES], dtype=np.float64)
    return v / max(v.sum(), 1e-9)


def _zoom_log_scale(analysis: Analysis) -> np.ndarray:
    """(T,) accumulated log zoom of the camera from frame 0 to each frame."""
    per = [p[2] for p in analysis.camera.per_frame] if analysis.camera.per_frame else []
    out = np.zeros(analysis.num_frames)
    if per:
        # per_frame holds [tx, ty, log scale, shear] for each consecutive frame pair.
        steps = np.asarray(per[: analysis.num_frames - 1], dtype=np.float64)
        out[1:1 + len(steps)] = np.cumsum(steps)
    return out


# ---------------------------------------------------------------------------------
# One clip
# ---------------------------------------------------------------------------------


@dataclass
class ClipMetrics:
    """Everything measured on one clip (raw counts, so suites can be pooled)."""

    n_objects: int
    color_ok: int
    shape_ok: int
    motion_ok: int
    motion_checked: int
    count_ok: bool
    camera_ok: bool
    permanent: bool
    dynamic: bool
    consistency: float | None
    smoothness: float | None
    smoothness_pixel: float
    drift_color: list[float]  # index k-1 for gap k; NaN where undefined
    drift_size: list[float]
    drift_count: list[float]
    issues: list[str] = field(default_factory=list)
    tracks: int = 0
    camera: str = "static"
    readable: bool = True  # False: noise the analyzer cannot read (see analyze_clip)

    def summary(self) -> dict:
        return {"objects": self.n_objects, "tracks": self.tracks, "color": self.color_ok, "shape": self.shape_ok,
                "motion": f"{self.motion_ok}/{self.motion_checked}", "count_ok": self.count_ok,
                "camera": self.camera, "camera_ok": self.camera_ok, "permanent": self.permanent,
                "dynamic": self.dynamic, "readable": self.readable,
                "consistency": None if self.consistency is None else round(self.consistency, 4),
                "smoothness": None if self.smoothness is None else round(self.smoothness, 4),
                "issues": self.issues}


def _pixel_smoothness(frames: np.ndarray) -> float:
    if len(frames) < 3:
        return 1.0
    x = frames.astype(np.float32)
    return float(1.0 - np.abs(x[1:-1] - 0.5 * (x[:-2] + x[2:])).mean() / 255.0)


def clip_metrics(frames: np.ndarray, spec: ShotSpec, analysis: Analysis, unreadable: str | None = None) -> ClipMetrics:
    """Measure one clip (frames (T, H, W, 3) uint8 and the analysis of them) against spec.

    `unreadable` (the reason from `analyze_clip`) marks noise: it fails alignment and
    permanence, scores 0 for consistency, smoothness and drift, and counts as dynamic."""
    T, H, W, _ = frames.shape
    if unreadable is not None:
        n = len(spec.objects)
        zeros = [0.0] * (T - 1)
        return ClipMetrics(n_objects=n, color_ok=0, shape_ok=0, motion_ok=0,
                           motion_checked=sum(expected_direction(spec, o.id) is not None for o in spec.objects),
                           count_ok=n == 0, camera_ok=False, permanent=False, dynamic=True, consistency=0.0,
                           smoothness=0.0, smoothness_pixel=_pixel_smoothness(frames), drift_color=zeros,
                           drift_size=zeros, drift_count=zeros, issues=[unreadable], tracks=0, camera="unknown",
                           readable=False)
    report = compare(analysis, spec)
    sig = significant_tracks(analysis)
    sig_ids = {t.id for t in sig}
    by_id = {t.id: t for t in analysis.tracks}

    # --- alignment: pooled counts ---
    n = len(spec.objects)
    color_ok = shape_ok = motion_ok = motion_checked = 0
    for o in spec.objects:
        tid = report.matches.get(o.id)
        tr = by_id.get(tid) if tid is not None else None
        if tr is not None:
            color_ok += tr.color == o.color
            shape_ok += tr.shape == o.shape
        exp = expected_direction(spec, o.id)
        if exp is not None:
            motion_checked += 1
            motion_ok += tr is not None and tr.direction == exp
    count_ok = len(sig) == n
    camera_ok = analysis.camera.motion == spec.camera.motion

    # --- permanence ---
    unexplained = [u for u in analysis.unexplained() if u["track"] in sig_ids]

    # --- per-detection features of significant tracks ---
    feats: dict[int, list[tuple[int, object, np.ndarray]]] = {}
    for tr in sig:
        rows = []
        for f, i in zip(tr.frames, tr.detections):
            d = analysis.detections[f][i]
            hist = color_histogram(frames[f][analysis.labels[f] == d.index])
            rows.append((f, d, hist))
        feats[tr.id] = rows

    # --- consistency ---
    num = den = 0.0
    for rows in feats.values():
        rows = [r for r in rows if not r[1].at_edge]
        if len(rows) < 2:
            continue

        def sim(a, b):
            return 0.5 * bhattacharyya(a[2], b[2]) + 0.5 * bhattacharyya(_shape_vec(a[1]), _shape_vec(b[1]))

        s = float(np.mean([0.5 * (sim(rows[0], rows[i]) + sim(rows[i - 1], rows[i])) for i in range(1, len(rows))]))
        num += s * len(rows)
        den += len(rows)
    consistency = float(num / den) if den else None

    # --- smoothness ---
    scores = []
    for rows in feats.values():
        for a, b, c in zip(rows, rows[1:], rows[2:]):
            if c[0] - a[0] != 2 or a[1].at_edge or b[1].at_edge or c[1].at_edge:
                continue
            mid = (np.asarray(a[1].centroid) + np.asarray(c[1].centroid)) / 2
            e = float(np.hypot(*(np.asarray(b[1].centroid) - mid))) / math.sqrt(max(b[1].area, 1))
            scores.append(max(0.0, 1.0 - e))
    smoothness = float(np.mean(scores)) if scores else None
    smoothness_pixel = _pixel_smoothness(frames)

    # --- dynamic degree ---
    dynamic = analysis.camera.motion != "static" or any(t.direction != "still" or t.bounces for t in sig)

    # --- drift against frame 0 ---
    zoom = _zoom_log_scale(analysis)
    at = {tid: {r[0]: r for r in rows} for tid, rows in feats.items()}
    counts = np.zeros(T)
    for rows in at.values():
        for f in rows:
            counts[f] += 1
    d_color, d_size, d_count = [], [], []
    for k in range(1, T):
        cs, ss = [], []
        for rows in at.values():
            if 0 in rows and k in rows and not rows[0][1].at_edge and not rows[k][1].at_edge:
                cs.append(bhattacharyya(rows[0][2], rows[k][2]))
                a0 = rows[0][1].area
                ak = rows[k][1].area / math.exp(2 * zoom[k]) if abs(zoom[k]) < 5 else rows[k][1].area
                ss.append(min(a0, ak) / max(a0, ak, 1e-9))
        d_color.append(float(np.mean(cs)) if cs else float("nan"))
        d_size.append(float(np.mean(ss)) if ss else float("nan"))
        n0, nk = counts[0], counts[k]
        d_count.append(1.0 if n0 == nk == 0 else float(min(n0, nk) / max(n0, nk)))

    issues = [f"{i.kind}: {i.message}" for i in report.issues]
    return ClipMetrics(n_objects=n, color_ok=color_ok, shape_ok=shape_ok, motion_ok=motion_ok,
                       motion_checked=motion_checked, count_ok=count_ok, camera_ok=camera_ok,
                       permanent=not unexplained, dynamic=dynamic, consistency=consistency,
                       smoothness=smoothness, smoothness_pixel=smoothness_pixel, drift_color=d_color,
                       drift_size=d_size, drift_count=d_count, issues=issues, tracks=len(sig),
                       camera=analysis.camera.motion)


# ---------------------------------------------------------------------------------
# A suite
# ---------------------------------------------------------------------------------


def _ratio(a: float, b: float) -> float:
    return float(a / b) if b else 1.0


def alignment(clips: list[ClipMetrics]) -> dict:
    """Pooled text-alignment fractions (see the module docstring) and their mean."""
    objs = sum(c.n_objects for c in clips)
    out = {
        "color": _ratio(sum(c.color_ok for c in clips), objs),
        "shape": _ratio(sum(c.shape_ok for c in clips), objs),
        "count": _ratio(sum(c.count_ok for c in clips), len(clips)),
        "motion": _ratio(sum(c.motion_ok for c in clips), sum(c.motion_checked for c in clips)),
        "camera": _ratio(sum(c.camera_ok for c in clips), len(clips)),
    }
    out["overall"] = float(np.mean([out[k] for k in DIMENSIONS]))
    return {k: round(v, 4) for k, v in out.items()}


def _mean(xs) -> float | None:
    xs = [x for x in xs if x is not None]
    return round(float(np.mean(xs)), 4) if xs else None


def drift_curves(clips: list[ClipMetrics]) -> dict[str, list[float | None]]:
    """Mean agreement at each gap k over the clips that are that long (NaN-aware)."""
    K = max((len(c.drift_count) for c in clips), default=0)
    out = {}
    for dim in ("color", "size", "count"):
        curve = []
        for k in range(K):
            vals = [getattr(c, f"drift_{dim}")[k] for c in clips if len(c.drift_count) > k]
            vals = [v for v in vals if not math.isnan(v)]
            curve.append(round(float(np.mean(vals)), 4) if vals else None)
        out[dim] = curve
    return out


def summarize(clips: list[ClipMetrics], reference: list[ClipMetrics] | None = None, fps: float = 8.0) -> dict:
    """The suite's numbers; `reference` = the simulator's clips of the same prompts (for drift)."""
    curves = drift_curves(clips)
    ref_curves = drift_curves(reference) if reference else curves
    drift = {"gaps_s": [round((k + 1) / fps, 4) for k in range(len(curves["count"]))]}
    dim_scores = {}
    for dim in ("color", "size", "count"):
        pairs = [(a, b) for a, b in zip(curves[dim], ref_curves[dim]) if a is not None and b is not None]
        num, den = sum(a for a, _ in pairs), sum(b for _, b in pairs)
        dim_scores[dim] = round(min(1.0, num / den), 4) if den else None
        drift[dim] = curves[dim]
        drift[f"{dim}_simulator"] = ref_curves[dim]
        last = [v for v in curves[dim] if v is not None]
        drift[f"{dim}_at_end"] = last[-1] if last else None
    drift["scores"] = dim_scores
    vals = [v for v in dim_scores.values() if v is not None]
    drift["score"] = round(float(np.mean(vals)), 4) if vals else None
    return {
        "alignment": alignment(clips),
        "permanence": round(_ratio(sum(c.permanent for c in clips), len(clips)), 4),
        "consistency": _mean(c.consistency for c in clips),
        "smoothness": _mean(c.smoothness for c in clips),
        "smoothness_pixel": _mean(c.smoothness_pixel for c in clips),
        "dynamic_degree": round(_ratio(sum(c.dynamic for c in clips), len(clips)), 4),
        "readable": round(_ratio(sum(c.readable for c in clips), len(clips)), 4),
        "drift": drift,
    }
