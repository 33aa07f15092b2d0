"""`kinora film` and `kinora storyboard`: a text file in, a storyboard (and a film) out.

    kinora film story.txt -o out/pip [--mode news|knowledge|story] [--seconds-per-shot 6] [--previs]
    kinora storyboard story.txt -o board.pdf
    kinora film news.txt -o out/news --planner openai --base-url http://127.0.0.1:8000/v1 --model NAME

They parse, call kinora.pipelines.film, and print; docs/FILM.md has the whole path.
"""

from __future__ import annotations

import sys

from kinora.cli.args import add_backend, seed


def _common(p) -> None:
    p.add_argument("text", metavar="TEXT_FILE", help="the story, news item or explanation (UTF-8 text)")
    p.add_argument("--mode", default=None, choices=("news", "knowledge", "story"),
                   help="the truth mode (default: detected from the text; the storyboard says why)")
    p.add_argument("--seconds-per-shot", type=float, default=None,
                   help="each shot's length unless its sentence gives one (default 4)")
    p.add_argument("--seed", type=seed, default=0)
    p.add_argument("--force", action="store_true", help="replace the output if it exists")
    p.add_argument("--planner", default="offline", choices=("offline", "openai"),
                   help="offline (default, no network) or an OpenAI-compatible LLM endpoint")
    p.add_argument("--base-url", default=None, help="with --planner openai: e.g. http://127.0.0.1:8000/v1")
    p.add_argument("--model", default=None, help="with --planner openai: the model name the endpoint serves")


def register(sub) -> None:
    p = sub.add_parser("film", help="a text file into a storyboard, a labeled film, OTIO and provenance")
    _common(p)
    p.add_argument("-o", "--out", required=True, metavar="DIR", help="output folder (must be new, or --force)")
    p.add_argument("--previs", action="store_true", help="storyboard keyframes from the simulator (a fast draft)")
    p.add_argument("--max-tries", type=int, default=3, help="takes per shot before it is flagged (default 3)")
    p.add_argument("--weights", default=None, help="DiT checkpoint or weights folder (default: the shipped model)")
    add_backend(p, "--weights", "weights")
    p.set_defaults(func=run_film)
    p = sub.add_parser("storyboard", help="a text file into a storyboard (PDF or HTML) drawn by the simulator")
    _common(p)
    p.add_argument("-o", "--out", required=True, metavar="FILE", help="board.pdf or board.html")
    p.set_defaults(func=run_storyboard)


def _planner(args):
    from kinora.errors import KinoraError

    if args.planner == "offline":
        if args.base_url or args.model:
            raise KinoraError("--base-url and --model are for --planner openai; add it, or drop them")
        return None
    from kinora.plan.llm import llm_planner

    return llm_planner(args.base_url, args.model)


def run_film(args) -> int:
    from kinora.pipelines.film import make_film, read_text

    text = read_text(args.text)
    r = make_film(text, args.out, mode=args.mode, seconds_per_shot=args.seconds_per_shot, previs_board=args.previs,
                  seed=args.seed, max_tries=args.max_tries, model=args.weights, backend=args.backend,
                  planner=_planner(args), force=args.force, progress=lambda m: print(m, file=sys.stderr))
    m = r.plan.mode
    print(f"mode: {m.mode} ({m.why})")
    for s in r.shots:
        state = "verified" if s["passed"] else f"FLAGGED ({s['flag']})"
        print(f"shot {s['shot']}: {state}; {len(s['tries'])} take(s)")
    print(f"wrote {r.folder}: film.mp4 (labeled), film.otio, storyboard.html, storyboard.pdf, provenance.json, "
          f"project/ in {r.timings['total_s']:.1f} s")
    return 0


def run_storyboard(args) -> int:
    from kinora.pipelines.film import make_storyboard, read_text

    out = make_storyboard(read_text(args.text), args.out, mode=args.mode, seconds_per_shot=args.seconds_per_shot,
                          seed=args.seed, planner=_planner(args), force=args.force)
    print(f"wrote {out}")
    return 0
