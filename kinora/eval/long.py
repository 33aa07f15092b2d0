"""Shots that hold for a minute: drift over 60 s, free and guided, against the simulator.

Long-video work (FramePack, StreamingT2V, the "drift" measures of VBench-Long) reports how
much a clip's look wanders from its start and the drop from the first chunk to the last.
Here the shot is a paragraph of events in sequence (English and Chinese, `PARAGRAPHS`),
read by the reader; its events are spread evenly over the minute (`spread_events`: the
k-th of n stages starts at k * seconds / n), so something new happens every ten seconds
or so and everything that has happened must stay as it was. Each shot is made three ways:

    simulator   the micro-world's own clip of the spec: the reference
    free        the shipped model from the caption alone, window after window
    guided      the same model with the simulator in the loop (physics=True)

and measured with `kinora.eval.metrics.clip_metrics`' drift curves (frame t against frame 0:
colour histogram similarity, size ratio and count ratio of the objects the analyzer
tracks), averaged per 5 s chunk. A generator holds the shot when, in every chunk, its
constancy is within 2 points of the simulator's own (objects that roll out of view or
are hidden lower the simulator's too). `first_last_drop` is chunk 0 minus the last chunk.

    from kinora.eval.long import LongSettings, run_long
    summary = run_long(LongSettings(n=2, seconds=20)).summary
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kinora.errors import KinoraError

PARAGRAPHS = [
    ("long-en-1", "A red ball rolls to the left, then a blue cube slides to the right, then a green cylinder falls, "
                  "then a yellow ball rolls forward, then a purple cube falls. The camera is static."),
    ("long-zh-1", "一个红色的球向左滚动，然后一个蓝色的方块向右滑动，"
                  "然后一个绿色的圆柱掉下来，最后一个黄色的球向前滚动。"),
    ("long-en-2", "One after another: a large cyan ball falls, a small red cube slides left, a yellow cylinder "
                  "rolls right, and a blue ball bounces."),
    ("long-zh-2", "桌面上放着一个黄色的方块。一个红色的球向右滚动撞到它。"
                  "然后一个蓝色的大球掉下来，然后一个紫色的圆柱向左滑动。"),
    ("long-en-3", "A small green cube sits still. A red ball rolls right and hits it. Then a large blue ball falls. "
                  "Then a yellow cylinder slides left. The camera slowly orbits left."),
    ("long-zh-3", "先是一个大的紫色球掉下来，接着一个小的青色方块向左滑，"
                  "然后一个红色圆柱向右滚，最后一个蓝色方块掉下来。"),
]
DIMENSIONS = ("color", "size", "count")
MODES = ("simulator", "free", "guided")
CHUNK_S = 5.0
TOLERANCE = 2.0  # percentage points from the simulator's own constancy, in every chunk


@dataclass
class LongSettings:
    seconds: float = 60.0
    n: int | None = None  # the first N paragraphs (default all)
    model: str | None = None
    steps: int | None = None
    precision: str = "auto"
    threads: int = 1
    seed: int = 0
    out: str | None = None  # folder for long.json (default out/eval/long)


def spread_events(spec, seconds: float):
    """The spec lasting `seconds`, its n distinct start times moved to k * seconds / n."""

    s = spec.copy()
    s.duration = seconds
    starts = sorted({o.start for o in s.objects})
    at = {t: k * seconds / len(starts) for k, t in enumerate(starts)}
    for o in s.objects:
        o.start = at[o.start]
    return s


def chunk_means(curve: list[float], fps: float, chunk_s: float = CHUNK_S) -> list[float | None]:
    """A per-frame curve for frames 1..T-1 (frame 0 is the reference) -> its mean per chunk, in %."""
    per = [np.nan] + list(curve)  # frame 0 against itself is not a measurement
    size = int(round(chunk_s * fps))
    out = []
    for i in range(0, len(per), size):
        vals = [v for v in per[i:i + size] if not math.isnan(v)]
        out.append(round(100 * float(np.mean(vals)), 2) if vals else None)
    return out


def shot_curves(frames: np.ndarray, spec) -> dict[str, list[float | None]]:
    """The 5 s chunk means of one clip's colour, size and count drift curves."""
    from kinora.eval.metrics import analyze_clip, clip_metrics

    analysis, unreadable = analyze_clip(frames, spec.fps)
    m = clip_metrics(frames, spec, analysis, unreadable)
    return {"color": chunk_means(m.drift_color, spec.fps), "size": chunk_means(m.drift_size, spec.fps),
            "count": chunk_means(m.drift_count, spec.fps)}


@dataclass
class LongRun:
    summary: dict
    report: str
    folder: Path


