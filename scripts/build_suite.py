"""Write (or check) the held-out prompt suite, kinora/eval/heldout.jsonl.

    python scripts/build_suite.py               # rewrite it (120 prompts)
    python scripts/build_suite.py --check       # exit 1 if the committed file differs

The command line of `kinora.eval.suite.build_suite` / `write_suite`; its module doc says
how the cases are drawn.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's kinora

from kinora.eval.suite import SUITE_PATH, SUITE_SIZE, build_suite, suite_is_current, write_suite  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(prog="python scripts/build_suite.py", description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=SUITE_SIZE)
    ap.add_argument("--out", default=str(SUITE_PATH))
    ap.add_argument("--check", action="store_true", help="compare with the file instead of writing it")
    a = ap.parse_args()
    if a.check:
        same = suite_is_current(a.n, a.out)
        print("up to date" if same else f"{a.out} differs from build_suite({a.n})")
        return 0 if same else 1
    print(write_suite(build_suite(a.n), a.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
