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

from kinora.cli.args import finite


def register(sub) -> None:
    from kinora.eval.runner import BACKEND_OPTIONS

    p = sub.add_parser("eval", help="measure a generator on the held-out prompt suite (alignment, physics, ...)")
    p.add_argument("--backend", default="kinora", choices=list(BACKEND_OPTIONS),
                   help="kinora: the model; simulator: the oracle (calibration); frozen: a still-frame baseline; "
                        "vae: the simulator's clips through the VAE (what the latent space allows)")
    p.add_argument("--model", default=None,
                   help="DiT checkpoint or folder (default: the shipped model); with --backend vae: a VAE file")
    p.add_argument("--suite", default=None, help="prompt suite JSONL (default: kinora/eval/heldout.jsonl)")
    p.add_argument("--n", type=int, default=None, help="use the first N prompts (English and Chinese in turn)")
    p.add_argument("--quick", action="store_true", help="12 prompts and 4 physics continuations (about a minute)")
    p.add_argument("--physics-n", type=int, default=None, help="at most this many physics continuations")
    p.add_argument("--no-physics", action="store_true", help="skip the physics continuations")
    p.add_argument("--seconds", type=finite, default=None, help="clip length (default: the suite's, 4 s)")
    p.add_argument("--context-frames", type=int, default=None, help="frames given for physics (default 5)")
    p.add_argument("--steps", type=int, default=None, help="sampling steps (default: the model's)")
    p.add_argument("--guidance", type=finite, default=None, help="guidance scale (default: the model's)")
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads (default 1: the numbers then do not depend on the machine's cores, "
                        "and a busy machine is not oversubscribed)")
    p.add_argument("--out", default=None, help="folder for report.md, eval.json and plots (default: out/eval/BACKEND)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    p.set_defaults(func=run)


def run(args) -> int:
    from kinora.eval.runner import EvalSettings, run_eval

    names = ("backend", "model", "suite", "n", "quick", "physics_n", "no_physics", "seconds", "context_frames",
             "steps", "guidance", "threads", "out")
    run_ = run_eval(EvalSettings(**{k: getattr(args, k) for k in names}))
    if args.json:
        print(json.dumps(run_.result.summary, ensure_ascii=False))
    else:
        print(run_.report)
        print(f"wrote {run_.folder / 'report.md'}, {run_.folder / 'eval.json'} and {len(run_.plots)} plots",
              file=sys.stderr)
    return 0
