"""`kinora eval`: the held-out prompt suite through a generator, every dimension measured.

    kinora eval --quick                       # the shipped model, 12 prompts, about a minute
    kinora eval                               # all 120 held-out prompts
    kinora eval --backend simulator --quick   # the oracle: calibrates every metric
    kinora eval --backend vae --quick         # the simulator through the VAE: the latent space's ceiling
    kinora eval --model runs/dit --json       # another checkpoint, one JSON object on stdout
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from kinora.errors import KinoraError


def register(sub) -> None:
    p = sub.add_parser("eval", help="measure a generator on the held-out prompt suite (alignment, physics, ...)")
    p.add_argument("--backend", default="kinora", choices=["kinora", "simulator", "frozen", "vae"],
                   help="kinora: the model; simulator: the oracle (calibration); frozen: a still-frame baseline; "
                        "vae: the simulator's clips through the VAE (what the latent space allows)")
    p.add_argument("--model", default=None,
                   help="DiT checkpoint or folder (default: the shipped model); with --backend vae: a VAE file")
    p.add_argument("--suite", default=None, help="prompt suite JSONL (default: kinora/eval/heldout.jsonl)")
    p.add_argument("--n", type=int, default=None, help="use the first N prompts (English and Chinese in turn)")
    p.add_argument("--quick", action="store_true", help="12 prompts and 4 physics continuations (about a minute)")
    p.add_argument("--physics-n", type=int, default=None, help="at most this many physics continuations")
    p.add_argument("--no-physics", action="store_true", help="skip the physics continuations")
    p.add_argument("--seconds", type=float, default=None, help="clip length (default: the suite's, 4 s)")
    p.add_argument("--context-frames", type=int, default=None, help="frames given for physics (default 5)")
    p.add_argument("--steps", type=int, default=None, help="sampling steps (default: the model's)")
    p.add_argument("--guidance", type=float, default=None, help="guidance scale (default: the model's)")
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads (default 1: the numbers then do not depend on the machine's cores, "
                        "and a busy machine is not oversubscribed)")
    p.add_argument("--out", default=None, help="folder for report.md, eval.json and plots (default: out/eval/BACKEND)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    p.set_defaults(func=run)


def run(args) -> int:
    import torch

    from kinora.eval.backends import get_backend
    from kinora.eval.physics import CONTEXT_FRAMES
    from kinora.eval.report import eval_markdown, write_eval_plots
    from kinora.eval.runner import QUICK, evaluate
    from kinora.eval.suite import read_suite, subset
    from kinora.io.atomic import write_json_atomic, write_text_atomic

    if args.threads < 1:
        raise KinoraError(f"--threads must be at least 1, got {args.threads}")
    torch.set_num_threads(args.threads)
    for name in ("n", "physics_n", "steps"):
        v = getattr(args, name)
        if v is not None and v < (0 if name == "physics_n" else 1):
            raise KinoraError(f"--{name.replace('_', '-')} must be at least {0 if name == 'physics_n' else 1}, got {v}")
    if args.seconds is not None and not 0 < args.seconds <= 600:
        raise KinoraError(f"--seconds {args.seconds:g} is out of range; use more than 0 and at most 600")
    context = CONTEXT_FRAMES if args.context_frames is None else args.context_frames
    if context < 1:
        raise KinoraError(f"--context-frames must be at least 1, got {context}")

    cases = read_suite(args.suite)
    n = args.n if args.n is not None else QUICK["n"] if args.quick else None
    cases = subset(cases, n)
    physics_n = 0 if args.no_physics else args.physics_n if args.physics_n is not None else (
        QUICK["physics_n"] if args.quick else None)
    num_frames = None
    if args.seconds is not None:
        num_frames = max(2, int(round(args.seconds * cases[0].spec.fps)))
        if num_frames <= context:
            raise KinoraError(f"--seconds {args.seconds:g} gives {num_frames} frames; physics needs more than "
                              f"--context-frames {context}")
    kw = {"model": args.model, "steps": args.steps, "guidance": args.guidance} if args.backend == "kinora" else {}
    if args.backend == "vae":
        kw = {"model": args.model}
    if args.backend != "kinora" and (args.steps or args.guidance is not None):
        raise KinoraError("--steps and --guidance only apply to --backend kinora")
    if args.backend not in ("kinora", "vae") and args.model:
        raise KinoraError("--model only applies to --backend kinora (a DiT) or --backend vae (a VAE file)")
    try:
        backend = get_backend(args.backend, **kw)
    except KinoraError as e:
        raise KinoraError(f"{e}; or calibrate the metrics on the simulator with --backend simulator") from None

    result = evaluate(backend, cases, physics_n=physics_n, context=context, num_frames=num_frames)
    out = Path(args.out or f"out/eval/{args.backend}")
    out.mkdir(parents=True, exist_ok=True)
    plots = write_eval_plots(result, out)
    md = eval_markdown(result.summary)
    md += "\n" + "\n".join(f"![{k}]({Path(v).name})" for k, v in plots.items()) + "\n"
    write_text_atomic(out / "report.md", md)
    write_json_atomic(out / "eval.json", result.summary)
    if args.json:
        print(json.dumps(result.summary, ensure_ascii=False))
    else:
        print(md.split("\n![")[0])
        print(f"wrote {out / 'report.md'}, {out / 'eval.json'} and {len(plots)} plots", file=sys.stderr)
    return 0
