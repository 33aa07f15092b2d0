"""Measure the analyzer against the simulator's ground truth on held-out clips.

    kinora world validate --n 200                 # the table
    kinora world validate --n 200 --json          # one JSON object
    kinora world validate --n 200 --size 128      # at 128x128

Clip i is `random_spec(HELDOUT_SEED_BASE + seed + i)` with 1 to 4 objects, rendered with
`isolated=True` so that every object's occlusion is known; `validate(h264_crf=23)` also
sends every clip through an H.264 MP4 and back, as a user's file would be. The
analyzer's shape classifier is fitted on seeds from 5_000_000 (scripts/fit_shapes.py)
and the world's datasets start at 0, so these clips are never training clips; the
analyzer's hand-set thresholds were tuned on clips from seeds 20_000_000 on.

In every frame an object is *clean* (visible, unoccluded) when it has at least
CLEAN_MIN_AREA pixels (at 64x64; scaled with the frame area), occlusion < 0.1 (its
visible area is over 90 % of its area rendered alone) and its box does not touch the
frame border. A clean object is *matched* to the detection that covers most of its
ground-truth pixels, if that covers at least half of them. The metrics:

* detection_recall: matched / clean object-frames.
* color_accuracy: matched object-frames whose detected colour is the object's colour,
  over matched object-frames.
* shape_accuracy: the same for the analyzer's shape, which is the consensus of the
  object's track (what the analyzer reports); shape_accuracy_frame for the
  single-frame classifier alone.
* centroid_error_px: mean distance between the detection's centroid and the ground
  truth centroid (mean of the object's pixel centres), over matched object-frames.
* count_accuracy: over frames where every object in view is clean (none partly hidden
  or cut by the border; count_frames says how many frames that leaves), the fraction
  where the number of detections equals the number of clean objects.
* track_count_accuracy: clips where the number of tracks seen in at least 3 frames
  equals the number of objects visible (>= CLEAN_MIN_AREA) in at least 3 frames.
* direction_accuracy: objects whose ground-truth motion is clear-cut, over the frames
  it is visible, in the axes of the camera at the middle of those frames: still when
  it moves < 0.05 m; else the dominant of right/left (weight 1), away/toward (weight
  sin(elevation) = 0.5: depth is foreshortened) and down/up (weight cos(elevation)),
  kept when the dominant is 1.5x the runner-up and the move is > 0.15 m. Compared
  with the direction of the object's track (the track with most of its matches).
* camera_accuracy: clips whose camera move is the spec's.
* bounce_recall: objects with a visible bounce (a ground-truth bounce after which the
  object rises >= 0.1 m in the sampled frames) whose track reports >= 1 bounce;
  bounce_false_rate: objects with no ground-truth bounce whose track reports one.
* stop_recall: objects with a visible ground-truth stop (it had moved >= 0.15 m by then
  and stays in view to the end) whose track's stop frame is within 2 frames of it;
  stop_frame_error: mean |error| where found; stop_false_rate: objects with no
  ground-truth stop event at all whose track reports one.
* permanence_false_rate: clips (where nothing ever vanishes without cause) in which the
  analyzer reports an unexplained appearance or vanishing of a track seen in at least
  two frames.
* spec_pass_rate: clips whose analysis passes `compare` with their own spec. A spec
  says what is meant (a slide to the left); physics can disagree (rubber barely slides,
  a cube bounces sideways), so this is a lower bound on the verifier's acceptance of
  correct videos.
* seconds_per_clip: mean analysis time (not counting the simulation).
"""

from __future__ import annotations

import math
import os
import sys
import time

import numpy as np

from kinora.defaults import HELDOUT_SEED_BASE
from kinora.errors import KinoraError
from kinora.world.dataset import worker_pool

CLEAN_MIN_AREA = 8  # pixels at 64x64
OCCLUSION_MAX = 0.1
MAX_OBJECTS = 4

TARGETS = {"color_accuracy": (">=", 0.98), "count_accuracy": (">=", 0.97), "shape_accuracy": (">=", 0.90),
           "centroid_error_px": ("<=", 1.5)}

