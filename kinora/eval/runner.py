"""`evaluate()`: a prompt suite through a generator, every clip measured, one summary.

For each case (kinora.eval.suite) the runner
1. renders the simulator's clip of the case's spec (the truth) and analyses it;
2. asks the backend for the clip (text to video, the case's seed) and analyses it;
3. measures both against the spec (kinora.eval.metrics) - the simulator's numbers go
   into `simulator`, the reference every dimension is read against;
4. for the first `physics_n` cases with a static camera and a mover, asks the backend
   to continue the truth's first frames and scores that (kinora.eval.physics).
Everything is seeded (torch and the cases' seeds), so a run is reproducible.

`overall` is the mean of alignment.overall, permanence, physics.score, consistency,
smoothness and drift.score (those that exist); dynamic_degree is not in it, since more
motion is not better: it should be near the simulator's value.
"""

from __future__ import annotations

import platform
import time
from dataclasses import dataclass, field

import numpy as np

from kinora.eval.backends import Backend, simulate_case
from kinora.eval.metrics import DIMENSIONS, ClipMetrics, alignment, analyze_clip, clip_metrics, summarize
from kinora.eval.physics import CONTEXT_FRAMES, is_physics_case, physics_case, summarize_physics
from kinora.eval.suite import Case

# ROADMAP.md targets (shipped model, held-out prompts).
TARGETS = {"color": 0.90, "shape": 0.80, "count": 0.90, "motion": 0.75, "permanence": 0.90}
QUICK = {"n": 12, "physics_n": 4}
SAMPLES = 4  # clips kept for the report's contact sheet


@dataclass
class EvalResult:
    summary: dict
    samples: list[dict] = field(default_factory=list)  # {"id", "prompt", "frames", "truth"}


def evaluate(backend: Backend, cases: list[Case], physics_n: int | None = None, context: int = CONTEXT_FRAMES,
             progress: bool = True, num_frames: int | None = None) -> EvalResult:
    """Run `cases` through `backend`; see the module docstring. num_frames overrides the
    cases' length (long-horizon drift)."""
    import torch
    from tqdm import tqdm

    from kinora.plan.parse import parse

    torch.manual_seed(0)
    t0 = time.perf_counter()
    gen_s = 0.0
    clips: list[ClipMetrics] = []
    truths: list[ClipMetrics] = []
    per_lang: dict[str, list[ClipMetrics]] = {}
    planned = 0
    records, samples, phys = [], [], []
    phys_cases = [c for c in cases if is_physics_case(c)]
    phys_ids = {c.id for c in (phys_cases if physics_n is None else phys_cases[:physics_n])}
    bar = tqdm(cases, desc=f"eval {backend.name}", unit="prompt", disable=None if progress else True)
    for case in bar:
        T = num_frames or case.spec.num_frames
        truth = simulate_case(case, T)
        spec = truth.spec
        t_analysis, why = analyze_clip(truth.frames, spec.fps)
        ref = clip_metrics(truth.frames, spec, t_analysis, why)
        tg = time.perf_counter()
        frames = backend.generate(case, T, case.seed)
        gen_s += time.perf_counter() - tg
        m = ref if backend.name == "simulator" else clip_metrics(frames, spec, *analyze_clip(frames, spec.fps))
        clips.append(m)
        truths.append(ref)
        per_lang.setdefault(case.language, []).append(m)
        ok_plan = parse(case.prompt).canonical == case.canonical
        planned += ok_plan
        rec = {"id": case.id, "language": case.language, "prompt": case.prompt, "planned": ok_plan, **m.summary()}
        if case.id in phys_ids and T > context:
            tg = time.perf_counter()
            p = physics_case(backend, case, truth.frames, t_analysis, context)
            gen_s += time.perf_counter() - tg
            phys.append(p)
            rec["physics"] = p["candidate"]
        records.append(rec)
        if len(samples) < SAMPLES:
            samples.append({"id": case.id, "prompt": case.prompt, "language": case.language,
                            "canonical": case.canonical, "frames": frames, "truth": truth.frames})
    bar.close()

    fps = cases[0].spec.fps if cases else 8
    s = summarize(clips, truths, fps)
    ref = summarize(truths, truths, fps)
    physics = summarize_physics(phys, context)
    parts = [s["alignment"]["overall"], s["permanence"], physics["score"], s["consistency"], s["smoothness"],
             s["drift"]["score"]]
    parts = [p for p in parts if p is not None]
    summary = {
        "backend": backend.describe(),
        "suite": {"cases": len(cases), "languages": {k: len(v) for k, v in per_lang.items()},
                  "frames": num_frames or (cases[0].spec.num_frames if cases else 0), "fps": fps,
                  "physics_cases": len(phys)},
        "overall": round(float(np.mean(parts)), 4) if parts else None,
        "alignment": s["alignment"],
        "alignment_by_language": {k: alignment(v) for k, v in sorted(per_lang.items())},
        "planning": round(planned / max(len(cases), 1), 4),
        "permanence": s["permanence"],
        "physics": physics,
        "consistency": s["consistency"],
        "smoothness": s["smoothness"],
        "smoothness_pixel": s["smoothness_pixel"],
        "dynamic_degree": s["dynamic_degree"],
        "readable": s["readable"],
        "drift": s["drift"],
        "simulator": {"alignment": ref["alignment"], "permanence": ref["permanence"],
                      "consistency": ref["consistency"], "smoothness": ref["smoothness"],
                      "smoothness_pixel": ref["smoothness_pixel"], "dynamic_degree": ref["dynamic_degree"]},
        "targets": TARGETS,
        "timing": {"wall_s": round(time.perf_counter() - t0, 2), "generation_s": round(gen_s, 2),
                   "per_prompt_s": round((time.perf_counter() - t0) / max(len(cases), 1), 3)},
        "machine": {"python": platform.python_version(), "torch": torch.__version__,
                    "threads": torch.get_num_threads()},
        "cases": records,
    }
    return EvalResult(summary=summary, samples=samples)


