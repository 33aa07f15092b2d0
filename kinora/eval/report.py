"""Markdown tables and PNG plots (PIL only) of `kinora eval` and `kinora bench` results.

    eval_markdown(summary)            the eval table: model, simulator oracle, target
    bench_markdown(result)            the bench table, with the machine described
    write_eval_plots(result, folder)  dimensions.png, drift.png, physics.png, samples.png
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from kinora.eval.metrics import DIMENSIONS

NAMES = {"color": "colour", "shape": "shape", "count": "count", "motion": "motion direction", "camera": "camera move"}


def _f(v, pct: bool = True) -> str:
    if v is None:
        return "n/a"
    return f"{100 * v:.1f} %" if pct else f"{v:.3f}"


def _target(t) -> str:
    return f">= {100 * t:.0f} %" if t is not None else ""


# ---------------------------------------------------------------------------------
# Eval
# ---------------------------------------------------------------------------------


def eval_rows(s: dict) -> list[tuple[str, str, str, str]]:
    """(dimension, model, simulator, target) rows of the eval table."""
    ref, tg = s["simulator"], s.get("targets", {})
    rows = [(f"alignment: {NAMES[d]}", _f(s["alignment"][d]), _f(ref["alignment"][d]), _target(tg.get(d)))
            for d in DIMENSIONS]
    rows.append(("alignment: mean of the five", _f(s["alignment"]["overall"]), _f(ref["alignment"]["overall"]), ""))
    for lang, a in s.get("alignment_by_language", {}).items():
        rows.append((f"alignment, {lang} prompts (mean)", _f(a["overall"]), "", ""))
    rows.append(("planning: prompt read as its spec", _f(s["planning"]), "", ""))
    rows.append(("object permanence", _f(s["permanence"]), _f(ref["permanence"]), _target(tg.get("permanence"))))
    ph = s["physics"]
    rows.append((f"physics (Physics-IQ-style, {ph.get('cases', 0)} continuations)", _f(ph.get("score")), "100.0 %",
                 f"frozen frame: {_f(ph.get('frozen_score'))}"))
    for k, v in (ph.get("metrics") or {}).items():
        rows.append((f"physics: {k.replace('_', ' ')}", _f(v), "100.0 %", f"frozen: {_f(ph['frozen_metrics'][k])}"))
    rows.append(("temporal consistency (subject)", _f(s["consistency"]), _f(ref["consistency"]), ""))
    rows.append(("motion smoothness (objects)", _f(s["smoothness"]), _f(ref["smoothness"]), ""))
    rows.append(("motion smoothness (pixels, VBench)", _f(s["smoothness_pixel"]), _f(ref["smoothness_pixel"]), ""))
    rows.append(("dynamic degree", _f(s["dynamic_degree"]), _f(ref["dynamic_degree"]), "near the simulator"))
    d = s["drift"]
    rows.append(("long-horizon drift (held vs simulator)", _f(d.get("score")), "100.0 %", ""))
    for k in ("color", "size", "count"):
        sim_end = [v for v in d.get(f"{k}_simulator", []) if v is not None]
        rows.append((f"drift: {NAMES.get(k, k)} agreement, frame 0 vs last", _f(d.get(f"{k}_at_end")),
                     _f(sim_end[-1] if sim_end else None), ""))
    rows.append(("overall (mean of the scored dimensions)", _f(s.get("overall")), "", ""))
    return rows


def eval_markdown(s: dict, title: str | None = None) -> str:
    b = s["backend"]
    su = s["suite"]
    langs = ", ".join(f"{n} {k}" for k, n in su["languages"].items())
    who = b.get("model") or b["name"]
    title = title or f"Kinora eval: {who}"
    lines = [f"### {title}", "",
             f"{su['cases']} held-out prompts ({langs}), {su['frames']} frames at {su['fps']} fps; backend "
             f"`{b['name']}`" + (f", {b.get('steps')} steps, guidance {b.get('guidance')}" if "steps" in b else "")
             + f"; {s['timing']['wall_s']} s wall ({s['timing']['per_prompt_s']} s per prompt).", "",
             "| dimension | this run | simulator (oracle) | target / baseline |", "|---|---|---|---|"]
    lines += [f"| {a} | {b_} | {c} | {d} |" for a, b_, c, d in eval_rows(s)]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------
# Bench
# ---------------------------------------------------------------------------------


def bench_markdown(r: dict) -> str:
    m = r["machine"]
    lines = [f"### Kinora bench ({r['mode']})", "",
             f"Machine: {m['cpu']}, {m['cores']} cores ({m['threads']} torch threads), {m['memory_gb']} GB RAM, "
             f"{m['os']}, Python {m['python']}, torch {m['torch']}; load average at start {m['load_avg']}. "
             f"Model: {r['model']['name']} ({r['model']['weights']}).", "",
             "| measure | value | target |", "|---|---|---|"]
    rt = r["realtime"]
    lines.append(f"| model load (from_pretrained: DiT, VAE, text encoder; "
                 f"after {rt.get('import_s', 0)} s of imports) | {rt['load_s']} s | <= 3 s |")
    lines.append(f"| {rt['video_s']} s of {rt['size']} at {rt['fps']} fps, {rt['steps']} steps "
                 f"(best of 3 warm calls) | {rt['wall_s']} s (first call {rt['first_call_s']} s) | "
                 f"<= {rt['video_s'] / 2:g} s |")
    lines.append(f"| real-time factor (video s / wall s), DiT blocks in {rt.get('precision', 'fp32')} | "
                 f"{r['realtime_factor']} x | >= 2 x (issue 17: 30 x) |")
    if rt.get("fp32_wall_s") is not None:
        lines.append(f"| the same clip on the fp32 path (`--precision fp32`) | {rt['fp32_wall_s']} s = "
                     f"{rt['fp32_realtime_factor']} x real time | |")
    if rt.get("teacher_wall_s") is not None:
        lines.append(f"| the same clip with the guided teacher it was distilled from ({rt['teacher_steps']} steps, "
                     f"guidance {rt['teacher_guidance']:g}; `--model kinora/weights/teacher`) | "
                     f"{rt['teacher_wall_s']} s = {rt['teacher_realtime_factor']} x real time | |")
    if rt.get("compiled_wall_s") is not None:
        lines.append(f"| the same clip with the blocks compiled (`--compile`, torch.compile; the first call compiles: "
                     f"{rt['compiled_first_call_s']} s) | {rt['compiled_wall_s']} s = {rt['compiled_realtime_factor']}"
                     f" x real time | issue 17: 30 x |")
    if rt.get("guided_wall_s") is not None:
        lines.append(f"| the same clip guided by the simulator (`--physics`; simulation {rt['guided_simulation_s']} s "
                     f"of it) | {rt['guided_wall_s']} s = {rt['guided_realtime_factor']} x real time | >= 8 x |")
    lines.append(f"| frames generated per second vs playback | {rt['frames_per_s']} vs {rt['fps']} | |")
    tl = r.get("timeline")
    if tl:
        lines.append(f"| region edit of one {tl['seconds_per_shot']:g} s shot (a box over its middle half) vs "
                     f"making it fresh | "
                     f"{tl['region_edit_s']} s vs {tl['fresh_shot_s']} s = {tl['edit_vs_fresh']} x | <= 1.5 x |")
        lines.append(f"| film render of {tl['shots']} shots ({tl['film_s']:g} s, takes made) + OTIO export | "
                     f"{tl['render_and_otio_s']} s (peak RSS +{tl['render_rss_growth_mb']} MB) | <= 5 s |")
    fm = r.get("film")
    if fm:
        lines.append(f"| story -> film ({fm['shots']} shots, {fm['film_s']:g} s): planning | {fm['plan_s']} s "
                     f"| < 1 s |")
        lines.append(f"| story -> film: `--previs` storyboard (simulator keyframes, PDF) | "
                     f"{fm['previs_storyboard_s']} s | < 10 s |")
        lines.append(f"| story -> film: the whole film with verification ({fm['takes']} takes, {fm['verified']} "
                     f"verified, {fm['flagged']} flagged) | {fm['film_wall_s']} s | goal <= 60 s |")
    sd = r.get("studio")
    if sd:
        if sd.get("first_screen_after_address_s") is not None:
            lines.append(f"| studio: first screen interactive after `kinora studio` prints its address (Chromium) | "
                         f"{sd['first_screen_after_address_s']} s | < 3 s |")
            lines.append(f"| studio: first progress of a {sd['shot_seconds']:g} s shot after the click | "
                         f"{sd['first_progress_s']} s | < 1 s |")
        lines.append(f"| studio: {sd['jobs']} queued shot jobs from {sd['owners']} tab(s) on {sd['workers']} "
                     f"worker(s) | {sd['done']} done, {sd['intact']} intact (labeled, every frame) in "
                     f"{sd['soak_wall_s']} s; worker RSS {sd['worker_rss_early_mb']} -> {sd['worker_rss_end_mb']} MB "
                     f"(peak {sd['worker_peak_rss_mb']} MB) | all intact, memory flat |")
    lv = r["long_video"]
    base = lv.get(str(min(int(k) for k in lv if k.isdigit()))) if any(k.isdigit() for k in lv) else None
    for k in sorted((k for k in lv if k.isdigit()), key=int):
        v = lv[k]
        lines.append(f"| {k} s of video ({v['frames']} frames, {v.get('windows', '?')} windows, {v['steps']} steps) | "
                     f"{v['wall_s']} s, peak RSS "
                     f"{v['peak_rss_mb']} MB (+{v['rss_growth_mb']} MB over the loaded model) | "
                     f"{'issue 17: < 3 s' if int(k) == 60 and v['steps'] == rt['steps'] else ''} |")
    if rt.get("teacher_long_wall_s") is not None:
        lines.append(f"| the same {rt['teacher_long_s']} s with the guided teacher | {rt['teacher_long_wall_s']} s | |")
    if rt.get("compiled_long_wall_s") is not None:
        lines.append(f"| the same {rt['compiled_long_s']} s with the blocks compiled (its first call, compiling the "
                     f"later windows' shapes: {rt['compiled_long_first_s']} s) | {rt['compiled_long_wall_s']} s | "
                     f"issue 17: < 3 s |")
    if base and "time_ratio" in lv:
        lines.append(f"| long video: time {lv['longest']} s / {lv['shortest']} s | {lv['time_ratio']} | "
                     f"<= {lv['time_ratio_target']} |")
        lines.append(f"| long video: peak memory {lv['longest']} s / {lv['shortest']} s | "
                     f"{lv['memory_ratio']} | <= 1.15 |")
    d = r["dit"]
    if r.get("dit_step_ratio_vs_diffusers") is not None:
        lines.append(f"| DiT step ({d['tokens']} tokens, batch {d['batch']}): ours vs diffusers Wan | "
                     f"{d['ours_ms']} ms vs {d['wan_ms']} ms = {r['dit_step_ratio_vs_diffusers']} | <= 0.8 |")
        if r.get("dit_step_ratio_vs_diffusers_bf16") is not None:
            lines.append(f"| the same step in bf16: ours vs diffusers Wan | {d['ours_bf16_ms']} ms vs "
                         f"{d['wan_bf16_ms']} ms = {r['dit_step_ratio_vs_diffusers_bf16']} | <= 0.8 |")
    else:
        lines.append(f"| DiT step: ours vs diffusers Wan | {d['ours_ms']} ms vs n/a ({d.get('note', '')}) | <= 0.8 |")
    t = r["train"]
    lines.append(f"| training: samples per second (batch {t['batch']}, {t['tokens']} tokens) | "
                 f"{t['samples_per_s']} | |")
    pk = r.get("matmul_peak")
    if pk:
        lines.append(f"| matmul peak, {pk['size']}² ({r['machine']['threads']} threads): fp32 / bf16 | "
                     f"{pk['fp32_gflops']} / {pk['bf16_gflops']} GFLOP/s (bf16 kernel: {pk['bf16_matmul_kernel']}; "
                     f"AMX {'used' if pk['amx_used'] else 'not used'}) | |")
        lines.append(f"| training FLOP/s vs fp32 / bf16 peak | {t['achieved_gflops']} GFLOP/s = "
                     f"{100 * r['train_fraction_of_matmul_peak']:.1f} % / "
                     f"{100 * r['train_fraction_of_bf16_peak']:.1f} % | bf16: >= 25 % |")
        rows = (("train_bf16", "training with --precision bf16: samples per second, FLOP/s vs bf16 peak", "x fp32"),
                ("train_compiled", "training with --compile ({precision} precision): samples per second, FLOP/s "
                 "vs bf16 peak", "x fp32"),
                ("train_compiled_large", "the same with --compile at batch {batch} (`--batch-size {batch}`)",
                 f"x fp32 at batch {t['batch']}"))
        for name, label, against in rows:
            run = r.get(name)
            if run:
                first = f"; first step (compiling) {run['first_step_s']} s" if name == "train_compiled" else ""
                lines.append(f"| {label.format(**run)} | {run['samples_per_s']} ({r[f'{name}_speedup']}{against}), "
                             f"{run['achieved_gflops']} GFLOP/s = {100 * r[f'{name}_fraction_of_bf16_peak']:.1f} %"
                             f"{first} | >= 3x or >= 25 % |")
        lines.append(f"| sampling (one guided DiT step) FLOP/s vs fp32 / bf16 peak | {d['ours_gflops']} GFLOP/s = "
                     f"{100 * r['sampling_fraction_of_fp32_peak']:.1f} % / "
                     f"{100 * r['sampling_fraction_of_bf16_peak']:.1f} % | |")
    else:  # a bench.json written before the peaks were measured
        lines.append(f"| training FLOP/s vs matmul peak ({t['matmul_gflops']} GFLOP/s) | {t['achieved_gflops']} "
                     f"GFLOP/s = {100 * r['train_fraction_of_matmul_peak']:.1f} % | |")
    w = r["world"]
    lines.append(f"| data engine ({w['frames']} frames, {w['size']}, {w['workers']} workers) | "
                 f"{r['world_clips_per_s']} clips/s | >= 20 |")
    notes = r.get("notes") or []
    return "\n".join(lines + ([""] + [f"- {n}" for n in notes] if notes else [])) + "\n"


# ---------------------------------------------------------------------------------
# Plots with PIL
# ---------------------------------------------------------------------------------

BLUE, GREY, RED, GREEN = (40, 90, 200), (170, 170, 170), (200, 60, 50), (40, 150, 70)


def _save(img, path: Path) -> Path:
    from kinora.io.atomic import atomic_path

    with atomic_path(path) as tmp:
        img.save(tmp)
    return Path(path)


def _font(size: int = 13):
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1
        return ImageFont.load_default()


def bar_chart(rows: list[tuple[str, float | None, float | None, float | None]], path: Path, title: str,
              legend: str = "bar: this run   grey tick: simulator (oracle)   red line: target") -> Path:
    """Horizontal bars in [0, 1]: (label, value, reference tick, target line)."""
    from PIL import Image, ImageDraw

    W, left, right, row_h, top = 760, 290, 70, 24, 40
    H = top + row_h * len(rows) + 40
    img = Image.new("RGB", (W, H), "white")
    d = ImageDraw.Draw(img)
    f = _font(13)
    d.text((10, 10), title, fill="black", font=_font(15))
    span = W - left - right
    for i, (label, v, ref, tgt) in enumerate(rows):
        y = top + i * row_h
        d.text((10, y + 4), label, fill="black", font=f)
        d.rectangle([left, y + 4, left + span, y + row_h - 4], outline=(225, 225, 225))
        if v is not None:
            d.rectangle([left, y + 4, left + int(span * max(0.0, min(1.0, v))), y + row_h - 4], fill=BLUE)
            d.text((left + span + 6, y + 4), f"{100 * v:.0f} %", fill="black", font=f)
        if ref is not None:
            x = left + int(span * max(0.0, min(1.0, ref)))
            d.line([x, y + 1, x, y + row_h - 1], fill=GREY, width=3)
        if tgt is not None:
            x = left + int(span * tgt)
            d.line([x, y + 1, x, y + row_h - 1], fill=RED, width=2)
    d.text((left, H - 28), legend, fill=(90, 90, 90), font=f)
    return _save(img, path)


def line_chart(series: list[tuple[str, list[float | None], tuple, bool]], xs: list[float], path: Path, title: str,
               xlabel: str, ylo: float = 0.0, yhi: float = 1.0) -> Path:
    """Lines over xs: (label, ys, colour, dashed)."""
    from PIL import Image, ImageDraw

    W, H, m, top = 720, 380, 55, 40
    img = Image.new("RGB", (W, H), "white")
    d = ImageDraw.Draw(img)
    f = _font(12)
    d.text((10, 10), title, fill="black", font=_font(15))
    x0, x1, y0, y1 = m, W - 170, top, H - m
    d.rectangle([x0, y0, x1, y1], outline=(200, 200, 200))
    for q in np.linspace(ylo, yhi, 5):
        y = y1 - (q - ylo) / (yhi - ylo) * (y1 - y0)
        d.line([x0, y, x1, y], fill=(235, 235, 235))
        d.text((8, y - 7), f"{q:.2f}", fill="black", font=f)
    if xs:
        xmax = max(xs) or 1.0
        for q in np.linspace(0, xmax, 5):
            x = x0 + q / xmax * (x1 - x0)
            d.text((x - 10, y1 + 6), f"{q:.1f}", fill="black", font=f)
        d.text(((x0 + x1) // 2 - 30, H - 22), xlabel, fill="black", font=f)
        for k, (label, ys, col, dashed) in enumerate(series):
            pts = [(x0 + x / xmax * (x1 - x0), y1 - (max(ylo, min(yhi, y)) - ylo) / (yhi - ylo) * (y1 - y0))
                   for x, y in zip(xs, ys) if y is not None]
            for j, (a, b) in enumerate(zip(pts, pts[1:])):
                if not dashed or j % 2 == 0:
                    d.line([a, b], fill=col, width=2)
            ly = top + 10 + 18 * k
            d.line([x1 + 12, ly + 6, x1 + 32, ly + 6], fill=col, width=2)
            d.text((x1 + 38, ly), label, fill="black", font=f)
    return _save(img, path)


def contact_sheet(samples: list[dict], path: Path, every: int = 4, scale: int = 2) -> Path:
    """For each sample: a row of this run's frames over a row of the simulator's."""
    from PIL import Image, ImageDraw

    if not samples:
        return path
    f = _font(12)
    T, H, W, _ = samples[0]["frames"].shape
    cols = list(range(0, T, every))
    cw, ch = W * scale, H * scale
    label_h = 18
    sheet = Image.new("RGB", (len(cols) * (cw + 2) + 90, len(samples) * (2 * ch + label_h + 8)), "white")
    d = ImageDraw.Draw(sheet)
    for r, s in enumerate(samples):
        y = r * (2 * ch + label_h + 8)
        # The default font has no CJK glyphs: label with the English canonical caption.
        d.text((4, y + 2), f"{s['id']} ({s['language']}): {s['canonical'][:120]}", fill="black", font=f)
        for row, (name, frames) in enumerate((("model", s["frames"]), ("simulator", s["truth"]))):
            yy = y + label_h + row * ch
            d.text((4, yy + ch // 2 - 6), name, fill=(80, 80, 80), font=f)
            for c, t in enumerate(cols):
                if t < len(frames):
                    im = Image.fromarray(frames[t]).resize((cw, ch), Image.NEAREST)
                    sheet.paste(im, (90 + c * (cw + 2), yy))
    return _save(sheet, path)


def write_eval_plots(result, folder: str | Path, prefix: str = "") -> dict[str, str]:
    """The eval's PNGs into folder; returns {name: path}."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    s = result.summary
    ref, tg = s["simulator"], s["targets"]
    rows = [(f"alignment: {NAMES[k]}", s["alignment"][k], ref["alignment"][k], tg.get(k)) for k in DIMENSIONS]
    rows += [("object permanence", s["permanence"], ref["permanence"], tg.get("permanence")),
             ("physics (Physics-IQ-style)", s["physics"].get("score"), 1.0, None),
             ("temporal consistency", s["consistency"], ref["consistency"], None),
             ("motion smoothness", s["smoothness"], ref["smoothness"], None),
             ("dynamic degree", s["dynamic_degree"], ref["dynamic_degree"], None),
             ("drift held (vs simulator)", s["drift"].get("score"), 1.0, None)]
    who = s["backend"].get("model") or s["backend"]["name"]
    out = {"dimensions": str(bar_chart(rows, folder / f"{prefix}dimensions.png", f"kinora eval: {who}"))}
    dr = s["drift"]
    series = []
    for k, col in (("color", RED), ("size", BLUE), ("count", GREEN)):
        series.append((f"{k}", dr[k], col, False))
        series.append((f"{k} (simulator)", dr[f"{k}_simulator"], col, True))
    out["drift"] = str(line_chart(series, dr["gaps_s"], folder / f"{prefix}drift.png",
                                  "drift: agreement of frame 0 and frame k", "gap (seconds)"))
    ph = s["physics"]
    if ph.get("metrics"):
        prow = [(f"{k.replace('_', ' ')}", v, ph["frozen_metrics"][k], None) for k, v in ph["metrics"].items()]
        prow.append(("physics score", ph["score"], ph["frozen_score"], None))
        out["physics"] = str(bar_chart(prow, folder / f"{prefix}physics.png",
                                       "physics: 100 % = the simulator against itself",
                                       legend="bar: this run   grey tick: frozen last frame (baseline)"))
    if result.samples:
        out["samples"] = str(contact_sheet(result.samples, folder / f"{prefix}samples.png"))
    return out
