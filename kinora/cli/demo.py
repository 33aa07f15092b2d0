"""`kinora demo`: the README's main job: a video from the shipped model on the CPU."""

from __future__ import annotations

import sys

DEMO_PROMPT = "a red ball bounces on the floor while a blue cube slides to the right"


def register(sub) -> None:
    p = sub.add_parser("demo", help="generate a sample video with the shipped model")
    p.add_argument("prompt", nargs="?", default=DEMO_PROMPT, help=f"default: {DEMO_PROMPT!r}")
    p.add_argument("-o", "--out", default="out/demo.mp4", help="output MP4 (default: out/demo.mp4)")
    p.add_argument("--seconds", type=float, default=4.0)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=run)


def run(args) -> int:
    import argparse

    from kinora.cli import generate
    from kinora.defaults import SHIPPED_DIT, WEIGHTS_DIR

    if not SHIPPED_DIT.exists():
        # A source checkout without weights still shows the world the model learns.
        from kinora.world.sim import render_to_mp4
        from kinora.world.spec import SpecDistribution, random_spec

        spec = random_spec(args.seed, SpecDistribution(duration=(args.seconds, args.seconds), width=128, height=128))
        path = render_to_mp4(spec, args.out)
        print(f"no shipped weights in {WEIGHTS_DIR}; wrote a micro-world simulator render instead: {path}",
              file=sys.stderr)
        return 0
    gen_args = argparse.Namespace(
        prompt=args.prompt, out=args.out, seconds=args.seconds, fps=None, size=None, steps=None, guidance=None,
        seed=args.seed, negative=None, sampler=None, image=None, last_image=None, loop=False, video=None, backward=False,
        edit_region=None, edit_time=None,
        model=None, truth_mode="story")
    return generate.run(gen_args)
