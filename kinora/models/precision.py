"""Which number format the DiT computes in: fp32, or bf16 on CPUs with bf16 matrix units.

    dtype = compute_dtype("auto")   # torch.bfloat16 here (AMX / AVX-512 BF16); fp32 elsewhere
    dtype = compute_dtype("bf16")   # the same, but warned once where it falls back to fp32
    dit.set_compute_dtype(dtype)    # the transformer blocks run in it; see kinora.models.dit

bf16 pays only where the CPU has units for it (Intel AMX or AVX-512 BF16; Arm's BF16
extension): elsewhere a bf16 matmul is emulated and slower than fp32, so asking for bf16
there warns once and runs fp32. What stays fp32 either way (the time embedding, the
modulation, the text pooling, the final projection, the VAE) is the DiT's business; this
module only decides.
"""

from __future__ import annotations

import functools
import warnings
from pathlib import Path

import torch

from kinora.errors import KinoraError

PRECISIONS = ("auto", "fp32", "bf16")
DEFAULT_PRECISION = "auto"  # bf16 where the CPU has the units (eval: no loss, docs/MODEL.md), else fp32


@functools.lru_cache(maxsize=1)
def cpu_flags() -> frozenset[str]:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("flags", "Features")):
                return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def bf16_units() -> bool:
    """Does this CPU have bf16 matrix or vector units (AMX-BF16, AVX-512 BF16, Arm BF16)?"""
    flags = cpu_flags()
    return bool({"amx_bf16", "avx512_bf16", "bf16"} & flags)


@functools.lru_cache(maxsize=None)
def warn_once(msg: str) -> None:
    warnings.warn(msg, RuntimeWarning, stacklevel=3)


def compute_dtype(precision: str) -> torch.dtype:
    """The torch dtype for a precision name: "auto" is bf16 on a CPU with bf16 units and fp32
    elsewhere; "bf16" asked for on a CPU without them warns once and runs fp32."""
    if precision not in PRECISIONS:
        raise KinoraError(f"unknown precision {precision!r}; use one of {', '.join(PRECISIONS)}")
    if precision == "fp32":
        return torch.float32
    if precision == "auto":
        return torch.bfloat16 if bf16_units() else torch.float32
    if not bf16_units():
        warn_once("this CPU has no bf16 matrix units (AMX or AVX-512 BF16); bf16 would be emulated and slower, "
                  "so the DiT runs in fp32")
        return torch.float32
    return torch.bfloat16


TRAIN_PRECISIONS = ("auto", "fp32", "bf16")
# bf16 where it pays: 600 fine-tune steps of the shipped model in each format gave the same
# loss curve (within 1e-4) and the same eval on 480 held-out prompts (docs/MODEL.md)
DEFAULT_TRAIN_PRECISION = "auto"


def train_dtype(precision: str, device: torch.device | str = "cpu") -> torch.dtype:
    """The format the DiT's blocks train in (DiT.set_train_dtype): fp32, or bf16 autocast over
    fp32 weights. "auto" is bf16 on a CPU with bf16 units or a GPU with bf16, else fp32; where
    bf16 would not pay (a CPU without bf16 units, a GPU without bf16, any other device) asking
    for "bf16" warns once and trains fp32."""
    if precision not in TRAIN_PRECISIONS:
        raise KinoraError(f"unknown training precision {precision!r}; use one of {', '.join(TRAIN_PRECISIONS)}")
    if precision == "fp32":
        return torch.float32
    kind = torch.device(device).type
    if kind == "cpu":
        return compute_dtype(precision)
    if kind == "cuda" and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    if precision == "bf16":
        warn_once(f"bf16 training is not supported on {kind} here; the DiT trains in fp32")
    return torch.float32
