"""Argument types the commands share: each turns a string into a checked value or says,
in one argparse error line, what a valid one looks like."""

from __future__ import annotations

import argparse
import math

from kinora.defaults import MAX_SEED
from kinora.errors import KinoraError


def size(text: str) -> tuple[int, int]:
    """'64' -> (64, 64); '128x64' -> (width 128, height 64); both sides positive."""
    try:
        w, h = text.lower().split("x") if "x" in text.lower() else (text, text)
        w, h = int(w), int(h)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not WIDTHxHEIGHT or one number (e.g. 64 or 128x64)") from None
    if w < 1 or h < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a frame size; both sides must be positive (e.g. 64)")
    return w, h


def seed(text: str) -> int:
    """A seed: a whole number from 0 to 2**63 - 1 (what torch.Generator takes)."""
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 0 <= v <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"{v} is out of range; use 0 to {MAX_SEED}")
    return v


def at_least(lo: int):
    """A whole number >= lo."""
    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if v < lo:
            raise argparse.ArgumentTypeError(f"{v} is too small; use at least {lo}")
        return v
    parse.__name__ = f"whole number >= {lo}"
    return parse


threads = at_least(1)
count = at_least(1)


def finite(text: str) -> float:
    """A finite number (not nan or inf)."""
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(v):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return v


def _numbers(text: str, sep: str, n: int) -> tuple[float, ...] | None:
    """`n` numbers separated by `sep`, or None when the text is not that."""
    try:
        values = tuple(float(v) for v in text.split(sep))
    except ValueError:
        return None
    return values if len(values) == n else None


def edit_region(region: str | None, times: str | None):
    """--edit-region X0,Y0,X1,Y1 and --edit-time START:END -> a kinora.diffusion.tasks.EditRegion."""
    from kinora.diffusion.tasks import EditRegion

    if region is None:
        if times is not None:
            raise KinoraError("--edit-time needs --edit-region (which box of the frame to regenerate)")
        return None
    box = _numbers(region, ",", 4)
    if box is None:
        raise KinoraError(f"--edit-region {region!r} is not X0,Y0,X1,Y1 (fractions of the frame, e.g. 0.5,0,1,1)")
    span = None if times is None else _numbers(times, ":", 2)
    if times is not None and span is None:
        raise KinoraError(f"--edit-time {times!r} is not START:END in seconds (e.g. 1:3)")
    return EditRegion(box, span)


def add_backend(p, weights: str, dest: str) -> None:
    """--backend NAME and --model-dir DIR (the same destination as the command's weights option
    `weights`, e.g. --model): which generator makes the frames, and from which weights."""
    from kinora.pipelines.base import backend_names

    p.add_argument("--backend", default="kinora", choices=backend_names(),
                   help="the generator: kinora (our model, the default) or an open-weight model through diffusers "
                        "(needs pip install 'kinora[backends]' and --model-dir)")
    p.add_argument("--model-dir", dest=dest, default=None, metavar="DIR",
                   help=f"with --backend wan/cogvideox/ltx: its diffusers model folder (the same as {weights}; "
                        f"'kinora backends make-tiny NAME DIR' writes a tiny random one)")
