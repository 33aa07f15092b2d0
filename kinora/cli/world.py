"""`kinora world ...`: the micro-world simulator from the command line."""

from __future__ import annotations

import json
import sys

from kinora.cli.args import at_least, count, finite, seed, size
from kinora.defaults import DEFAULT_SECONDS, MAX_FPS, SHOWCASE_SECONDS
from kinora.errors import KinoraError


def register(sub) -> None:
    world = sub.add_parser("world", help="the micro-world simulator: render, sample, validate")
    wsub = world.add_subparsers(dest="world_command", metavar="WORLD_COMMAND", parser_class=type(world))
    wsub.required = True

    p = wsub.add_parser("render", help="render a ShotSpec JSON file (or a random spec) to MP4")
    p.add_argument("spec", nargs="?", help="ShotSpec JSON file; omit for a random spec from --seed")
    p.add_argument("-o", "--out", required=True, help="output MP4")
    p.add_argument("--truth", help="also write the ground truth JSON here")
    p.add_argument("--force", action="store_true", help="replace the outputs if they exist")
    _dist_args(p, duration=SHOWCASE_SECONDS)
    p.set_defaults(func=cmd_render)

    p = wsub.add_parser("random", help="print (or write) a random, resolved ShotSpec")
    p.add_argument("-o", "--out", help="write the spec here instead of printing it")
    p.add_argument("--force", action="store_true", help="replace the output if it exists")
    _dist_args(p, duration=DEFAULT_SECONDS)
    p.set_defaults(func=cmd_random)

    p = wsub.add_parser("schema", help="print the JSON Schema of ShotSpec files")
    p.set_defaults(func=cmd_schema)

    p = wsub.add_parser("sample", help="write a dataset of random clips (MP4 + JSON + training shards)")
    p.add_argument("--n", type=count, required=True, help="number of clips")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--workers", type=count, default=None, help="processes (default: all cores)")
    p.add_argument("--shard-size", type=count, default=256)
    p.add_argument("--no-clips", action="store_true", help="write only training shards, no per-clip MP4/JSON")
    p.add_argument("--max-objects", type=count, default=3)
    _dist_args(p, duration=DEFAULT_SECONDS)
    p.set_defaults(func=cmd_sample)

    p = wsub.add_parser("validate", help="measure the analyzer against ground truth on held-out clips")
    p.add_argument("--n", type=int, default=200, help="number of clips (default 200)")
    p.add_argument("--seed", type=at_least(0), default=0, help="offset into the held-out seed range")
    p.add_argument("--workers", type=count, default=None)
    p.add_argument("--size", type=size, default=(64, 64), help="frame size, e.g. 64 or 128x128")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_validate)


# What a random spec is drawn with unless the flags say otherwise (SpecDistribution's own).
DIST_DEFAULTS = {"seed": 0, "size": (64, 64), "fps": 8}


def _dist_args(p, duration: float) -> None:
    p.add_argument("--seed", type=seed, default=DIST_DEFAULTS["seed"])
    p.add_argument("--size", type=size, default=DIST_DEFAULTS["size"],
                   help="frame size, e.g. 64 or 128x128 (default 64)")
    p.add_argument("--fps", type=count, default=DIST_DEFAULTS["fps"],
                   help=f"frames per second, 1 to {MAX_FPS} (default 8)")
    p.add_argument("--duration", type=finite, default=duration, help=f"seconds (default {duration:g})")


def _dist(args, **extra):
    from kinora.world.spec import SpecDistribution

    w, h = args.size
    return SpecDistribution(duration=(args.duration, args.duration), fps=args.fps, width=w, height=h, **extra)


def cmd_render(args) -> int:
    from kinora.world.sim import render_files
    from kinora.world.spec import ShotSpec, random_spec

    given = {**DIST_DEFAULTS, "duration": SHOWCASE_SECONDS}
    changed = [f"--{k}" for k, v in given.items() if getattr(args, k) != v]
    if args.spec and changed:
        raise KinoraError(f"{', '.join(changed)} shape a random spec; a spec file sets its own size, fps and "
                          f"duration (edit the file, or omit it to render a random spec)")
    spec = ShotSpec.load(args.spec) if args.spec else random_spec(args.seed, _dist(args))
    render_files(spec, args.out, truth=args.truth, force=args.force)
    print(f"wrote {args.out} ({spec.num_frames} frames, {spec.width}x{spec.height}, {spec.fps} fps)")
    return 0


def cmd_random(args) -> int:
    from kinora.world.spec import random_spec

    spec = random_spec(args.seed, _dist(args))
    if args.out:
        spec.save(args.out, force=args.force)
        print(f"wrote {args.out}")
    else:
        print(spec.to_json())
    return 0


def cmd_schema(args) -> int:
    from kinora.world.spec import json_schema

    print(json.dumps(json_schema(), indent=2))
    return 0


def cmd_sample(args) -> int:
    from kinora.world.dataset import write_dataset

    index = write_dataset(args.out, args.n, seed=args.seed, dist=_dist(args, max_objects=args.max_objects),
                          workers=args.workers, shard_size=args.shard_size, clips=not args.no_clips,
                          progress=sys.stderr.isatty())
    print(f"wrote {index['n']} clips in {index['seconds']:.1f} s ({index['clips_per_s']:.1f} clips/s, "
          f"{index['workers']} workers) to {args.out}")
    return 0


def cmd_validate(args) -> int:
    from kinora.verify.validate import format_table, validate

    # Missing a target is a measurement, not an error: the table says MISS, the exit code stays 0.
    m = validate(n=args.n, seed=args.seed, workers=args.workers, size=args.size, progress=True)
    print(json.dumps(m) if args.json else format_table(m))
    return 0