def weakest(summary: dict, k: int = 3) -> list[tuple[str, float]]:
    """The k lowest of the scored dimensions (higher is better for each)."""
    dims = {f"alignment.{d}": summary["alignment"][d] for d in DIMENSIONS}
    dims.update({"permanence": summary["permanence"], "physics": summary["physics"].get("score"),
                 "consistency": summary["consistency"], "smoothness": summary["smoothness"],
                 "drift": summary["drift"].get("score")})
    return sorted(((n, v) for n, v in dims.items() if v is not None), key=lambda nv: nv[1])[:k]


# ---------------------------------------------------------------------------------
# One call for `kinora eval`: settings -> the run, its report and plots in a folder
# ---------------------------------------------------------------------------------


@dataclass
class EvalSettings:
    """What `kinora eval` runs; None means the suite's or the backend's default."""

    backend: str = "kinora"
    model: str | None = None  # a DiT (kinora backend) or a VAE file (vae backend)
    suite: str | None = None  # a prompt suite JSONL (default: the held-out suite)
    n: int | None = None  # the first N prompts
    quick: bool = False  # 12 prompts and 4 physics continuations
    physics_n: int | None = None
    no_physics: bool = False
    seconds: float | None = None
    size: int | None = None  # square frame side (default: the suite's, 64); e.g. 128 for the VAE's 128x128 ceiling
    context_frames: int | None = None
    steps: int | None = None
    guidance: float | None = None
    precision: str | None = None  # auto | fp32 | bf16 (kinora backend; default auto)
    guided: bool | None = None  # kinora backend: simulator in the loop (physics=True)
    threads: int = 1
    out: str | None = None  # folder for report.md, eval.json and plots (default: out/eval/BACKEND)


# Which settings each backend takes beyond the suite's (the others are refused, not ignored).
BACKEND_OPTIONS = {"kinora": ("model", "steps", "guidance", "precision", "guided"), "vae": ("model",), "simulator": (),
                   "frozen": ()}


