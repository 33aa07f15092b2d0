"""What the two training loops share, one copy each: the DiT's (kinora.train.dit) and the VAE's
(kinora.train.vae).

* EMA weights (both loops): `ema_update` moves the EMA copy towards the model by
  1 - decay; `ema_decay_at` warms the decay up as (1 + step) / (10 + step), capped at the
  run's decay, so the first weights fade fast.
* The learning rate (the DiT): `lr_at` is a linear warm-up, a constant stretch and an
  optional linear cool-down over the last steps (warmup-stable-decay: a run can be
  extended, and cooled down only when it is to end). The VAE's schedule is a different
  curve (a cosine from the end of the warm-up to the last step) and stays with it.
* Randomness: `step_generator` gives the generator for one step of one rank, seeded by
  (seed, rank, step), so a resumed run draws what an uninterrupted one would have.
* log.jsonl, one JSON record a line: `append_log`, `read_log`, `keep_log_until` (a resumed
  run drops the lines it redoes); `plot_log` draws some of its series against step as a
  PNG (PIL only).
* A run's inputs, checked before anything is written (kinora.errors: one line each):
  `check_number`, `check_seed`, `check_threads`, `check_device`, `check_out`, `check_file`.
  (`kinora.io.atomic.make_folders` creates --out and says which folders it made, and
  `remove_empty` removes those still empty when the run fails: a run that failed on its
  inputs leaves nothing.)

What it follows: nanoGPT's plain-function style (no trainer framework): each helper is a few
lines that both loops call the same way, and none of them changes a number the loops compute
(the losses of a seeded run are the same as before these were shared).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import torch

from kinora.defaults import MAX_SEED
from kinora.errors import KinoraError
from kinora.io.atomic import atomic_path, check_folder_path, write_text_atomic

# ---------------------------------------------------------------------------------
# EMA and learning rate
# ---------------------------------------------------------------------------------


@torch.no_grad()
def ema_update(ema: torch.nn.Module, model: torch.nn.Module, decay: float) -> None:
    """ema <- decay * ema + (1 - decay) * model, parameter by parameter."""
    for pe, pm in zip(ema.parameters(), model.parameters()):
        pe.lerp_(pm, 1.0 - decay)


def ema_decay_at(step: int, decay: float) -> float:
    """The EMA decay after `step` steps: grows from 0.1 towards `decay`, so early weights fade fast."""
    return min(decay, (1 + step) / (10 + step))


def lr_at(step: int, lr: float, warmup_steps: int, steps: int, decay_steps: int = 0, decay_to: float = 0.1) -> float:
    """The learning rate of step `step` (0-based) of a `steps`-step run: a linear warm-up over
    `warmup_steps`, constant, then a linear cool-down to lr * decay_to over the last `decay_steps`."""
    lr = lr * min(1.0, (step + 1) / warmup_steps) if warmup_steps > 0 else lr
    start = steps - decay_steps
    if decay_steps > 0 and step >= start:
        lr *= 1.0 - (1.0 - decay_to) * min(1.0, (step - start + 1) / decay_steps)
    return lr


def step_generator(seed: int, rank: int, step: int) -> torch.Generator:
    """The generator for everything random in one step of one rank."""
    return torch.Generator().manual_seed(((seed * 1_000_003 + rank) * 1_000_000_007 + step) % (2 ** 63))


# ---------------------------------------------------------------------------------
# The log and its plot
# ---------------------------------------------------------------------------------


def append_log(path: Path, rec: dict) -> None:
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(rec) + "\n")


def read_log(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def keep_log_until(path: Path, step: int) -> None:
    """Drop the log lines written after `step` (the last saved state): a resumed run redoes them."""
    kept = [r for r in read_log(path) if r["step"] <= step]
    write_text_atomic(path, "".join(json.dumps(r) + "\n" for r in kept))


@dataclass
class Panel:
    """One series of log.jsonl to plot: the records that have `key`, against their step."""

    title: str
    key: str
    log_scale: bool = False
    color: str = "blue"
    marks: bool = False  # a dot on every point (for sparse series such as evaluations)


def plot_log(records: list[dict], path: Path, panels: list[Panel], size: tuple[int, int] = (900, 360)) -> None:
    """The panels one above the other, as a PNG (PIL only); all share the step axis."""
    from PIL import Image, ImageDraw

    W, H, pad = size[0], size[1], 50
    img = Image.new("RGB", (W, H * len(panels)), "white")
    d = ImageDraw.Draw(img)
    steps = [r["step"] for r in records if any(p.key in r for p in panels)]
    xlo, xhi = (min(steps), max(max(steps), min(steps) + 1)) if steps else (0, 1)
    for k, panel in enumerate(panels):
        pts = [(r["step"], float(r[panel.key])) for r in records if panel.key in r]
        pts = [(x, math.log10(max(y, 1e-8)) if panel.log_scale else y) for x, y in pts if math.isfinite(y)]
        y0 = k * H
        d.text((pad, y0 + 10), panel.title, fill="black")
        d.rectangle([pad, y0 + 30, W - pad, y0 + H - pad], outline="black")
        if not pts:
            continue
        ys = [p[1] for p in pts]
        ylo, yhi = min(ys), max(ys)
        if yhi - ylo < 1e-6:
            ylo, yhi = ylo - 0.5, yhi + 0.5

        def to_px(x, y, y0=y0, ylo=ylo, yhi=yhi):  # this panel's frame, bound now
            return (pad + (x - xlo) / (xhi - xlo) * (W - 2 * pad),
                    y0 + H - pad - (y - ylo) / (yhi - ylo) * (H - pad - 30))

        if len(pts) > 1:
            d.line([to_px(x, y) for x, y in pts], fill=panel.color, width=2)
        if panel.marks:
            for x, y in pts:
                px, py = to_px(x, y)
                d.ellipse([px - 3, py - 3, px + 3, py + 3], fill=panel.color)
        for y in (ylo, yhi):
            label = f"{10 ** y:.3g}" if panel.log_scale else f"{y:.2f}"
            d.text((4, to_px(xlo, y)[1] - 6), label, fill="black")
        d.text((pad, y0 + H - pad + 5), f"step {xlo}", fill="black")
        d.text((W - pad - 80, y0 + H - pad + 5), f"step {xhi}", fill="black")
    with atomic_path(path) as tmp:
        img.save(tmp, format="PNG")


# ---------------------------------------------------------------------------------
# Checking a run's inputs (before anything is written)
# ---------------------------------------------------------------------------------


def check_number(flag: str, value, lo: float | None = None, hi: float | None = None, *,
                 lo_open: bool = False, hi_open: bool = False) -> None:
    """A finite number in the interval, else a one-line error naming the flag."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if ok and lo is not None:
        ok = value > lo if lo_open else value >= lo
    if ok and hi is not None:
        ok = value < hi if hi_open else value <= hi
    if ok:
        return
    if lo is not None and hi is not None:
        want = f"in {'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open else ']'}"
    elif lo is not None:
        want = f"{'more than' if lo_open else 'at least'} {lo:g}" if lo else ("positive" if lo_open else "0 or more")
    elif hi is not None:
        want = f"{'less than' if hi_open else 'at most'} {hi:g}"
    else:
        want = "a finite number"
    raise KinoraError(f"{flag} must be {want}, got {value!r}")


