"""Physics, Physics-IQ-style: continue the simulator's first frames, compare with its future.

Physics-IQ (Motamed et al., 2025) films real experiments, gives a model the first
seconds and scores its continuation against the filmed one, normalised by how much two
real takes of the same experiment differ. Here the experiment is a suite case whose
camera is static and in which something moves (a fall, a roll, a slide, a push, a
topple); the take is the simulator's clip of it:

1. truth: the simulator's clip (T frames); the model gets its first C frames
   (`CONTEXT_FRAMES` = 5, 0.6 s at 8 fps: latent frames 0 and 1) and the prompt, and
   returns T frames (`Backend.continue_video`).
2. second take: the simulator again, with every object moved by N(0, 2 mm) on the floor
   and its velocities scaled by 1 + N(0, 1 %) (seeded by the case). Its agreement with
   the truth is the physical variance: what "as good as the simulator" means.
3. For each clip, A_t = object pixels (the analyzer's detections, `Analysis.labels >= 0`)
   and the motion mask M_t = A_t XOR A_{t-1} (pixels an object entered or left), over
   the continuation t = C .. T-1. Then, candidate against truth:
   spatial IoU: IoU of the 2D maps OR_t M_t (where motion happened at all);
   spatiotemporal IoU: IoU of the (t, y, x) volumes M (where and when);
   mask MSE: mean of (A_t - A'_t)^2 over the continuation (share of pixels where the
     object masks disagree);
   trajectory error: for each colour in the truth (objects have distinct colours), the
     distance between the centroids of that colour's largest detection in the two clips
     in each frame, pixels of a 64-high frame; a frame where only one clip shows the
     object costs MISS_PX.
   An IoU of two empty masks is 1 (nothing moved and nothing was expected to).
4. Suite scores, each capped at 1 (100 % = the simulator against itself):
   IoU metrics mean(candidate) / mean(second take); error metrics
   (mean(second take) + eps) / (mean(candidate) + eps), eps = MSE_EPS or TRAJ_EPS_PX,
   the smallest differences worth telling apart. physics.score = their mean.
   `frozen` gives the same scores for the trivial continuation that repeats the last
   context frame: the floor a model must rise above.
"""

from __future__ import annotations

import random

import numpy as np

from kinora.eval.suite import Case
from kinora.verify.analyzer import Analysis
from kinora.world.spec import ShotSpec

CONTEXT_FRAMES = 5
POS_JITTER_M = 0.002
VEL_JITTER = 0.01
MISS_PX = 16.0
MSE_EPS = 0.002
TRAJ_EPS_PX = 0.5
METRICS = ("spatial_iou", "spatiotemporal_iou", "mask_mse", "trajectory_error_px")


def is_physics_case(case: Case) -> bool:
    """A static camera and at least one object that moves by itself."""
    return case.spec.camera.motion == "static" and any(o.motion != "still" for o in case.spec.objects)


def perturbed(spec: ShotSpec, seed: int) -> ShotSpec:
    """The same experiment, set up again by a careful hand: tiny offsets and speed errors."""
    rng = random.Random(seed * 7 + 3)
    s = spec.copy()
    for o in s.objects:
        o.position = [o.position[0] + rng.gauss(0, POS_JITTER_M), o.position[1] + rng.gauss(0, POS_JITTER_M),
                      o.position[2]]
        k = 1.0 + rng.gauss(0, VEL_JITTER)
        o.velocity = [v * k for v in o.velocity]
        o.angular_velocity = [v * k for v in o.angular_velocity]
    return s


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return 1.0 if union == 0 else float(np.logical_and(a, b).sum() / union)


def _largest(analysis: Analysis, f: int) -> dict[str, tuple[float, float]]:
    out: dict[str, tuple[int, tuple[float, float]]] = {}
    for d in analysis.detections[f]:
        if d.color not in out or d.area > out[d.color][0]:
            out[d.color] = (d.area, d.centroid)
    return {c: v[1] for c, v in out.items()}