def check_eval(s: EvalSettings) -> None:
    """Refuse settings that cannot be measured, in one line, before any work."""
    import math

    from kinora.defaults import MAX_GUIDANCE, MAX_SECONDS
    from kinora.errors import KinoraError

    if s.backend not in BACKEND_OPTIONS:
        raise KinoraError(f"unknown backend {s.backend!r}; use one of {', '.join(BACKEND_OPTIONS)}")
    for name in ("model", "steps", "guidance", "precision", "guided"):
        if getattr(s, name) is not None and name not in BACKEND_OPTIONS[s.backend]:
            takes = [b for b, opts in BACKEND_OPTIONS.items() if name in opts]
            raise KinoraError(f"--{name} only applies to --backend {' or '.join(takes)}")
    if s.threads < 1:
        raise KinoraError(f"--threads must be at least 1, got {s.threads}")
    for name, lo in (("n", 1), ("physics_n", 0), ("steps", 1), ("context_frames", 1)):
        v = getattr(s, name)
        if v is not None and v < lo:
            raise KinoraError(f"--{name.replace('_', '-')} must be at least {lo}, got {v}")
    if s.guidance is not None and not 0.0 <= s.guidance <= MAX_GUIDANCE:
        raise KinoraError(f"--guidance {s.guidance:g} is out of range; use 0 to {MAX_GUIDANCE:g}")
    if s.seconds is not None and not (math.isfinite(s.seconds) and 0 < s.seconds <= MAX_SECONDS):
        raise KinoraError(f"--seconds {s.seconds:g} is out of range; use more than 0 and at most {MAX_SECONDS:g}")
    if s.size is not None and not (16 <= s.size <= 256 and s.size % 16 == 0):
        raise KinoraError(f"--size {s.size} is not supported; use a multiple of 16 from 16 to 256")
    if s.no_physics and s.physics_n:
        raise KinoraError("--no-physics and --physics-n contradict each other; give one")


@dataclass
class EvalRun:
    result: EvalResult
    report: str  # the markdown table
    folder: object  # pathlib.Path of report.md, eval.json and the plots
    plots: dict


def run_eval(s: EvalSettings) -> EvalRun:
    """Check, pick the cases and the backend, evaluate, write report.md, eval.json and plots."""
    from pathlib import Path

    import torch

    from kinora.errors import KinoraError
    from kinora.eval.backends import get_backend
    from kinora.eval.report import eval_markdown, write_eval_plots
    from kinora.eval.suite import read_suite, subset
    from kinora.io.atomic import check_writable, write_json_atomic, write_text_atomic

    check_eval(s)
    out = Path(s.out or f"out/eval/{s.backend}{'-guided' if s.guided else ''}")
    if out.exists() and not out.is_dir():
        raise KinoraError(f"--out {out} is a file; eval writes a folder (report.md, eval.json, plots)")
    check_writable(out / "eval.json")
    torch.set_num_threads(s.threads)
    context = CONTEXT_FRAMES if s.context_frames is None else s.context_frames
    cases = subset(read_suite(s.suite), s.n if s.n is not None else QUICK["n"] if s.quick else None)
    if s.size is not None:
        cases = [c.with_size(s.size, s.size) for c in cases]
    physics_n = 0 if s.no_physics else s.physics_n if s.physics_n is not None else (
        QUICK["physics_n"] if s.quick else None)
    num_frames = None
    if s.seconds is not None:
        num_frames = max(2, int(round(s.seconds * cases[0].spec.fps)))
        if num_frames <= context:
            raise KinoraError(f"--seconds {s.seconds:g} gives {num_frames} frames; physics needs more than "
                              f"--context-frames {context}")
    kw = {k: getattr(s, k) for k in BACKEND_OPTIONS[s.backend] if getattr(s, k) is not None}
    try:
        backend = get_backend(s.backend, **kw)
    except KinoraError as e:
        raise KinoraError(f"{e}; or calibrate the metrics on the simulator with --backend simulator") from None

    result = evaluate(backend, cases, physics_n=physics_n, context=context, num_frames=num_frames)
    out.mkdir(parents=True, exist_ok=True)
    plots = write_eval_plots(result, out)
    md = eval_markdown(result.summary)
    write_text_atomic(out / "report.md", md + "\n" + "\n".join(f"![{k}]({Path(v).name})" for k, v in plots.items())
                      + "\n")
    write_json_atomic(out / "eval.json", result.summary)
    return EvalRun(result=result, report=md, folder=out, plots=plots)
