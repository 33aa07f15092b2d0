"""The diffusion transformer on spacetime patches (the Sora / Open-Sora recipe, CPU-sized).

A velocity predictor for rectified flow, `v = model(x, t, cond)`:

    x     (B, C, F, h, w)   noisy latents x_t of the video VAE (C channels, F latent frames)
    t     (B,)              flow time in [0, 1]; 1 is pure noise (see kinora/diffusion/flow.py)
    cond  dict              "text" (B, L, 384) MiniLM token states, "text_mask" (B, L) bool,
                            optional "mask" (B, 1, F, h, w) float (1 = known latent) and
                            "known" (B, C, F, h, w) the clean latents where mask = 1,
                            optional "signal" (B, S, F, s*h, s*w): the simulator's physics
                            signal (kinora.world.signal) for a model with signal_channels = S.

It follows DiT (facebookresearch/DiT: adaLN-zero, zero-initialised output, size presets)
with the video changes of Open-Sora and Wan 2.1:
* one sequence of spacetime patches (pt, ph, pw) with full 3D self-attention;
* 3D rotary position embedding: the head dimension is split into a time part and two
  space parts, so any number of frames, height, width and aspect ratio works and the
  model trains at native size without cropping;
* cross-attention to the frozen text encoder's token states (PixArt / Open-Sora);
* adaLN-single (PixArt-alpha, Wan 2.1): the timestep + pooled-text embedding is mapped
  ONCE to six modulation vectors (shift, scale, gate for attention and MLP) and each block
  adds its own learned table; both start at zero, so every block starts as the identity
  (DiT's adaLN-zero) at a sixth of DiT's per-block modulation parameters;
* conditioning on known frames by channel concatenation [x_t, known * mask, mask]
  (Open-Sora-Plan's inpainting model), so one model does t2v, i2v, extension, bridging,
  looping and inpainting; the tasks are masks (kinora/diffusion/flow.py);
* simulator in the loop (PhysGen, PSIVG; ControlNet's zero-initialised entry): the
  physics signal has its own patch embedding, added to the tokens, with no bias and zero
  initial weights, so a model warm-started from one without it is unchanged until it
  learns to read it, and "no signal" (zeros, what signal dropout trains) is the free model.
Attention is `torch.nn.functional.scaled_dot_product_attention`; fp32 on CPU by default,
bf16 blocks with `set_compute_dtype` (kinora.models.precision decides where that pays). A
sampling pass at this size is mostly per-call cost, so in inference the blocks' bf16 linear
layers run through oneDNN with weights reordered once (kinora.models.onednn), each block's
cross-attention keys and values are made once per prompt (DiT.prompt), and q and k are
normalised and rotated in one go.
Size presets live in kinora/models/presets.py; checkpoints are safetensors with the config inside.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from kinora.errors import KinoraError
from kinora.models.onednn import Linear
from kinora.models.precision import warn_once

CHECKPOINT_FORMAT = "kinora-dit-1"
NO_SIGNAL = ("was trained without the physics signal; use a checkpoint trained with it (the shipped one) or "
             "generate without --physics")


@dataclass
class DiTConfig:
    latent_channels: int = 8  # C of the VAE latent
    patch: tuple[int, int, int] = (1, 2, 2)  # (pt, ph, pw) latent cells per token
    width: int = 384  # D
    depth: int = 8
    heads: int = 6
    mlp_ratio: float = 4.0
    text_dim: int = 384  # MiniLM-L6 hidden size (kinora/models/text.py)
    rope_theta: float = 10000.0
    grad_checkpoint: bool = False  # recompute blocks in backward: less memory, ~30 % slower
    signal_channels: int = 0  # S of the physics signal (kinora.world.signal); 0: free generation only
    signal_scale: int = 2  # signal cells per latent cell along each side (8-pixel cells -> 4-pixel cells)

    def __post_init__(self):
        self.patch = tuple(int(p) for p in self.patch)  # JSON gives a list
        if len(self.patch) != 3 or min(self.patch) < 1:
            raise KinoraError(f"patch must be three positive sizes (pt, ph, pw), got {self.patch}")
        if self.width % self.heads:
            raise KinoraError(f"width {self.width} is not divisible by heads {self.heads}")
        if self.head_dim % 2 or self.head_dim < 8:
            raise KinoraError(f"head dimension {self.head_dim} must be even and at least 8 for 3D RoPE")
        if self.signal_channels < 0 or self.signal_scale < 1:
            raise KinoraError(f"signal_channels must be >= 0 and signal_scale >= 1, got "
                              f"{self.signal_channels} and {self.signal_scale}")

    @property
    def in_channels(self) -> int:
        return 2 * self.latent_channels + 1  # [x_t, known * mask, mask]

    @property
    def head_dim(self) -> int:
        return self.width // self.heads

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, s: str) -> "DiTConfig":
        d = json.loads(s)
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise KinoraError(f"unknown DiTConfig fields {sorted(unknown)} (checkpoint from a newer Kinora?)")
        return cls(**d)


# ---------------------------------------------------------------------------------
# Embeddings: timestep, text, 3D rotary positions
# ---------------------------------------------------------------------------------


def timestep_embedding(t: torch.Tensor, dim: int = 256, max_period: float = 10000.0) -> torch.Tensor:
    """Sinusoidal features of t in [0, 1] (scaled by 1000 as in DiT's integer steps): (B, dim)."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
    args = 1000.0 * t.float()[:, None] * freqs[None]  # (B, half)
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


class TimestepEmbedder(nn.Module):
    def __init__(self, width: int, freq_dim: int = 256):
        super().__init__()
        self.freq_dim = freq_dim
        self.mlp = nn.Sequential(nn.Linear(freq_dim, width), nn.SiLU(), nn.Linear(width, width))

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        return self.mlp(timestep_embedding(t, self.freq_dim))  # (B, D)


def rope_axis_split(head_dim: int) -> tuple[int, int, int]:
    """How many rotary frequency pairs go to (time, height, width).

    A quarter of the head_dim/2 pairs to time and the rest split evenly between height and
    width (one odd pair stays unrotated); head_dim 64 -> (8, 12, 12) pairs.
    """
    pairs = head_dim // 2
    nt = pairs // 4
    nh = (pairs - nt) // 2
    return nt, nh, nh


def rope_3d(f: int, h: int, w: int, head_dim: int, theta: float, device=None) -> tuple[torch.Tensor, torch.Tensor]:
    """cos, sin of the 3D rotary angles for an (f, h, w) token grid: each (N, head_dim/2), N = f*h*w.

    Positions are integer token indices along each axis, so a longer or larger grid just
    continues the same rotations (no table to interpolate, any duration or aspect ratio).
    """
    angles = []
    grids = torch.meshgrid(torch.arange(f), torch.arange(h), torch.arange(w), indexing="ij")  # 3 x (f, h, w)
    for pos, n in zip(grids, rope_axis_split(head_dim)):
        freqs = theta ** (-torch.arange(n, dtype=torch.float64) / max(n, 1))  # (n,)
        angles.append(pos.reshape(-1, 1).double() * freqs[None])  # (N, n)
    ang = torch.cat(angles, dim=1)  # (N, nt + nh + nw)
    pad = head_dim // 2 - ang.shape[1]
    ang = F.pad(ang, (0, pad))  # unrotated leftover pair(s): angle 0
    return ang.cos().float().to(device), ang.sin().float().to(device)


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate (..., hd) by the angles, cos and sin broadcastable to (..., hd/2), e.g. (B, heads,
    N, hd) by (N, hd/2); pairs are (i, i + hd/2) ("rotate half")."""
    x1, x2 = x.chunk(2, dim=-1)  # 2 x (..., hd/2)
    return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], dim=-1)


# Scores per head up to which explicit attention beats torch's CPU flash kernel in bf16
# training (its backward runs 2-7x slower than explicit bf16 matmuls at 144-576 tokens,
# measured on AMX; beyond, the (N, L) score matrix costs more than it saves).
EXPLICIT_ATTENTION_MAX_SCORES = 576 * 576


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, attn_mask: torch.Tensor | None = None) -> torch.Tensor:
    """scaled_dot_product_attention, except for bf16 training on CPU at small sizes: there
    the two matmuls run on the matrix units and the softmax is computed in fp32."""
    # q (B, H, N, hd), k and v (B, H, L, hd), attn_mask broadcastable to (B, H, N, L), True = attend
    small = q.shape[-2] * k.shape[-2] <= EXPLICIT_ATTENTION_MAX_SCORES
    if q.dtype == torch.bfloat16 and q.device.type == "cpu" and q.requires_grad and small:
        scores = (q @ k.transpose(-1, -2)).float() * q.shape[-1] ** -0.5  # (B, H, N, L)
        if attn_mask is not None:
            scores = scores.masked_fill(~attn_mask, float("-inf"))
        return scores.softmax(dim=-1).to(v.dtype) @ v  # (B, H, N, hd)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)


def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return torch.addcmul(shift[:, None], x, 1 + scale[:, None])  # x (B, N, D), shift/scale (B, D)


# ---------------------------------------------------------------------------------
# Core blocks
# ---------------------------------------------------------------------------------


class QKNorm(nn.RMSNorm):
    """RMSNorm computed in its input's format. Under bf16 autocast (training with
    set_train_dtype) its input is bf16 and its weight the fp32 master copy; torch's fused
    kernel refuses the mix and falls back to several unfused ops, so the weight (head_dim
    numbers) is cast per call instead. The fused kernel keeps the statistics in fp32; in
    fp32 and in bf16 sampling the cast is a no-op and the result is nn.RMSNorm's."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.rms_norm(x, self.normalized_shape, self.weight.to(x.dtype), self.eps)


