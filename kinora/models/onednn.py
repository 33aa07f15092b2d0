"""Linear layers that sample in bf16 through oneDNN with their weights reordered once.

    layer = Linear(256, 1024)    # an nn.Linear: same parameters, names and checkpoints
    layer.to(torch.bfloat16)     # what DiT.set_compute_dtype does to the blocks
    with torch.no_grad():
        y = layer(x)             # bf16 x on CPU: oneDNN with the weight in its blocked layout

torch's CPU `F.linear` on bf16 reorders the weight into oneDNN's blocked layout on every call.
At the small model's sizes (144 tokens by 256-1024 channels) that reorder and the call's fixed
cost are a large part of each matmul: with the weight reordered once (the
`mkldnn._reorder_linear_weight` / `mkldnn._linear_pointwise` pair Inductor's CPU backend uses)
a 144 x 256 by 256 x 256 matmul takes 33 instead of 50 us and a 144 x 1024 by 1024 x 256
one 72 instead of 112 us (2 threads, AMX), with identical results. fp32 gains nothing
(MKL already runs at its speed), so only bf16 takes this path.

It is taken only for bf16 inference: gradients off, a bf16 weight and input on a CPU with
oneDNN's bf16 support and `torch.backends.mkldnn.enabled`, outside torch.compile (Inductor
does its own) and not for inference-mode weights (they keep no version). The reordered copy
is kept beside the module, not in it (an opaque oneDNN tensor can be neither copied nor
pickled, and the state dict stays the weights). It is made again when the weight gets new
storage (`.to()`, `p.data = ...`; the entry holds the old storage, so its address cannot come
back) or a new version (`load_state_dict`, an in-place write), and dropped by `train()` and
`eval()`, so a training step in between, even a fused optimizer's (which keeps the version),
is never missed. A write that bypasses both (`p.data.copy_(...)` in eval mode) needs
`forget(module)`.
"""

from __future__ import annotations

import functools
import weakref

import torch
import torch.nn as nn
import torch.nn.functional as F

# module -> (the weight's storage it was made from, that storage's version, the reordered weight)
_REORDERED: "weakref.WeakKeyDictionary[nn.Module, tuple]" = weakref.WeakKeyDictionary()


@functools.lru_cache(maxsize=1)
def onednn_linear() -> bool:
    """Can this torch run a bf16 linear layer through oneDNN with a reordered weight?"""
    ops = torch.ops.mkldnn
    return (torch.backends.mkldnn.is_available() and hasattr(ops, "_linear_pointwise")
            and hasattr(ops, "_reorder_linear_weight") and hasattr(ops, "_is_mkldnn_bf16_supported")
            and bool(ops._is_mkldnn_bf16_supported()))


def forget(module: nn.Module) -> None:
    """Drop the reordered weights of `module`'s layers (after a write they cannot see)."""
    for m in module.modules():
        _REORDERED.pop(m, None)


class Linear(nn.Linear):
    """nn.Linear whose bf16 inference on CPU goes through oneDNN with a weight reordered once."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.weight
        if (x.dtype != torch.bfloat16 or w.dtype != torch.bfloat16 or x.device.type != "cpu"
                or torch.is_grad_enabled() or torch.compiler.is_compiling() or w.is_inference()
                or not torch.backends.mkldnn.enabled or not onednn_linear()):
            return F.linear(x, w, self.bias)
        made = _REORDERED.get(self)
        if made is None or made[0].data_ptr() != w.data_ptr() or made[1] != w._version:
            # the row count is only a hint for the layout; any number of rows works with it
            made = (w.detach(), w._version, torch.ops.mkldnn._reorder_linear_weight(w.detach(), x.shape[:-1].numel()))
            _REORDERED[self] = made
        return torch.ops.mkldnn._linear_pointwise.default(x, made[2], self.bias, "none", [], "")

    def train(self, mode: bool = True) -> "Linear":
        _REORDERED.pop(self, None)  # whatever happens to the weight next is made again from it
        return super().train(mode)
