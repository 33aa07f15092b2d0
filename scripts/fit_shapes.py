"""Fit the analyzer's shape classifier on simulated clips; writes kinora/verify/shape_weights.json.

    python scripts/fit_shapes.py              # the shipped weights (about 5 min on 2 cores)
    python scripts/fit_shapes.py --n 200      # a quick look

The command line of `kinora.verify.fit_shapes.fit_shape_weights`; its module doc says
how the samples are drawn and the classifier is fitted.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's kinora

from kinora.verify.fit_shapes import fit_shape_weights  # noqa: E402
from kinora.verify.shapes import WEIGHTS_PATH  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=600, help="training clips (default 600)")
    ap.add_argument("--hidden", type=int, default=16, help="hidden ReLU units (default 16; 0: softmax regression)")
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--out", default=str(WEIGHTS_PATH))
    ap.add_argument("--cache", help="save / reuse the collected features in this .npz")
    args = ap.parse_args(argv)
    fit_shape_weights(n=args.n, hidden=args.hidden, steps=args.steps, workers=args.workers, out=args.out,
                      cache=args.cache, log=print)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
