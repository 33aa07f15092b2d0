"""`kinora studio`: serve Kinora Studio, the browser interface (kinora.studio.app), on the loopback."""

from __future__ import annotations

from kinora.cli.args import add_backend, at_least


def register(sub) -> None:
    p = sub.add_parser("studio", help="the studio in a browser: shots, stories to films, the timeline, jobs")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to serve on (default 127.0.0.1: only this computer can open it)")
    p.add_argument("--port", type=int, default=7860)
    p.add_argument("--project", default=None, metavar="DIR", help="a film project to open in the Timeline tab")
    p.add_argument("--workdir", default="out/studio", metavar="DIR",
                   help="where jobs and their results are kept (default out/studio)")
    p.add_argument("--workers", type=at_least(1), default=None,
                   help="generations at once (default and at most: one per CPU core)")
    p.add_argument("--weights", default=None, help="DiT checkpoint or weights folder (default: the shipped model)")
    add_backend(p, "--weights", "weights")
    p.set_defaults(func=run)


def run(args) -> int:
    from kinora.studio.app import serve

    serve(host=args.host, port=args.port, project=args.project, workdir=args.workdir, workers=args.workers,
          model=args.weights, backend=args.backend,
          on_ready=lambda url: print(f"Kinora Studio: {url} (press Ctrl+C to stop)", flush=True))
    return 0
