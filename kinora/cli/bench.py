"""`kinora bench`: generation speed and memory, DiT vs diffusers' Wan, training, data engine."""

from __future__ import annotations

import json
import sys

from kinora.cli.args import at_least


def register(sub) -> None:
    p = sub.add_parser("bench", help="measure speed and memory on this machine (generation, DiT, training, data)")
    size = p.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="about a minute: the long videos with 1 sampling step")
    size.add_argument("--tiny", action="store_true", help="seconds: tiny random models (tests, CI)")
    p.add_argument("--model", default=None, help="DiT weights folder or file (default: the shipped model)")
    p.add_argument("--threads", type=at_least(1), default=None, help="torch threads (default: torch's choice)")
    p.add_argument("--out", default=None, help="folder for bench.md and bench.json (default: out/bench)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    p.set_defaults(func=run)


def run(args) -> int:
    from kinora.eval.bench import bench_to_folder

    mode = "tiny" if args.tiny else "quick" if args.quick else "full"
    result, md, folder = bench_to_folder(mode, model=args.model, threads=args.threads, out=args.out)
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        print(md)
        print(f"wrote {folder / 'bench.md'} and {folder / 'bench.json'} ({result['wall_s']} s)", file=sys.stderr)
    return 0