def check_seed(seed: int) -> None:
    if not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise KinoraError(f"--seed must be a whole number in [0, 2**63 - 1], got {seed!r}")


def check_threads(threads: int | None) -> None:
    if threads is not None and (not isinstance(threads, int) or threads < 1):
        raise KinoraError(f"--threads must be at least 1, got {threads!r}")


def check_device(device: str | None) -> None:
    """None (pick one), "cpu", or a CUDA / MPS device this machine has."""
    if device is None:
        return
    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError):
        raise KinoraError(f"--device {device!r} is not a device; use cpu or cuda (cuda:N for one GPU)") from None
    if dev.type == "cpu":
        return
    if dev.type == "cuda":
        n = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if n == 0:
            raise KinoraError(f"--device {device}: this machine has no usable CUDA GPU; use --device cpu")
        if dev.index is not None and dev.index >= n:
            raise KinoraError(f"--device {device}: this machine has {n} CUDA GPU(s) (cuda:0 to cuda:{n - 1})")
        return
    if dev.type == "mps":
        if not torch.backends.mps.is_available():
            raise KinoraError(f"--device {device}: MPS is not available on this machine; use --device cpu")
        return
    raise KinoraError(f"--device {device!r}: training runs on cpu, cuda or mps")


def check_out(out: Path, resume: bool, state_name: str = "train_state.pt", products: tuple[str, ...] = ()) -> None:
    """--out must be a folder, or a path where one can be made; with --resume it must hold a
    run; without it, it must hold none: no training state and no weights named by the glob
    patterns `products` (exported weights are hours of work, replaced by a new run's)."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise KinoraError(f"--out {out} is a file; name a folder for the run")
    check_folder_path(out, f"--out {out}")
    if resume and not (out / state_name).is_file():
        raise KinoraError(f"--resume: nothing to resume in {out} (no {state_name}); drop --resume to start a new run")
    if not resume and out.is_dir():
        held = [out / state_name] if (out / state_name).exists() else []
        held += [p for pattern in products for p in sorted(out.glob(pattern))]
        if held:
            raise KinoraError(f"{out} already holds a run ({held[0].name}); add --resume to continue it or pick "
                              f"another --out")


def check_file(flag: str, path: str | Path, what: str = "file") -> Path:
    path = Path(path)
    if not path.exists():
        raise KinoraError(f"{flag} {path}: no such {what}")
    if not path.is_file():
        raise KinoraError(f"{flag} {path} is a folder, not a {what}")
    return path
