"""`kinora batch`: many shots or films from a JSONL file, with retries, progress and a summary.

    kinora batch jobs.jsonl -o out/batch [--workers 2] [--retries 2] [--resume | --force]
    kinora batch jobs.jsonl -o out/batch --ray local          # a Ray on this machine
    kinora batch jobs.jsonl -o out/batch --ray HOST:6379      # a Ray cluster

It parses, calls kinora.jobs.batch.run_batch (the file's format is in its docstring), and
prints one line per finished job to stderr and the totals at the end; exit 1 if any failed.
"""

from __future__ import annotations

import sys

from kinora.cli.args import at_least, count


def register(sub) -> None:
    p = sub.add_parser("batch", help="many shots or films from a JSONL file, with retries and a summary")
    p.add_argument("jobs", metavar="JOBS_JSONL", help="one job per line: a prompt string or a JSON object")
    p.add_argument("-o", "--out", required=True, metavar="DIR", help="output folder (with batch-summary.json)")
    p.add_argument("--ray", default=None, metavar="ADDRESS|auto|local",
                   help="run on a Ray cluster: its address, 'auto' for the one 'ray start' joined this machine "
                        "to, or 'local' for a new Ray on this machine (pip install 'kinora[ray]'); default: local "
                        "worker processes")
    p.add_argument("--workers", type=count, default=None,
                   help="worker processes (or Ray actors), each with one model (default: one per CPU)")
    p.add_argument("--retries", type=at_least(0), default=2,
                   help="attempts after a job's first one fails (default 2; bad input is never retried)")
    p.add_argument("--force", action="store_true", help="replace outputs that exist")
    p.add_argument("--resume", action="store_true",
                   help="skip the jobs an earlier run in DIR finished (listed ok, output complete and labeled)")
    p.set_defaults(func=run)


def _line(job, summary) -> None:
    n = sum(j.status != "pending" for j in summary.jobs)
    where = summary.path(job)
    if job.status == "pending":  # failed, and queued again
        print(f"retry   {where} (attempt {job.attempts} failed: {job.error})", file=sys.stderr)
        return
    tries = f"{job.attempts} attempt{'s' if job.attempts != 1 else ''}"
    why = f": {job.error}" if job.status == "failed" else ""
    print(f"[{n}/{len(summary.jobs)}] {job.status:<6} {where} {job.seconds:.1f} s, {tries}{why}", file=sys.stderr)


def run(args) -> int:
    from kinora.jobs.batch import SUMMARY, run_batch

    s = run_batch(args.jobs, args.out, ray=args.ray, workers=args.workers, retries=args.retries, force=args.force,
                  resume=args.resume, on_update=_line)
    t = s.totals
    skipped = f", {t['skipped']} skipped (done before)" if t["skipped"] else ""
    print(f"batch: {t['ok']} ok, {t['failed']} failed{skipped} of {t['jobs']} jobs in {t['seconds']:.1f} s "
          f"({s.pool}, {t['attempts']} attempts); summary in {s.folder / SUMMARY}")
    return 0 if s.ok else 1
