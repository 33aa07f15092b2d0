"""`kinora demo`: the README's main job: a video from the shipped model on the CPU."""

from __future__ import annotations

import sys

from kinora.cli.args import seed
from kinora.pipelines.generate import DEMO_PROMPT, DEMO_SECONDS


def register(sub) -> None:
    p = sub.add_parser("demo", help="generate a sample video with the shipped model")
    p.add_argument("prompt", nargs="?", default=DEMO_PROMPT, help=f"default: {DEMO_PROMPT!r}")
    p.add_argument("-o", "--out", default=None, help="output MP4 (default: out/demo.mp4, or the next free name)")
    p.add_argument("--force", action="store_true", help="replace the output if it exists")
    p.add_argument("--seconds", type=float, default=DEMO_SECONDS)
    p.add_argument("--seed", type=seed, default=0)
    p.set_defaults(func=run)


def run(args) -> int:
    from kinora.cli.generate import print_result
    from kinora.cli.progress import StepBar
    from kinora.defaults import WEIGHTS_DIR
    from kinora.pipelines.generate import demo

    with StepBar("sampling") as bar:
        result = demo(args.prompt, out=args.out, seconds=args.seconds, seed=args.seed, force=args.force, progress=bar)
    if result.simulated:
        print(f"no shipped weights in {WEIGHTS_DIR}; wrote a micro-world simulator render instead: {result.path}",
              file=sys.stderr)
    else:
        print_result(result.generated)
    return 0
