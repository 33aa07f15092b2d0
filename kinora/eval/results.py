"""Regenerate docs/RESULTS.md: eval and bench of the shipped model, with plots.

    bash scripts/results.sh                    # the whole suite and the full bench
    kinora results --quick --out docs          # 12 prompts and the quick bench (a few minutes)

It evaluates three generators on the held-out suite (the shipped model, when its
weights are in kinora/weights/; the simulator, the oracle every metric is calibrated
on; a frozen first frame, the floor), runs `kinora bench`, and writes

    docs/RESULTS.md           the tables, the three weakest dimensions, the plots
    docs/results/*.png        dimensions, drift, physics and sample frames
    docs/results/*.json       the raw eval and bench objects
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from pathlib import Path

from kinora.eval.metrics import DIMENSIONS
from kinora.eval.report import NAMES, bench_markdown, write_eval_plots


def _pct(v) -> str:
    return "n/a" if v is None else f"{100 * v:.1f} %"


def _rows(s: dict | None) -> dict[str, float | None]:
    """The compared dimensions of one eval summary, in table order."""
    if s is None:
        return {}
    out = {f"alignment: {NAMES[d]}": s["alignment"][d] for d in DIMENSIONS}
    out["alignment: mean of the five"] = s["alignment"]["overall"]
    for lang, a in s.get("alignment_by_language", {}).items():
        out[f"alignment, {lang} prompts"] = a["overall"]
    out["object permanence"] = s["permanence"]
    out["physics (Physics-IQ-style score)"] = s["physics"].get("score")
    for k, v in (s["physics"].get("metrics") or {}).items():
        out[f"physics: {k.replace('_', ' ')}"] = v
    out["temporal consistency"] = s["consistency"]
    out["motion smoothness (objects)"] = s["smoothness"]
    out["motion smoothness (pixels)"] = s["smoothness_pixel"]
    out["dynamic degree"] = s["dynamic_degree"]
    out["drift held (vs simulator)"] = s["drift"].get("score")
    for k in ("color", "size", "count"):
        out[f"drift: {NAMES.get(k, k)}, frame 0 vs last"] = s["drift"].get(f"{k}_at_end")
    out["readable clips"] = s.get("readable")
    out["overall"] = s.get("overall")
    return out


TARGET_OF = {"alignment: colour": ">= 90 %", "alignment: shape": ">= 80 %", "alignment: count": ">= 90 %",
             "alignment: motion direction": ">= 75 %", "object permanence": ">= 90 %",
             "physics (Physics-IQ-style score)": "far above 10-30 %", "dynamic degree": "near the simulator"}


def understanding_section(summary: dict, commit: str) -> str:
    """The reader's scores on the held-out paraphrase suite, for RESULTS.md."""
    from kinora.eval.understanding import report_markdown

    body = report_markdown(summary, "heldout", []).split("\n", 1)[1]
    return "\n".join([
        "## Understanding: how prompts are read", "",
        f"Made by `kinora eval --understanding` at commit `{commit}`: the held-out part of the paraphrase suite "
        "(`kinora/eval/paraphrase/heldout-*.jsonl`, written apart from the reader and never tuned on; the format "
        "and the conventions are in docs/UNDERSTANDING.md). Spec-exact: every labelled field right, the right "
        "number of objects, every word the world lacks named in a warning. Simulator pass: the parsed spec "
        "simulated and checked by `kinora.verify` against the labelled spec, counted as a failure only where the "
        "labelled spec's own clip passes the same check (the analyzer ceiling row).", body.rstrip()])


def comparison_table(model: dict | None, sim: dict, frozen: dict, vae: dict | None = None,
                     guided: dict | None = None) -> str:
    rm, rs, rf, rv, rg = _rows(model), _rows(sim), _rows(frozen), _rows(vae), _rows(guided)
    head = ("| dimension | shipped model, free |" + (" shipped model, guided (`--physics`) |" if guided else "")
            + " simulator (oracle) |" + (" simulator through the VAE (ceiling) |" if vae else ""))
    lines = [head + " frozen frame (floor) | target |",
             "|---|---|" + ("---|" if guided else "") + "---|" + ("---|" if vae else "") + "---|---|"]
    for k in rs:
        lines.append(f"| {k} | {_pct(rm.get(k)) if model else 'not shipped yet'} | "
                     + (f"{_pct(rg.get(k))} | " if guided else "") + f"{_pct(rs[k])} | "
                     + (f"{_pct(rv.get(k))} | " if vae else "") + f"{_pct(rf.get(k))} | {TARGET_OF.get(k, '')} |")
    return "\n".join(lines)