def compare_continuations(cand: Analysis, truth: Analysis, context: int, colors: list[str]) -> dict:
    """The four Physics-IQ-style measures of one continuation against the truth."""
    T = min(cand.num_frames, truth.num_frames)
    A = cand.labels[:T] >= 0  # (T, H, W)
    B = truth.labels[:T] >= 0
    c0 = max(1, context)
    MA = A[c0:] ^ A[c0 - 1:-1]  # (T - c0, H, W) motion masks
    MB = B[c0:] ^ B[c0 - 1:-1]
    px = 64.0 / truth.height
    errs = []
    for f in range(c0, T):
        ca, cb = _largest(cand, f), _largest(truth, f)
        for col in colors:
            if col in ca and col in cb:
                errs.append(float(np.hypot(ca[col][0] - cb[col][0], ca[col][1] - cb[col][1])) * px)
            elif col in ca or col in cb:
                errs.append(MISS_PX)
    return {
        "spatial_iou": _iou(MA.any(0), MB.any(0)),
        "spatiotemporal_iou": _iou(MA, MB),
        "mask_mse": float((A[c0:] != B[c0:]).mean()) if T > c0 else 0.0,
        "trajectory_error_px": float(np.mean(errs)) if errs else 0.0,
    }


def physics_case(backend, case: Case, truth_frames: np.ndarray, truth_analysis: Analysis,
                 context: int = CONTEXT_FRAMES) -> dict:
    """Candidate, second take and frozen continuation of one case, each against the truth."""
    from kinora.eval.metrics import analyze_clip
    from kinora.world.sim import simulate

    T = len(truth_frames)
    ctx = truth_frames[:context]
    colors = sorted({o.color for o in case.spec.objects})
    fps = case.spec.fps
    cand = backend.continue_video(case, ctx, T, case.seed)
    take2 = simulate(perturbed(case.spec, case.seed)).frames
    frozen = np.concatenate([ctx, np.repeat(ctx[-1:], T - context, 0)])
    out = {"id": case.id}
    for name, frames in (("candidate", cand), ("reference", take2), ("frozen", frozen)):
        a, _ = analyze_clip(frames, fps)  # noise reads as no object at all
        out[name] = {k: round(v, 5) for k, v in compare_continuations(a, truth_analysis, context, colors).items()}
    return out


def summarize_physics(results: list[dict], context: int = CONTEXT_FRAMES) -> dict:
    """Suite scores (module docstring, step 4) for the candidate and the frozen baseline."""
    if not results:
        return {"score": None, "cases": 0, "context_frames": context,
                "note": "no case with a static camera and a moving object"}

    def mean(who, k):
        return float(np.mean([r[who][k] for r in results]))

    def scores(who):
        s = {}
        for k in ("spatial_iou", "spatiotemporal_iou"):
            ref = mean("reference", k)
            s[k] = min(1.0, mean(who, k) / ref) if ref > 0 else 1.0
        s["mask_mse"] = min(1.0, (mean("reference", "mask_mse") + MSE_EPS) / (mean(who, "mask_mse") + MSE_EPS))
        s["trajectory_error_px"] = min(1.0, (mean("reference", "trajectory_error_px") + TRAJ_EPS_PX)
                                       / (mean(who, "trajectory_error_px") + TRAJ_EPS_PX))
        return {k: round(v, 4) for k, v in s.items()}

    cand, frozen = scores("candidate"), scores("frozen")
    return {
        "score": round(float(np.mean(list(cand.values()))), 4),
        "metrics": cand,
        "raw": {who: {k: round(mean(who, k), 5) for k in METRICS} for who in ("candidate", "reference", "frozen")},
        "frozen_score": round(float(np.mean(list(frozen.values()))), 4),
        "frozen_metrics": frozen,
        "cases": len(results),
        "context_frames": context,
    }
