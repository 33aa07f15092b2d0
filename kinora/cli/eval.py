"""`kinora eval`: the held-out prompt suite through a generator, every dimension measured.

    kinora eval --quick                       # the shipped model, 12 prompts, about a minute
    kinora eval                               # all 120 held-out prompts
    kinora eval --backend simulator --quick   # the oracle: calibrates every metric
    kinora eval --backend vae --quick         # the simulator through the VAE: the latent space's ceiling
    kinora eval --model runs/dit --json       # another checkpoint, one JSON object on stdout
    kinora eval --understanding               # the reader on the held-out paraphrase suite (EN + ZH)
    kinora eval --understanding --split dev --no-sim   # the development part, without simulating
    kinora eval --guided                      # the shipped model with the simulator in the loop
    kinora eval --long                        # minute-long shots: drift per 5 s, simulator / free / guided
"""

from __future__ import annotations

import json
import sys

from kinora.cli.args import finite


def register(sub) -> None:
    from kinora.eval.runner import BACKEND_OPTIONS

    p = sub.add_parser("eval", help="measure a generator on the held-out prompt suite (alignment, physics, ...)")
    p.add_argument("--backend", default="kinora", choices=list(BACKEND_OPTIONS),
                   help="kinora: the model; simulator: the oracle (calibration); frozen: a still-frame baseline; "
                        "vae: the simulator's clips through the VAE (what the latent space allows)")
    p.add_argument("--model", default=None,
                   help="DiT checkpoint or folder (default: the shipped model); with --backend vae: a VAE file")
    p.add_argument("--suite", default=None, help="prompt suite JSONL (default: kinora/eval/heldout.jsonl)")
    p.add_argument("--n", type=int, default=None, help="use the first N prompts (English and Chinese in turn)")
    p.add_argument("--quick", action="store_true", help="12 prompts and 4 physics continuations (about a minute)")
    p.add_argument("--physics-n", type=int, default=None, help="at most this many physics continuations")
    p.add_argument("--no-physics", action="store_true", help="skip the physics continuations")
    p.add_argument("--seconds", type=finite, default=None, help="clip length (default: the suite's, 4 s)")
    p.add_argument("--size", type=int, default=None,
                   help="square frame side for every clip (default: the suite's, 64), e.g. 128 for the 128x128 ceiling")
    p.add_argument("--context-frames", type=int, default=None, help="frames given for physics (default 5)")
    p.add_argument("--steps", type=int, default=None, help="sampling steps (default: the model's)")
    p.add_argument("--guidance", type=finite, default=None, help="guidance scale (default: the model's)")
    p.add_argument("--precision", default=None, choices=("auto", "fp32", "bf16"),
                   help="the DiT's number format (default auto: bf16 where the CPU has bf16 units, else fp32)")
    p.add_argument("--guided", action="store_true", default=None,
                   help="simulator in the loop: the kinora backend generates with --physics (the physics signal)")
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads (default 1: the numbers then do not depend on the machine's cores, "
                        "and a busy machine is not oversubscribed)")
    p.add_argument("--out", default=None, help="folder for report.md, eval.json and plots (default: out/eval/BACKEND)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    u = p.add_argument_group("the reader (--understanding)")
    u.add_argument("--understanding", action="store_true",
                   help="measure how prompts are read: the paraphrase suite (kinora/eval/paraphrase), per language "
                        "and construction: spec-exact, per-field accuracy, silent substitutions, simulator pass")
    u.add_argument("--split", default="heldout", choices=("heldout", "dev", "all"),
                   help="which part of the paraphrase suite (default heldout)")
    u.add_argument("--lang", default=None, choices=("en", "zh"), help="one language only (default both)")
    u.add_argument("--no-sim", action="store_true", help="skip simulating each parsed spec (a few seconds instead of a "
                                                         "minute)")
    p.add_argument("--film", action="store_true",
                   help="story -> film: type detection, entity registries, news invention, story consistency on "
                        "kinora/eval/film (takes --split, --lang, --n, --model, --out, --json, --no-generate)")
    p.add_argument("--no-generate", action="store_true", help="with --film: the reading measures only (seconds)")
    p.add_argument("--long", action="store_true",
                   help="minute-long shots: colour, size and count drift per 5 s chunk, simulator, free and guided "
                        "(takes --seconds, --n, --model, --steps, --precision, --threads, --out, --json)")
    p.set_defaults(func=run)


# What --understanding does not take: the options of a generator eval, with their defaults.
_GENERATOR_OPTIONS = {"backend": "kinora", "model": None, "suite": None, "n": None, "quick": False, "physics_n": None,
                      "no_physics": False, "seconds": None, "size": None, "context_frames": None, "steps": None,
                      "guidance": None, "precision": None, "guided": None, "threads": 1}
_READER_OPTIONS = {"split": "heldout", "lang": None, "no_sim": False}


def run_understanding(args) -> int:
    from kinora.errors import KinoraError
    from kinora.eval.understanding import UnderstandingSettings, run_understanding

    given = [k for k, v in _GENERATOR_OPTIONS.items() if getattr(args, k) != v]
    if given:
        raise KinoraError(f"--understanding measures the reader, not a generator; drop --{given[0].replace('_', '-')} "
                          "(it takes --split, --lang, --no-sim, --out and --json)")
    run_ = run_understanding(UnderstandingSettings(split=args.split, lang=args.lang, simulate=not args.no_sim,
                                                   out=args.out))
    if args.json:
        print(json.dumps(run_.summary, ensure_ascii=False))
    else:
        print(run_.report)
        if run_.folder is not None:
            print(f"wrote {run_.folder / 'report.md'} and {run_.folder / 'understanding.json'}", file=sys.stderr)
    return 0


_LONG_TAKES = ("seconds", "n", "model", "steps", "precision", "threads")


def run_long(args) -> int:
    from kinora.errors import KinoraError
    from kinora.eval.long import LongSettings, run_long

    given = [k for k, v in {**_GENERATOR_OPTIONS, **_READER_OPTIONS}.items()
             if k not in _LONG_TAKES and getattr(args, k) != v]
    if given or args.understanding:
        flag = "understanding" if args.understanding else given[0].replace("_", "-")
        raise KinoraError(f"--long does not take --{flag} (it takes --seconds, --n, --model, --steps, --precision, "
                          "--threads, --out and --json)")
    kw = {k: getattr(args, k) for k in _LONG_TAKES if getattr(args, k) is not None}
    run_ = run_long(LongSettings(out=args.out, **kw), progress=not args.json)
    if args.json:
        print(json.dumps(run_.summary, ensure_ascii=False))
    else:
        print(run_.report)
        print(f"wrote {run_.folder / 'report.md'} and {run_.folder / 'long.json'}", file=sys.stderr)
    return 0


def run_film(args) -> int:
    from kinora.eval.film import FilmEvalSettings, run_film_eval

    r = run_film_eval(FilmEvalSettings(split=args.split, lang=args.lang, n=args.n, generate=not args.no_generate,
                                       model=args.model, out=args.out or "out/eval/film"),
                      progress=None if args.json else lambda m: print(m, file=sys.stderr))
    if args.json:
        print(json.dumps({k: v for k, v in r.items() if k != "report"}, ensure_ascii=False))
    else:
        print(r["report"])
    return 0


def run(args) -> int:
    from kinora.errors import KinoraError
    from kinora.eval.runner import EvalSettings, run_eval

    if args.film:
        return run_film(args)
    if args.no_generate:
        raise KinoraError("--no-generate belongs to --film; add --film or drop it")
    if args.long:
        return run_long(args)
    if args.understanding:
        return run_understanding(args)
    given = [k for k, v in _READER_OPTIONS.items() if getattr(args, k) != v]
    if given:
        raise KinoraError(f"--{given[0].replace('_', '-')} belongs to --understanding; add --understanding "
                          "or drop it")

    names = ("backend", "model", "suite", "n", "quick", "physics_n", "no_physics", "seconds", "size", "context_frames",
             "steps", "guidance", "precision", "guided", "threads", "out")
    run_ = run_eval(EvalSettings(**{k: getattr(args, k) for k in names}))
    if args.json:
        print(json.dumps(run_.result.summary, ensure_ascii=False))
    else:
        print(run_.report)
        print(f"wrote {run_.folder / 'report.md'}, {run_.folder / 'eval.json'} and {len(run_.plots)} plots",
              file=sys.stderr)
    return 0
