"""`kinora bench`: generation speed and memory, DiT vs diffusers' Wan, training, data engine."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from kinora.errors import KinoraError


def register(sub) -> None:
    p = sub.add_parser("bench", help="measure speed and memory on this machine (generation, DiT, training, data)")
    size = p.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="about a minute: the long videos with 1 sampling step")
    size.add_argument("--tiny", action="store_true", help="seconds: tiny random models (tests, CI)")
    p.add_argument("--model", default=None, help="DiT weights folder or file (default: the shipped model)")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    p.add_argument("--out", default=None, help="folder for bench.md and bench.json (default: out/bench)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    p.set_defaults(func=run)


def run(args) -> int:
    from kinora.eval.bench import run_bench
    from kinora.eval.report import bench_markdown
    from kinora.io.atomic import write_json_atomic, write_text_atomic

    if args.threads is not None and args.threads < 1:
        raise KinoraError(f"--threads must be at least 1, got {args.threads}")
    mode = "tiny" if args.tiny else "quick" if args.quick else "full"
    result = run_bench(mode, model=args.model, threads=args.threads)
    out = Path(args.out or "out/bench")
    md = bench_markdown(result)
    write_text_atomic(out / "bench.md", md)
    write_json_atomic(out / "bench.json", result)
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        print(md)
        print(f"wrote {out / 'bench.md'} and {out / 'bench.json'} ({result['wall_s']} s)", file=sys.stderr)
    return 0
