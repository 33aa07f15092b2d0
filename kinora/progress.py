"""How far a long library call has got, and a way to stop it: for the studio's job queue
and any other caller that shows progress.

The library reports from where the work happens (the sampler's steps, a film's shots)
without threading a callback through every signature: a caller installs a reporter for
the duration of a call, and the call's parts narrow the range its reports cover, the way
nested progress bars do (tqdm, rich). A reporter may raise `Cancelled` to stop the call
at its next report; the call then unwinds like any other error, leaving nothing
half-written (every write in Kinora is atomic).

    def show(fraction, message): print(f"{fraction:.0%} {message}")
    with reporting(show):
        make_film(text, "out/pip")            # 0% .. 100%, with "shot 3/10" etc.

    # inside the library
    for k, shot in enumerate(shots):
        with part(k, len(shots), f"shot {k + 1}/{len(shots)}"):
            ...  report(i / steps)            # maps into shot k's slice of the whole
"""

from __future__ import annotations

import contextlib
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Callable, Iterator

from kinora.errors import KinoraError


class Cancelled(KinoraError):
    """Raised by a reporter to stop the call it watches."""

    exit_code = 130


@dataclass(frozen=True)
class _Scope:
    reporter: Callable[[float, str], None]
    lo: float  # this scope's share of the whole call, as fractions of it
    hi: float
    message: str


_SCOPE: ContextVar[_Scope | None] = ContextVar("kinora_progress", default=None)


@contextlib.contextmanager
def reporting(reporter: Callable[[float, str], None]) -> Iterator[None]:
    """Send every report made inside the block to `reporter(fraction 0..1, message)`."""
    token = _SCOPE.set(_Scope(reporter, 0.0, 1.0, ""))
    try:
        yield
    finally:
        _SCOPE.reset(token)


@contextlib.contextmanager
def part(index: float, count: float, message: str = "") -> Iterator[None]:
    """The block is part `index` (from 0) of `count` equal parts of the enclosing scope."""
    scope = _SCOPE.get()
    if scope is None or count <= 0:
        yield
        return
    width = (scope.hi - scope.lo) / count
    lo = scope.lo + width * index
    label = " · ".join(m for m in (scope.message, message) if m)
    token = _SCOPE.set(_Scope(scope.reporter, lo, lo + width, label))
    try:
        report(0.0)
        yield
    finally:
        _SCOPE.reset(token)


def report(fraction: float, message: str = "") -> None:
    """`fraction` (0..1) of the current part is done; a no-op when nobody is watching."""
    scope = _SCOPE.get()
    if scope is None:
        return
    f = min(1.0, max(0.0, float(fraction)))
    label = " · ".join(m for m in (scope.message, message) if m)
    scope.reporter(scope.lo + (scope.hi - scope.lo) * f, label)
