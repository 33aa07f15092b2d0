"""`kinora backends`: the open-weight generators Kinora drives through diffusers
(kinora.pipelines.adapters), and tiny random model folders to try them offline."""

from __future__ import annotations


def register(sub) -> None:
    from kinora.pipelines.adapters import BACKENDS

    p = sub.add_parser("backends", help="open-weight models through diffusers: list them, make a tiny one")
    bsub = p.add_subparsers(dest="backends_command", metavar="BACKENDS_COMMAND", parser_class=type(p))
    bsub.required = True
    q = bsub.add_parser("list", help="each backend, its pipelines and the tasks each does")
    q.set_defaults(func=cmd_list)
    q = bsub.add_parser("make-tiny", help="write a tiny random model folder (offline, under 1 MB) to try a backend")
    q.add_argument("name", choices=sorted(BACKENDS))
    q.add_argument("folder", metavar="DIR", help="the model folder to write (must be new, or --force)")
    q.add_argument("--force", action="store_true", help="replace DIR if it exists")
    q.add_argument("--i2v", action="store_true",
                   help="the image-to-video model (Wan, CogVideoX: separate weights; LTX's one folder does both)")
    q.set_defaults(func=cmd_make_tiny)


def cmd_list(args) -> int:
    from kinora.pipelines.adapters import describe

    print("kinora: Kinora's own model (the default); every task")
    for b in describe():
        tasks = "; ".join(f"{cls}: {', '.join(t)}" for cls, t in b["pipelines"].items())
        print(f"{b['name']}: {b['title']}, {b['fps']} fps, reads {'/'.join(b['languages'])}; {tasks}")
    return 0


def cmd_make_tiny(args) -> int:
    from kinora.pipelines.adapters import make_tiny

    folder = make_tiny(args.name, args.folder, force=args.force, i2v=args.i2v)
    print(f"wrote {folder} (a tiny {args.name} model with random weights); try: kinora generate --backend "
          f"{args.name} --model-dir {folder} \"a red ball bounces\" -o out/{args.name}-tiny.mp4")
    return 0
