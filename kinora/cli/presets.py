"""`kinora presets`: the model size registry, with parameter counts and (optionally) timed forwards."""

from __future__ import annotations

import json

from kinora.cli.args import at_least


def register(sub) -> None:
    from kinora.models.presets import PRESETS

    p = sub.add_parser("presets", help="list the model presets (sizes, parameters; --time measures a forward)")
    p.add_argument("--time", nargs="*", metavar="PRESET", choices=sorted(PRESETS),
                   help="also time one guided DiT forward of these presets (all, if none named)")
    p.add_argument("--threads", type=at_least(1), default=None, help="torch threads (default: torch's choice)")
    p.set_defaults(func=run)


def run(args) -> int:
    from kinora.models.presets import PRESETS, describe

    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    for name in PRESETS:
        print(json.dumps(describe(name, time_forward=args.time is not None and name in (args.time or [name]))))
    return 0