@dataclass
class ResultsSettings:
    """What one regeneration of the results page runs (`kinora results` flags of the same names)."""

    out: str = "docs"  # folder for RESULTS.md and results/
    quick: bool = False  # 12 prompts and the quick bench
    n: int | None = None  # prompts (default: the whole suite, or 12 with quick)
    model: str | None = None  # DiT weights (default: the shipped ones, if present)
    bench: str | None = None  # full, quick or none (default: full, or quick with quick)
    bench_threads: int | None = None  # torch threads for the bench (default: all)
    threads: int = 1  # torch threads for the evals
    commit: str = "unknown"  # the source revision the page is made from, as the caller knows it


def write_results(a: ResultsSettings) -> Path:
    """Run the evals and the bench as `a` says and write the page; return RESULTS.md's path."""
    import torch

    from kinora.defaults import SHIPPED_DIT, SHIPPED_VAE
    from kinora.eval.backends import FrozenBackend, KinoraBackend, SimulatorBackend, VaeBackend
    from kinora.eval.bench import run_bench
    from kinora.eval.runner import QUICK, evaluate, weakest
    from kinora.eval.suite import read_suite, subset
    from kinora.io.atomic import write_json_atomic, write_text_atomic

    torch.set_num_threads(a.threads)
    out = Path(a.out)
    res = out / "results"
    res.mkdir(parents=True, exist_ok=True)
    n = a.n if a.n is not None else QUICK["n"] if a.quick else None
    physics_n = QUICK["physics_n"] if a.quick else None
    cases = subset(read_suite(), n)

    have_model = a.model is not None or SHIPPED_DIT.exists()
    model = guided = long = None
    if have_model:
        backend = KinoraBackend(model=a.model)
        r = evaluate(backend, cases, physics_n=physics_n)
        model = r.summary
        write_eval_plots(r, res, prefix="model-")
        write_json_atomic(res / "eval-model.json", model)
        if backend.pipe.has_physics:  # the same model with the simulator in the loop
            rg = evaluate(KinoraBackend(pipe=backend.pipe, guided=True), cases, physics_n=physics_n)
            guided = rg.summary
            write_eval_plots(rg, res, prefix="guided-")
            write_json_atomic(res / "eval-guided.json", guided)
            from kinora.eval.long import LongSettings, run_long

            long = run_long(LongSettings(model=a.model, n=2 if a.quick else None, seconds=20 if a.quick else 60,
                                         threads=a.threads, out=str(res / "long")), progress=False).summary
    rs = evaluate(SimulatorBackend(), cases, physics_n=physics_n)
    write_eval_plots(rs, res, prefix="simulator-")
    write_json_atomic(res / "eval-simulator.json", rs.summary)
    rf = evaluate(FrozenBackend(), cases, physics_n=physics_n)
    write_json_atomic(res / "eval-frozen.json", rf.summary)
    vae = None
    if SHIPPED_VAE.exists():  # the VAE the shipped DiT decodes with
        vae = evaluate(VaeBackend(SHIPPED_VAE), cases, physics_n=physics_n).summary
        write_json_atomic(res / "eval-vae.json", vae)
    from kinora.eval.understanding import UnderstandingSettings, run_understanding

    reading = run_understanding(UnderstandingSettings(split="heldout"))
    write_json_atomic(res / "understanding.json", {"split": "heldout", "summary": reading.summary})
    bench = None
    bench_mode = a.bench or ("quick" if a.quick else "full")
    if bench_mode != "none":
        bench = run_bench(bench_mode, model=a.model, threads=a.bench_threads)
        write_json_atomic(res / "bench.json", bench)

    main_eval = model or rs.summary
    prefix = "model-" if model else "simulator-"
    su = main_eval["suite"]
    cmd = "kinora results" + (" --quick" if a.quick else "") + (f" --n {a.n}" if a.n else "") + (
        f" --bench {a.bench}" if a.bench else "") + (f" --bench-threads {a.bench_threads}" if a.bench_threads else "")
    lines = ["# Kinora results", ""]
    if model is None:
        lines += ["> **The shipped model's weights were not in `kinora/weights/` when this page was made.** Every "
                  "eval number below is the **simulator backend** (the micro-world rendering each prompt's own "
                  "spec: the oracle that calibrates the metrics) and a frozen-frame floor; the bench timed the "
                  "shipped architecture with random weights (speed does not depend on the weights' values). "
                  "Regenerate this page with `bash scripts/results.sh` once the weights land.", ""]
    lines += [f"Made by `{cmd}` at commit `{a.commit}` on "
              f"{datetime.date.today().isoformat()}: {su['cases']} held-out prompts of `kinora/eval/heldout.jsonl` "
              f"({', '.join(f'{v} {k}' for k, v in su['languages'].items())}), "
              f"{su['frames']} frames at {su['fps']} fps, "
              f"{main_eval['physics'].get('cases', 0)} physics continuations. "
              f"Definitions: `kinora/eval/metrics.py` and "
              f"`kinora/eval/physics.py`; the numbers themselves: `docs/results/*.json`.", "",
              "## Eval", "", comparison_table(model, rs.summary, rf.summary, vae, guided), ""]
    weak = weakest(main_eval)
    who = "shipped model" if model else "simulator (the metrics' own ceiling: where the analyzer misreads true clips)"
    lines += [f"Three weakest dimensions ({who}): " + ", ".join(f"{k} {_pct(v)}" for k, v in weak) + ".", ""]
    if model is None:
        lines += ["With the simulator every number is the ceiling a perfect generator could reach under these "
                  "metrics; where it is below 100 % the analyzer misreads true clips (mostly motion direction under "
                  "a moving camera and towards/away motion), and the frozen-frame column shows how far each metric "
                  "is from a video that never moves.", ""]
    lines += ["How to read it:",
              "- Alignment: the analyzer (`kinora/verify/analyzer.py`) reads each clip and `compare` matches it to "
              "the prompt's ShotSpec; colour, shape and motion are pooled over objects (a missing object is wrong), "
              "count and camera over clips. The simulator column is the ceiling these metrics allow: below 100 % "
              "it is the analyzer misreading true clips.",
              "- The VAE column is the simulator's clip encoded and decoded by the shipped VAE (`kinora eval "
              "--backend vae`): what a DiT that produced the true clip's latents exactly would score. A dimension "
              "far below the simulator there is lost in compression (64x64 frames are 8x8 latents: small cubes "
              "come back rounded and tiny objects faint), not in generation.",
              "- Physics: the model continues the simulator's first 5 frames of every static-camera prompt with a "
              "mover; 100 % = as close to the truth as a second simulator run with objects moved by 2 mm and "
              "speeds changed by 1 %. The frozen column repeats the last given frame.",
              "- Guided: the same checkpoint with the simulator in the loop (`kinora generate --physics`): the "
              "physics engine runs each prompt's plan and the model renders its coloured silhouettes "
              "(kinora/world/signal.py); for a physics continuation the objects of the first given frame are put "
              "into the simulator's initial state.",
              "- Consistency and smoothness are perfect for a video that never moves (as in VBench): read them "
              "with dynamic degree, which should be near the simulator's.",
              "- Drift: colour, size and count of frame k against frame 0, as a share of the same agreement in "
              "the simulator's clips of the same prompts (objects leave the view and approach the camera there "
              "too).", ""]
    for name in ("dimensions", "drift", "physics", "samples"):
        if (res / f"{prefix}{name}.png").exists():
            lines.append(f"![{name}](results/{prefix}{name}.png)")
    lines.append("")
    if long is not None:
        from kinora.eval.long import long_markdown

        lines += ["## Long shots", "", f"Made by `kinora eval --long` (`kinora/eval/long.py`): {len(long['shots'])} "
                  f"paragraphs of events in sequence (English and Chinese), each {long['seconds']:g} s, the events "
                  "spread evenly over the shot.", "", long_markdown(long).split("\n", 2)[2], ""]
    lines += [understanding_section(reading.summary, a.commit), ""]
    if bench is not None:
        lines += ["## Bench", "", bench_markdown(bench).replace("### Kinora bench", "Kinora bench"), ""]
    lines += ["## Reproduce", "", "```", "kinora eval --quick            # the shipped model, 12 prompts",
              "kinora eval                    # all 120 prompts", "kinora eval --backend simulator # the oracle",
              "kinora eval --backend vae       # the simulator through the VAE: the latent space's ceiling",
              "kinora bench                   # speed and memory on this machine",
              "kinora eval --guided           # the simulator in the loop",
              "kinora eval --long             # minute-long shots: drift per 5 s chunk",
              "kinora eval --understanding    # the reader on the held-out paraphrase suite",
              "bash scripts/results.sh        # this page",
              "```", ""]
    write_text_atomic(out / "RESULTS.md", "\n".join(lines))
    return out / "RESULTS.md"
