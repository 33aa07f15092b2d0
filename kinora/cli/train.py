"""`kinora train`: train the diffusion transformer (all the work is in kinora.train)."""

from __future__ import annotations


def register(sub) -> None:
    from kinora.train.dit import add_arguments

    p = sub.add_parser("train", help="train the video diffusion transformer on micro-world clips or real videos")
    add_arguments(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from kinora.train.dit import main

    return main(args)
