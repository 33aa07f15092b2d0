"""`kinora demo`: the README's main job on the embedded default."""

from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("demo", help="make a sample video with the embedded default")
    p.add_argument("-o", "--out", default="out/demo.mp4", help="output MP4 (default: out/demo.mp4)")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=run)


def run(args) -> int:
    # Until the generator ships, the main job renders a micro-world clip.
    from kinora.world.spec import random_spec, SpecDistribution
    from kinora.world.sim import render_to_mp4

    spec = random_spec(args.seed, SpecDistribution(duration=(4.0, 4.0), width=128, height=128))
    path = render_to_mp4(spec, args.out)
    print(f"wrote {path}")
    return 0