# Counters summed over clips: name -> (numerator key, denominator key).
RATIOS = {
    "detection_recall": ("matched", "clean"),
    "color_accuracy": ("color_ok", "matched"),
    "shape_accuracy": ("shape_ok", "matched"),
    "shape_accuracy_frame": ("shape_frame_ok", "matched"),
    "centroid_error_px": ("centroid_err_sum", "matched"),
    "count_accuracy": ("count_ok", "count_frames"),
    "track_count_accuracy": ("track_count_ok", "clips"),
    "direction_accuracy": ("dir_ok", "dir_n"),
    "camera_accuracy": ("camera_ok", "clips"),
    "bounce_recall": ("bounce_found", "bounce_n"),
    "bounce_false_rate": ("bounce_false", "nobounce_n"),
    "stop_recall": ("stop_found", "stop_n"),
    "stop_frame_error": ("stop_err_sum", "stop_found"),
    "stop_false_rate": ("stop_false", "nostop_n"),
    "permanence_false_rate": ("permanence_false", "clips"),
    "spec_pass_rate": ("spec_pass", "clips"),
    "seconds_per_clip": ("seconds", "clips"),
}


def _truth_direction(truth_frames: list[dict], j: int, frames: list[int]) -> str | None:
    """Clear-cut ground-truth direction of object j over `frames`, or None (see module doc)."""
    p0 = np.array(truth_frames[frames[0]]["objects"][j]["position"])
    p1 = np.array(truth_frames[frames[-1]]["objects"][j]["position"])
    cam = truth_frames[frames[len(frames) // 2]]["camera"]
    eye, target = np.array(cam["eye"]), np.array(cam["target"])
    fwd = target - eye
    el = math.atan2(-fwd[2], math.hypot(fwd[0], fwd[1]))
    fh = np.array([fwd[0], fwd[1], 0.0]) / math.hypot(fwd[0], fwd[1])
    right = np.array([fh[1], -fh[0], 0.0])
    d = p1 - p0
    if np.linalg.norm(d) < 0.05:
        return "still"
    if np.linalg.norm(d) < 0.15:
        return None
    lat, dep, up = d @ right, (d @ fh) * math.sin(el), d[2] * math.cos(el)  # as the screen shows them
    comps = {"right": lat, "left": -lat, "away": dep, "toward": -dep, "up": up, "down": -up}
    ranked = sorted(comps.items(), key=lambda kv: -kv[1])
    top, second = ranked[0], max(abs(v) for k, v in ranked[1:] if k != _OPPOSITE[ranked[0][0]])
    return top[0] if top[1] >= 1.5 * second else None


_OPPOSITE = {"right": "left", "left": "right", "away": "toward", "toward": "away", "up": "down", "down": "up"}


def evaluate_clip(seed: int, width: int = 64, height: int = 64, max_objects: int = MAX_OBJECTS,
                  h264_crf: int | None = None) -> dict:
    """Simulate one held-out clip, analyse it and count agreements with ground truth.
    With h264_crf the frames go through an H.264 MP4 at that quality and back first."""
    from kinora.verify.analyzer import analyze
    from kinora.verify.compare import compare, significant_tracks
    from kinora.world.sim import simulate
    from kinora.world.spec import SpecDistribution, random_spec

    c: dict[str, float] = {k: 0.0 for pair in RATIOS.values() for k in pair}
    try:
        spec = random_spec(seed, SpecDistribution(max_objects=max_objects, width=width, height=height))
    except KinoraError:
        c["skipped"] = 1
        return c
    clip = simulate(spec, isolated=True)
    frames = clip.frames
    if h264_crf is not None:
        from kinora.verify.fit_shapes import h264_roundtrip

        frames = h264_roundtrip(frames, spec.fps, crf=h264_crf)
    t0 = time.perf_counter()
    a = analyze(frames, spec.fps)
    c["seconds"] = time.perf_counter() - t0
    c["clips"] = 1
    T, H, W = clip.seg.shape
    min_area = CLEAN_MIN_AREA * (H * W) / (64 * 64)
    tf = clip.truth["frames"]
    n_obj = len(spec.objects)
    votes = np.zeros((n_obj, len(a.tracks) + 1), int)  # object -> track matches
    seen = np.zeros(n_obj, int)
    for f in range(T):
        objs = tf[f]["objects"]
        dets = a.detections[f]
        # overlap[k, j]: pixels of detection k on object j
        overlap = np.zeros((len(dets), n_obj), int)
        lab, seg = a.labels[f], clip.seg[f]
        both = (lab >= 0) & (seg >= 0)
        if both.any():
            np.add.at(overlap, (lab[both], seg[both]), 1)
        countable, n_clean = True, 0
        for j, o in enumerate(objs):
            if o["area"] >= min_area:
                seen[j] += 1
            if o["area"] == 0:
                continue
            x0, y0, x1, y1 = o["bbox"]
            clean = (o["area"] >= min_area and o["occlusion"] < OCCLUSION_MAX
                     and x0 > 0 and y0 > 0 and x1 < W and y1 < H)
            if not clean:
                countable = False
                continue
            n_clean += 1
            c["clean"] += 1
            if not len(dets):
                continue
            k = int(overlap[:, j].argmax())
            if overlap[k, j] < 0.5 * o["area"]:
                continue
            d = dets[k]
            c["matched"] += 1
            c["color_ok"] += d.color == spec.objects[j].color
            c["shape_ok"] += d.shape == spec.objects[j].shape
            c["shape_frame_ok"] += max(d.shape_probs, key=d.shape_probs.get) == spec.objects[j].shape
            c["centroid_err_sum"] += math.hypot(d.centroid[0] - o["centroid"][0], d.centroid[1] - o["centroid"][1])
            votes[j, d.track if d.track >= 0 else -1] += 1
        if countable:
            c["count_frames"] += 1
            c["count_ok"] += len(dets) == n_clean
    c["track_count_ok"] = float(len(significant_tracks(a)) == int((seen >= min(3, T)).sum()))
    c["camera_ok"] = float(a.camera.motion == spec.camera.motion)
    c["spec_pass"] = float(compare(a, spec).passed)
    c["permanence_false"] = float(bool([u for u in a.unexplained()]))
    by_id = {t.id: t for t in a.tracks}
    for j, o in enumerate(spec.objects):
        if votes[j, :-1].sum() == 0:
            continue
        tr = by_id[int(votes[j, :-1].argmax())]
        vis = [f for f in range(T) if tf[f]["objects"][j]["area"] >= min_area]
        if len(vis) >= 2:
            want = _truth_direction(tf, j, vis)
            if want is not None:
                c["dir_n"] += 1
                c["dir_ok"] += tr.direction == want
        z = np.array([tf[f]["objects"][j]["position"][2] for f in range(T)])
        evs = [e for e in clip.truth["events"] if e.get("object") == o.id]
        bounces = [e["frame"] for e in evs if e["type"] == "bounce"]
        visible_bounce = any(z[b + 1:b + 5].max(initial=-1e9) - z[max(0, b - 1):b + 2].min() >= 0.1 for b in bounces)
        if visible_bounce:
            c["bounce_n"] += 1
            c["bounce_found"] += bool(tr.bounces)
        elif not bounces:
            c["nobounce_n"] += 1
            c["bounce_false"] += bool(tr.bounces)
        # A visible stop: it had moved >= 0.15 m when it stopped, and stays in view from then on.
        stops = [e["frame"] for e in evs if e["type"] == "stop"]
        p = np.array([tf[f]["objects"][j]["position"] for f in range(T)])
        stops = [fs for fs in stops if np.linalg.norm(p[:fs + 1] - p[fs], axis=1).max() >= 0.15
                 and all(tf[f]["objects"][j]["area"] >= min_area for f in range(fs, T))]
        if stops:
            c["stop_n"] += 1
            if tr.stop_frame is not None and abs(tr.stop_frame - stops[-1]) <= 2:
                c["stop_found"] += 1
                c["stop_err_sum"] += abs(tr.stop_frame - stops[-1])
        else:
            c["nostop_n"] += 1
            c["stop_false"] += tr.stop_frame is not None
    return c


def _evaluate(args: tuple) -> dict:
    return evaluate_clip(*args)


def validate(n: int = 200, seed: int = 0, workers: int | None = None, size: tuple[int, int] = (64, 64),
             max_objects: int = MAX_OBJECTS, h264_crf: int | None = None, progress: bool = True) -> dict:
    """Run the analyzer on n held-out clips; return every metric (see the module doc)."""
    if n < 1:
        raise KinoraError(f"--n must be at least 1, got {n}")
    if seed < 0:
        raise KinoraError(f"--seed must be >= 0 (an offset into the held-out seeds), got {seed}")
    w, h = (size, size) if isinstance(size, int) else size
    workers = max(1, min(workers or os.cpu_count() or 1, n))
    jobs = [(HELDOUT_SEED_BASE + seed + i, w, h, max_objects, h264_crf) for i in range(n)]
    total: dict[str, float] = {}
    t0 = time.time()
    from tqdm import tqdm

    with worker_pool(workers) as pool:
        results = pool.imap_unordered(_evaluate, jobs, chunksize=2) if pool else map(_evaluate, jobs)
        for c in tqdm(results, total=n, desc="validate", unit="clip", disable=not progress, file=sys.stderr):
            for k, v in c.items():
                total[k] = total.get(k, 0.0) + v
    out: dict[str, float | int | str | None] = {}
    for name, (num, den) in RATIOS.items():
        d = total.get(den, 0.0)
        out[name] = round(total.get(num, 0.0) / d, 4) if d else None
    out.update(n_clips=int(total.get("clips", 0)), skipped=int(total.get("skipped", 0)), width=w, height=h,
               seed0=HELDOUT_SEED_BASE + seed, max_objects=max_objects, h264_crf=h264_crf,
               object_frames=int(total.get("clean", 0)), count_frames=int(total.get("count_frames", 0)),
               direction_objects=int(total.get("dir_n", 0)), bounce_objects=int(total.get("bounce_n", 0)),
               stop_objects=int(total.get("stop_n", 0)), wall_seconds=round(time.time() - t0, 1))
    return out


def format_table(m: dict) -> str:
    """The metrics (what `validate` returns) as an aligned text table, with the targets.

    Each target is marked "ok" or "MISS"; missing one is a measurement, not an error."""
    codec = f", through H.264 crf {m['h264_crf']}" if m.get("h264_crf") is not None else ""
    lines = [f"analyzer vs ground truth: {m['n_clips']} held-out clips at {m['width']}x{m['height']}{codec} "
             f"(seeds from {m['seed0']}, 1-{m['max_objects']} objects), {m['wall_seconds']} s",
             f"{'metric':<24}{'value':>10}  {'target':<16}{'over'}"]
    over = {"detection_recall": "object_frames", "color_accuracy": "object_frames", "shape_accuracy": "object_frames",
            "shape_accuracy_frame": "object_frames", "centroid_error_px": "object_frames",
            "count_accuracy": "count_frames", "direction_accuracy": "direction_objects",
            "bounce_recall": "bounce_objects", "stop_recall": "stop_objects"}
    for name in RATIOS:
        v = m[name]
        plain = name in ("centroid_error_px", "stop_frame_error", "seconds_per_clip")
        val = "n/a" if v is None else (f"{v:.3f}" if plain else f"{100 * v:.1f} %")
        tgt = ""
        if name in TARGETS:
            op, x = TARGETS[name]
            ok = v is not None and (v >= x if op == ">=" else v <= x)
            tgt = f"{op} {x if name == 'centroid_error_px' else f'{100 * x:.0f} %'}" + (" ok" if ok else " MISS")
        n = f"{m[over[name]]} {over[name].replace('_', ' ')}" if name in over else (
            "clips" if name in ("track_count_accuracy", "camera_accuracy", "permanence_false_rate", "spec_pass_rate",
                                "seconds_per_clip") else "")
        lines.append(f"{name:<24}{val:>10}  {tgt:<16}{n}")
    return "\n".join(lines)