def run_long(s: LongSettings, progress: bool = True) -> LongRun:
    """Make every paragraph's minute three ways, measure, write long.json; see the module docstring."""
    import torch

    from kinora.io.atomic import check_writable, write_json_atomic, write_text_atomic
    from kinora.pipelines.kinora import KinoraPipeline
    from kinora.pipelines.physics import fit_spec
    from kinora.plan.parse import parse
    from kinora.world.sim import simulate
    from kinora.world.spec import resolve

    if not (math.isfinite(s.seconds) and 2 * CHUNK_S <= s.seconds <= 120):
        raise KinoraError(f"--seconds {s.seconds:g} is out of range for the long-shot eval; use 10 to 120")
    if s.n is not None and s.n < 1:
        raise KinoraError(f"--n must be at least 1, got {s.n}")
    if s.threads < 1:
        raise KinoraError(f"--threads must be at least 1, got {s.threads}")
    if s.steps is not None and s.steps < 1:
        raise KinoraError(f"--steps must be at least 1, got {s.steps}")
    out = Path(s.out or "out/eval/long")
    check_writable(out / "long.json")
    torch.set_num_threads(s.threads)
    pipe = KinoraPipeline.from_pretrained(s.model, precision=s.precision)
    if not pipe.has_physics:
        from kinora.models.dit import NO_SIGNAL

        raise KinoraError(f"{pipe.model_name} {NO_SIGNAL} (the long-shot eval compares free and guided)")
    fps, size = pipe.default_fps, pipe.default_height
    shots = []
    for sid, text in PARAGRAPHS[: s.n]:
        t0 = time.perf_counter()
        spec = spread_events(parse(text, duration=s.seconds, fps=fps, width=size, height=size).spec, s.seconds)
        T = spec.num_frames
        truth = resolve(fit_spec(spec, fps, size, size, T))  # what guided generation simulates too
        clips = {"simulator": simulate(truth).frames}
        times = {}
        for mode in ("free", "guided"):
            t = time.perf_counter()
            clips[mode] = pipe("", spec=spec, num_frames=T, height=size, width=size, num_inference_steps=s.steps,
                               generator=torch.Generator().manual_seed(s.seed), physics=mode == "guided").frames[0]
            times[mode] = round(time.perf_counter() - t, 2)
        curves = {mode: shot_curves(frames, truth) for mode, frames in clips.items()}
        shots.append({"id": sid, "text": text, "frames": T, "objects": len(spec.objects), "curves": curves,
                      "generation_s": times, "wall_s": round(time.perf_counter() - t0, 2)})
        if progress:
            print(f"{sid}: {T} frames, free {times['free']} s, guided {times['guided']} s", flush=True)
    summary = summarize_long(shots, s)
    out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out / "long.json", summary)
    report = long_markdown(summary)
    write_text_atomic(out / "report.md", report + "\n")
    return LongRun(summary=summary, report=report, folder=out)


def _mean_chunks(rows: list[list[float | None]]) -> list[float | None]:
    n = max(len(r) for r in rows)
    out = []
    for i in range(n):
        vals = [r[i] for r in rows if i < len(r) and r[i] is not None]
        out.append(round(float(np.mean(vals)), 2) if vals else None)
    return out


def summarize_long(shots: list[dict], s: LongSettings) -> dict:
    """Per mode and dimension: the chunk curve averaged over the shots, its first-last drop,
    and for free and guided the largest gap to the simulator's curve in any chunk."""
    modes = {}
    for mode in MODES:
        dims = {}
        for dim in DIMENSIONS:
            curve = _mean_chunks([sh["curves"][mode][dim] for sh in shots])
            valid = [v for v in curve if v is not None]
            dims[dim] = {"chunks": curve, "first_last_drop": round(valid[0] - valid[-1], 2) if valid else None}
        modes[mode] = dims
    for mode in ("free", "guided"):
        for dim in DIMENSIONS:
            sim, gen = modes["simulator"][dim]["chunks"], modes[mode][dim]["chunks"]
            # A chunk where the simulator measures something and the generator nothing (every
            # object lost) is the whole of the simulator's value away, not a chunk to skip.
            gaps = [abs(a - (b if b is not None else 0.0)) for a, b in zip(sim, gen) if a is not None]
            d = modes[mode][dim]
            d["max_gap_to_simulator"] = round(max(gaps), 2) if gaps else None
            d["within_tolerance"] = bool(gaps) and max(gaps) <= TOLERANCE
    return {"seconds": s.seconds, "chunk_s": CHUNK_S, "tolerance_points": TOLERANCE, "shots": shots,
            "modes": modes, "seed": s.seed, "steps": s.steps}


def long_markdown(summary: dict) -> str:
    m = summary["modes"]
    lines = [f"### Long shots ({len(summary['shots'])} paragraphs, {summary['seconds']:g} s each)", "",
             "Constancy of frame t against frame 0 (%), mean per 5 s chunk; the gap is the largest distance to "
             f"the simulator's own clip in any chunk (target <= {summary['tolerance_points']:g} points).", "",
             "| dimension | mode | chunk 1 | last chunk | first-last drop | largest gap to simulator |",
             "|---|---|---|---|---|---|"]
    for dim in DIMENSIONS:
        for mode in MODES:
            d = m[mode][dim]
            vals = [v for v in d["chunks"] if v is not None]
            gap = d.get("max_gap_to_simulator")
            lines.append(f"| {dim} | {mode} | {vals[0] if vals else '-'} | {vals[-1] if vals else '-'} | "
                         f"{d['first_last_drop']} | {'' if mode == 'simulator' else gap} |")
    return "\n".join(lines)
