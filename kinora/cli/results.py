"""`kinora results`: regenerate the results page (eval + bench of the shipped model)."""

from __future__ import annotations

from kinora.cli.args import at_least, count


def register(sub) -> None:
    p = sub.add_parser("results", help="regenerate docs/RESULTS.md: the held-out eval and the bench, with plots")
    p.add_argument("--quick", action="store_true", help="12 prompts and the quick bench")
    p.add_argument("--n", type=count, default=None, help="prompts (default: the whole suite, or 12 with --quick)")
    p.add_argument("--model", default=None, help="DiT weights (default: the shipped ones, if present)")
    p.add_argument("--bench", choices=["full", "quick", "none"], default=None,
                   help="which bench to run (default: full, or quick with --quick)")
    p.add_argument("--bench-threads", type=at_least(1), default=None, help="torch threads for the bench (default: all)")
    p.add_argument("--threads", type=at_least(1), default=1, help="torch threads for the evals (default 1)")
    p.add_argument("--out", default="docs", help="folder for RESULTS.md and results/ (default: docs)")
    p.add_argument("--commit", default="unknown", help="the source revision to name on the page")
    p.set_defaults(func=run)


def run(args) -> int:
    from kinora.eval.results import ResultsSettings, write_results

    print(write_results(ResultsSettings(out=args.out, quick=args.quick, n=args.n, model=args.model, bench=args.bench,
                                        bench_threads=args.bench_threads, threads=args.threads, commit=args.commit)))
    return 0