def rms_norm_pair(x: torch.Tensor, first: QKNorm, second: QKNorm) -> torch.Tensor:
    """RMS-normalise (2, B, H, N, hd) over hd, x[0] with `first`'s weight and x[1] with
    `second`'s: one call for q and k, since at 144 tokens a call costs about the same for
    one of them as for both (the statistics as in QKNorm; the weights multiply the result)."""
    w = torch.stack([first.weight, second.weight]).to(x.dtype)[:, None, None, None]  # (2, 1, 1, 1, hd)
    return F.rms_norm(x, first.normalized_shape, None, first.eps) * w


def cxx_compiler() -> str | None:
    """The C++ compiler torch.compile's CPU backend would call ($CXX, else g++, c++, clang++)."""
    for name in (os.environ.get("CXX"), "g++", "c++", "clang++"):
        if name and shutil.which(name):
            return name
    return None


class BlockGELU(nn.Module):
    """The MLP's GELU: the tanh form in fp32, the erf form on bf16 inputs (bf16 sampling and
    bf16 training alike). The two differ by at most 4.7e-4, under bf16's own rounding of the
    tanh form (7.8e-3 at the outputs' scale), and torch's erf kernel is 3-5x faster on CPU
    (39 vs 210 us for a (2, 144, 1024) tensor on AVX-512 BF16; 2.5 vs 7.2 ms for (16, 144,
    1024) forward and backward on AMX). fp32 keeps the tanh form, bit for bit."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.gelu(x, approximate="none" if x.dtype == torch.bfloat16 else "tanh")


class SelfAttention(nn.Module):
    def __init__(self, cfg: DiTConfig):
        super().__init__()
        self.heads = cfg.heads
        self.qkv = Linear(cfg.width, 3 * cfg.width)
        # QK-norm (Open-Sora, Wan, SD3) keeps attention logits bounded as training runs long.
        self.q_norm = QKNorm(cfg.head_dim, eps=1e-6)
        self.k_norm = QKNorm(cfg.head_dim, eps=1e-6)
        self.proj = Linear(cfg.width, cfg.width)

    def forward(self, x, cos, sin):
        B, N, D = x.shape
        qkv = self.qkv(x).view(B, N, 3, self.heads, D // self.heads).permute(2, 0, 3, 1, 4)  # (3, B, H, N, hd)
        # q and k normalised and rotated together: half the small ops of doing them apart
        q, k = apply_rope(rms_norm_pair(qkv[:2], self.q_norm, self.k_norm), cos, sin).unbind(0)  # 2 x (B, H, N, hd)
        out = attention(q, k, qkv[2])  # (B, H, N, hd)
        return self.proj(out.transpose(1, 2).reshape(B, N, D))  # (B, N, D)


class CrossAttention(nn.Module):
    def __init__(self, cfg: DiTConfig):
        super().__init__()
        self.heads = cfg.heads
        self.q = Linear(cfg.width, cfg.width)
        self.kv = Linear(cfg.width, 2 * cfg.width)
        self.q_norm = QKNorm(cfg.head_dim, eps=1e-6)
        self.k_norm = QKNorm(cfg.head_dim, eps=1e-6)
        self.proj = Linear(cfg.width, cfg.width)

    def text_kv(self, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The projected text (B, L, D) -> this layer's normalised keys and values, 2 x (B, H, L, hd)."""
        B, L, D = y.shape
        kv = self.kv(y).view(B, L, 2, self.heads, D // self.heads)  # (B, L, 2, H, hd)
        k, v = kv.permute(2, 0, 3, 1, 4).unbind(0)  # 2 x (B, H, L, hd)
        return self.k_norm(k), v

    def forward(self, x, kv, attn_mask):
        # kv: text_kv's keys and values; attn_mask (B, 1, 1, L), True = attend, or None for all
        B, N, D = x.shape
        q = self.q(x).view(B, N, self.heads, D // self.heads).transpose(1, 2)  # (B, H, N, hd)
        out = attention(self.q_norm(q), *kv, attn_mask=attn_mask)
        return self.proj(out.transpose(1, 2).reshape(B, N, D))  # (B, N, D)


class Block(nn.Module):
    """Self-attention over spacetime tokens, cross-attention to text, MLP; adaLN-single."""

    def __init__(self, cfg: DiTConfig):
        super().__init__()
        D = cfg.width
        self.norm1 = nn.LayerNorm(D, elementwise_affine=False, eps=1e-6)
        self.attn = SelfAttention(cfg)
        self.norm2 = nn.LayerNorm(D, eps=1e-6)  # cross-attention is not modulated (PixArt, Wan)
        self.cross = CrossAttention(cfg)
        self.norm3 = nn.LayerNorm(D, elementwise_affine=False, eps=1e-6)
        hidden = int(D * cfg.mlp_ratio)
        self.mlp = nn.Sequential(Linear(D, hidden), BlockGELU(), Linear(hidden, D))
        # This block's offset to the shared modulation; zero so the block starts as identity.
        self.mod_table = nn.Parameter(torch.zeros(6, D))

    def forward(self, x, mod, text, attn_mask, cos, sin):
        # x (B, N, D); mod (B, 6, D) shared modulation; text the projected prompt (B, L, D), or
        # this block's cross-attention keys and values made from it (DiT.prompt)
        kv = self.cross.text_kv(text) if torch.is_tensor(text) else text
        shift1, scale1, gate1, shift2, scale2, gate2 = (mod + self.mod_table).unbind(1)  # 6 x (B, D)
        # (addcmul: one op for x + gate * f(x); at 144 tokens each op's fixed cost counts)
        x = torch.addcmul(x, gate1[:, None], self.attn(modulate(self.norm1(x), shift1, scale1), cos, sin))
        x = x + self.cross(self.norm2(x), kv, attn_mask)
        x = torch.addcmul(x, gate2[:, None], self.mlp(modulate(self.norm3(x), shift2, scale2)))
        return x


# ---------------------------------------------------------------------------------
# The model
# ---------------------------------------------------------------------------------


@dataclass
class PromptStates:
    """What the blocks read of the prompt (DiT.prompt), the same at every step of a sampling call."""

    pooled: torch.Tensor  # (B, D) the pooled prompt's part of the modulation input
    text: list  # per block: the projected prompt (B, L, D), or its keys and values 2 x (B, H, L, hd)
    attn_mask: torch.Tensor | None  # (B, 1, 1, L), True = attend; None when no token is padding


class DiT(nn.Module):
    def __init__(self, cfg: DiTConfig):
        super().__init__()
        self.cfg = cfg
        D = cfg.width
        pt, ph, pw = cfg.patch
        self.patch_embed = nn.Linear(cfg.in_channels * pt * ph * pw, D)
        if cfg.signal_channels:
            k = cfg.signal_scale
            self.signal_embed = nn.Linear(cfg.signal_channels * pt * ph * k * pw * k, D, bias=False)
        self.t_embed = TimestepEmbedder(D)
        # Text: token states -> D for cross-attention (PixArt's caption MLP); their masked
        # mean -> D added to the timestep embedding, so modulation also sees the prompt.
        self.text_proj = nn.Sequential(nn.Linear(cfg.text_dim, D), nn.GELU(approximate="tanh"), nn.Linear(D, D))
        self.text_pool = nn.Linear(cfg.text_dim, D)
        self.t_mod = nn.Sequential(nn.SiLU(), nn.Linear(D, 6 * D))  # shared adaLN-single
        self.blocks = nn.ModuleList([Block(cfg) for _ in range(cfg.depth)])
        self.final_norm = nn.LayerNorm(D, elementwise_affine=False, eps=1e-6)
        self.final_mod = nn.Sequential(nn.SiLU(), nn.Linear(D, 2 * D))
        self.final_proj = nn.Linear(D, cfg.latent_channels * pt * ph * pw)
        self._rope_cache: dict = {}
        self._prompt_memo: tuple | None = None  # (weights key, text, mask, PromptStates, the weights held): prompt()
        self.compute = torch.float32  # the blocks' number format (set_compute_dtype); the rest is fp32
        self.train_compute = torch.float32  # the blocks' format in training (set_train_dtype): autocast
        self.initialize_weights()

    def set_compute_dtype(self, dtype: torch.dtype) -> "DiT":
        """Run the transformer blocks in `dtype` (bf16 on CPUs with matrix units: see
        kinora.models.precision). For sampling: the blocks' weights are cast once, so no
        matmul casts its weights per call. The time embedding, the modulation vectors, the
        text pooling and the final layer stay fp32 (the flow's time variable and the
        velocity the sampler integrates keep their precision). Training keeps fp32 weights.
        The cast is one way: setting fp32 again afterwards runs fp32 maths on the rounded weights.
        In bf16 the MLP's GELU takes its erf form (BlockGELU)."""
        self.compute = dtype
        for block in self.blocks:
            block.to(dtype)
        return self

    def set_train_dtype(self, dtype: torch.dtype) -> "DiT":
        """Train the transformer blocks in `dtype` (bf16: `kinora train --precision bf16`) by
        autocast over fp32 weights: AdamW, the EMA and the checkpoints keep the fp32 master
        copy, and the residual stream stays fp32 (each block's matmuls and attention take bf16
        inputs and add their bf16 outputs back into it). The embeddings, the time variable, the
        modulation, the text pooling and the final layer run in fp32 as in sampling; the norms
        compute their statistics in fp32 (torch's bf16 norm kernels accumulate in fp32). Only
        in training mode: eval() samples as set_compute_dtype says."""
        self.train_compute = dtype
        return self

    @property
    def train_precision(self) -> str:
        """The training format set_train_dtype chose, as checkpoints record it: "bf16" or "fp32"."""
        return "bf16" if self.train_compute == torch.bfloat16 else "fp32"

    def compile_blocks(self) -> bool:
        """torch.compile each transformer block in place (`kinora train --compile`): Inductor
        fuses the blocks' elementwise work (modulation, rotation, GELU, the residual adds) that
        dominates a small model's step. nn.Module.compile leaves the weights, their names and
        the checkpoints as they are. Costs 20-35 s of compilation on the first step of each new
        shape (2 cores). On CPU Inductor needs a C++ compiler at run time: without one this
        warns once and returns False, and the blocks run eagerly."""
        if next(self.parameters()).device.type == "cpu" and not cxx_compiler():
            warn_once("--compile needs a C++ compiler on CPU (g++ or clang++; $CXX) and none was found, "
                      "so the blocks run uncompiled")
            return False
        for block in self.blocks:
            block.compile()
        return True

    def initialize_weights(self):
        # Xavier for every linear layer with zero bias (as in DiT / ViT).
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
        # Timestep MLP: small normal init, as in DiT.
        for m in self.t_embed.mlp:
            if isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, std=0.02)
        # adaLN-zero: all modulation outputs start at zero, so scale = 1, shift = 0 and
        # gates = 0 -> each block is the identity and training starts from a stable net.
        for m in (self.t_mod[-1], self.final_mod[-1]):
            nn.init.zeros_(m.weight)
            nn.init.zeros_(m.bias)
        # The physics signal enters at zero: warm starts keep their predictions until it is learned.
        if self.cfg.signal_channels:
            nn.init.zeros_(self.signal_embed.weight)
        # Zero output layer: the initial prediction is v = 0 for every input.
        nn.init.zeros_(self.final_proj.weight)
        nn.init.zeros_(self.final_proj.bias)

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    @property
    def _mixed(self) -> bool:
        return self.training and self.train_compute != torch.float32

    def prompt(self, text: torch.Tensor, text_mask: torch.Tensor) -> PromptStates:
        """The prompt's states for the blocks, from the text (B, L, 384) and its mask (B, L).

        A sampling call asks for the same prompt at every step and window, and in inference
        (eval mode, no gradients) each block's cross-attention keys and values are made once
        from it: the last prompt's states are given again while the prompt (compared by
        value) and the weights that made them (by storage, held so its address cannot come
        back, and version) are unchanged. `train()` and `eval()` drop them, so a training
        step in between is never missed; a write that bypasses both (`p.data.copy_(...)` in
        eval mode) needs `forget_prompt()`. Inference-mode weights keep no version: no memo.
        In training each block makes its own inside its forward, where FSDP has its weights
        (a sharded model is only called in training)."""
        weights = list(self._prompt_weights())
        inference = not self.training and not torch.is_grad_enabled()
        if not inference or any(p.is_inference() for p in weights):
            return self._prompt_states(text, text_mask, per_block=inference)
        key = (self.compute, text.dtype, tuple((p.data_ptr(), p._version) for p in weights))
        memo = self._prompt_memo
        if memo is not None and memo[0] == key and torch.equal(memo[1], text) and torch.equal(memo[2], text_mask):
            return memo[3]
        states = self._prompt_states(text, text_mask, per_block=True)
        self._prompt_memo = (key, text.clone(), text_mask.clone(), states, [p.detach() for p in weights])
        return states

    def forget_prompt(self) -> None:
        """Drop the kept prompt states (after a weight write that bypasses the version counter)."""
        self._prompt_memo = None

    def train(self, mode: bool = True) -> "DiT":
        self._prompt_memo = None  # a training step may follow: never give states from before it
        return super().train(mode)

    def _prompt_weights(self):
        yield from self.text_pool.parameters()
        yield from self.text_proj.parameters()
        for block in self.blocks:
            yield from block.cross.kv.parameters()
            yield from block.cross.k_norm.parameters()

    def _prompt_states(self, text, text_mask, per_block: bool) -> PromptStates:
        m = text_mask[..., None].to(text.dtype)  # (B, L, 1)
        pooled = (text * m).sum(1) / m.sum(1).clamp(min=1.0)  # (B, 384) masked mean
        y = self.text_proj(text).to(self.compute)  # (B, L, D)
        if per_block:
            texts = [block.cross.text_kv(y) for block in self.blocks]
        else:
            texts = [y] * len(self.blocks)
        attn_mask = None if bool(text_mask.all()) else text_mask[:, None, None, :]  # (B, 1, 1, L)
        return PromptStates(self.text_pool(pooled), texts, attn_mask)

    def _rope(self, f, h, w, device):
        key = (f, h, w, str(device))
        if key not in self._rope_cache:
            if len(self._rope_cache) > 32:  # many bucket shapes: keep the cache bounded
                self._rope_cache.clear()
            self._rope_cache[key] = rope_3d(f, h, w, self.cfg.head_dim, self.cfg.rope_theta, device)
        return self._rope_cache[key]

    def patchify(self, x: torch.Tensor, scale: int = 1) -> torch.Tensor:
        """(B, C, F, H, W) -> (B, N, C*pt*ph*pw) tokens; `scale` > 1 for a grid finer than the latents."""
        B, C, Fr, H, W = x.shape
        pt, ph, pw = self.cfg.patch
        ph, pw = ph * scale, pw * scale
        if Fr % pt or H % ph or W % pw:
            raise KinoraError(f"latent grid (F={Fr}, h={H}, w={W}) is not divisible by the patch size {self.cfg.patch}")
        x = x.view(B, C, Fr // pt, pt, H // ph, ph, W // pw, pw)  # (B, C, f, pt, h, ph, w, pw)
        x = x.permute(0, 2, 4, 6, 1, 3, 5, 7)  # (B, f, h, w, C, pt, ph, pw)
        return x.reshape(B, -1, C * pt * ph * pw)  # (B, N, C*pt*ph*pw), N = f*h*w

    def embed_signal(self, signal: torch.Tensor, B: int, Fr: int, H: int, W: int) -> torch.Tensor:
        """The physics signal (B, S, F, k*H, k*W) -> (B, N, D), to add to the tokens."""
        cfg = self.cfg
        if not cfg.signal_channels:
            raise KinoraError(f"this model {NO_SIGNAL}")
        k = cfg.signal_scale
        want = (B, cfg.signal_channels, Fr, k * H, k * W)
        if tuple(signal.shape) != want:
            raise KinoraError(f"physics signal has shape {tuple(signal.shape)}, the model expects {want}")
        return self.signal_embed(self.patchify(signal.to(self.signal_embed.weight.dtype), scale=k))

    def unpatchify(self, x: torch.Tensor, f: int, h: int, w: int) -> torch.Tensor:
        B = x.shape[0]
        pt, ph, pw = self.cfg.patch
        C = self.cfg.latent_channels
        x = x.view(B, f, h, w, C, pt, ph, pw)  # (B, f, h, w, C, pt, ph, pw)
        x = x.permute(0, 4, 1, 5, 2, 6, 3, 7)  # (B, C, f, pt, h, ph, w, pw)
        return x.reshape(B, C, f * pt, h * ph, w * pw)  # (B, C, F, H, W)

    def forward(self, x: torch.Tensor, t: torch.Tensor, cond: dict) -> torch.Tensor:
        B, C, Fr, H, W = x.shape
        if C != self.cfg.latent_channels:
            raise KinoraError(f"the DiT expects {self.cfg.latent_channels} latent channels, got {C}")
        if "text" not in cond or "text_mask" not in cond:
            raise KinoraError("cond needs 'text' (B, L, 384) and 'text_mask' (B, L); use '' for no prompt")
        t = t.to(x.dtype).expand(B) if t.ndim == 0 else t.to(x.dtype)  # (B,)
        mask = cond.get("mask")
        if mask is None:  # text-to-video: nothing known
            mask = x.new_zeros(B, 1, Fr, H, W)
            known = torch.zeros_like(x)
        else:
            known = cond["known"]
        inp = torch.cat([x, known * mask, mask], dim=1)  # (B, 2C+1, F, H, W)

        pt, ph, pw = self.cfg.patch
        f, h, w = Fr // pt, H // ph, W // pw
        tokens = self.patch_embed(self.patchify(inp))  # (B, N, D)
        if cond.get("signal") is not None:
            tokens = tokens + self.embed_signal(cond["signal"], B, Fr, H, W)

        prompt = self.prompt(cond["text"].to(x.dtype), cond["text_mask"].bool())  # (B, L, 384), (B, L)
        c = self.t_embed(t) + prompt.pooled  # (B, D)
        mod = self.t_mod(c).view(B, 6, -1)  # (B, 6, D)
        cos, sin = self._rope(f, h, w, x.device)  # (N, hd/2) each
        if self.compute != tokens.dtype:  # bf16 blocks: cast their inputs once, the output back below
            dt = self.compute
            tokens, mod, cos, sin = tokens.to(dt), mod.to(dt), cos.to(dt), sin.to(dt)

        if self._mixed:  # the rotation in the blocks' format, as in bf16 sampling (no fp32 promotion of q, k)
            cos, sin = cos.to(self.train_compute), sin.to(self.train_compute)
        with torch.autocast(x.device.type, dtype=self.train_compute) if self._mixed else contextlib.nullcontext():
            for block, text in zip(self.blocks, prompt.text):
                if self.cfg.grad_checkpoint and self.training:
                    tokens = torch.utils.checkpoint.checkpoint(block, tokens, mod, text, prompt.attn_mask, cos, sin,
                                                               use_reentrant=False)
                else:
                    tokens = block(tokens, mod, text, prompt.attn_mask, cos, sin)  # (B, N, D)

        tokens = tokens.to(x.dtype)
        shift, scale = self.final_mod(c).chunk(2, dim=-1)  # 2 x (B, D)
        out = self.final_proj(modulate(self.final_norm(tokens), shift, scale))  # (B, N, C*pt*ph*pw)
        return self.unpatchify(out, f, h, w)  # (B, C, F, H, W)


# ---------------------------------------------------------------------------------
# Checkpoints: safetensors with the config (and whatever else the trainer adds) inside
# ---------------------------------------------------------------------------------


def save_dit(path: str | Path, model: DiT, meta: dict | None = None, dtype: torch.dtype | None = None) -> Path:
    """Write the weights to `path` (safetensors, atomically); `meta` values are stored as JSON.

    `dtype=torch.float16` halves the file for shipping; loading always returns fp32.
    """
    from safetensors.torch import save_file

    from kinora.io.atomic import atomic_path

    sd = {k: (v.to(dtype) if dtype is not None else v).detach().cpu().contiguous()
          for k, v in model.state_dict().items()}
    metadata = {"format": CHECKPOINT_FORMAT, "dit_config": model.cfg.to_json()}
    metadata.update({k: json.dumps(v) for k, v in (meta or {}).items()})
    path = Path(path)
    with atomic_path(path) as tmp:
        save_file(sd, str(tmp), metadata=metadata)
    return path


def read_dit_metadata(path: str | Path) -> dict:
    """The checkpoint's metadata: "dit_config" as a DiTConfig, other entries decoded from JSON."""
    from safetensors import safe_open

    path = Path(path)
    if not path.exists():
        raise KinoraError(f"no DiT checkpoint at {path}")
    try:
        with safe_open(str(path), framework="pt") as f:
            raw = f.metadata() or {}
    except Exception as e:
        raise KinoraError(f"{path} is not a safetensors file ({e})") from e
    if raw.get("format") != CHECKPOINT_FORMAT:
        raise KinoraError(f"{path} is not a Kinora DiT checkpoint (format {raw.get('format')!r})")
    meta = {k: json.loads(v) for k, v in raw.items() if k not in ("format", "dit_config")}
    meta["dit_config"] = DiTConfig.from_json(raw["dit_config"])
    return meta


def load_dit(path: str | Path, device: str | torch.device = "cpu") -> tuple[DiT, dict]:
    """Build the model from the checkpoint's own config and load its weights (fp32, eval mode)."""
    from safetensors.torch import load_file

    meta = read_dit_metadata(path)
    model = DiT(meta["dit_config"])
    sd = {k: v.float() for k, v in load_file(str(path), device=str(device)).items()}
    model.load_state_dict(sd)
    return model.to(device).eval(), meta
