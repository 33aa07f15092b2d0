"""A tqdm bar over sampling steps, fed by a pipeline's step callback (shown on a terminal only)."""

from __future__ import annotations

import sys


class StepBar:
    def __init__(self, desc: str):
        from tqdm import tqdm

        self.bar = tqdm(total=None, desc=desc, unit="step", disable=not sys.stderr.isatty())

    def __call__(self, pipe, i, t, state):
        self.bar.update(1)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.bar.close()
