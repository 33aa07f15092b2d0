"""The video compression network: a small causal 3D VAE, 4x in time and 8x in space.

Follows the causal video VAEs of Open-Sora 2.0 / HunyuanVideo / CogVideoX in what it
promises, and the DC-AE "space-to-channel shortcut" idea in how it gets there cheaply:

* Causal in time. Every temporal operation only looks backwards; the front of the
  clip is padded with copies of frame 0. Frame 0 is therefore encoded on its own, and
  latent frame i depends only on video frames <= 4i. An image (T = 1) is a one-frame
  video: its latent equals the first latent of any video that starts with it, so
  images and videos share one latent space (image-to-video, extension, keyframes).
* T = 1 + 4k frames -> 1 + k latent frames; H x W -> H/8 x W/8; any H, W multiple of 8
  (it is fully convolutional, every norm is per pixel, so crops and aspect ratios
  generalise).
* Compression by packing, not by striding: each 2x step in space or time moves a
  2x2 (or 2x2x2) block into channels (space-to-depth), and a convolution mixes it. A
  parameter-free shortcut (block-average of the packed channels, or channel repeat
  before depth-to-space on the way up) carries the signal around every resolution
  change, so the network only learns a residual; this trains fast on one CPU core.
* Cheap on a CPU: the stem is a 2x2 pixel-unshuffle (no full-resolution conv at all),
  the decoder ends with a pixel-shuffle, and the 3x3x3 causal convs only run at the
  low resolutions. Decoding 33 frames at 64x64 costs a few GFLOP.
* A KL autoencoder with a tiny KL weight (see kinora/train/vae.py); `encode` returns
  normalised latents (z - shift_factor) * scaling_factor, both measured after training.

Shapes: B batch, C channels, T frames, H x W pixels; latent (B, latent_channels,
1 + (T - 1) / 4, H / 8, W / 8).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from kinora.errors import KinoraError

# ---------------------------------------------------------------------------------
# Config (the named sizes are in kinora.models.presets.VAE_PRESETS)
# ---------------------------------------------------------------------------------


@dataclass
class VAEConfig:
    latent_channels: int = 8
    # Channels after the 2x2 pixel-unshuffle stem (at H/2 x W/2); level i has
    # base_channels * channel_mult[i] channels at H/2^(i+1). Three levels = 8x in space.
    base_channels: int = 32
    channel_mult: tuple[int, ...] = (1, 2, 4)
    enc_blocks: tuple[int, ...] = (1, 1, 2)  # residual blocks per level, encoder
    dec_blocks: tuple[int, ...] = (1, 2, 3)  # residual blocks per level, decoder
    # Temporal kernel of the first conv of each block, per level; 1 = purely spatial
    # (the full-resolution-ish level stays 2D to stay cheap).
    temporal_kernel: tuple[int, ...] = (1, 3, 3)
    # Which level transitions (level i -> i + 1) also halve time; two of them = 4x.
    temporal_down: tuple[bool, ...] = (True, True)
    # Spatial kernel of the convs that pack / unpack at each resolution change (1 is
    # cheap and small: the residual blocks around them do the spatial mixing).
    resample_kernel: int = 1
    # Latents are (z - shift_factor) * scaling_factor ~ zero mean, unit variance;
    # measured on training data at the end of training.
    scaling_factor: float = 1.0
    shift_factor: float = 0.0

    def __post_init__(self):
        # JSON round trips give lists; keep tuples so configs compare equal.
        for f in ("channel_mult", "enc_blocks", "dec_blocks", "temporal_kernel", "temporal_down"):
            setattr(self, f, tuple(getattr(self, f)))
        n = len(self.channel_mult)
        if not (len(self.enc_blocks) == len(self.dec_blocks) == len(self.temporal_kernel) == n):
            raise ValueError("enc_blocks, dec_blocks and temporal_kernel need one entry per channel_mult level")
        if n != 3:
            raise ValueError("the VAE compresses 8x in space: a 2x stem and exactly 3 levels (len(channel_mult) == 3)")
        if len(self.temporal_down) != n - 1 or sum(self.temporal_down) != 2:
            raise ValueError("temporal_down needs one entry per level transition and exactly two True (4x in time)")

    @property
    def time_factor(self) -> int:
        return 2 ** sum(self.temporal_down)

    @property
    def space_factor(self) -> int:
        return 2 ** len(self.channel_mult)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> "VAEConfig":
        d = json.loads(text)
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise KinoraError(f"VAE checkpoint config has unknown field(s) {unknown}; is it from a newer Kinora?")
        return cls(**d)


# ---------------------------------------------------------------------------------
# Building blocks
# ---------------------------------------------------------------------------------


class ChannelNorm(nn.Module):
    """RMS norm over channels at each (t, y, x): per pixel, so causal and size-free.

    (GroupNorm would average over time and break causality, and over space, which
    makes a crop encode differently from the same pixels inside a larger frame.)
    """

    def __init__(self, channels: int, eps: float = 1e-6):
        super().__init__()
        self.gain = nn.Parameter(torch.ones(1, channels, 1, 1, 1))
        self.eps = eps

    def forward(self, x: Tensor) -> Tensor:  # (B, T, C, H, W)
        gain = self.gain.view(1, 1, -1, 1, 1)  # stored as (1, C, 1, 1, 1)
        return x * torch.rsqrt(x.pow(2).mean(2, keepdim=True) + self.eps) * gain


class CausalConv3d(nn.Module):
    """A (kt, kh, kw) convolution, 'same' in space and causal in time.

    The front of the clip is padded with kt - 1 copies of frame 0 (not zeros): a still
    image then looks like a still video, which is what makes the image latent equal
    the first latent of a video.

    Speed trap: on CPU, torch's Conv3d at batch 1 falls back to a slow im2col kernel
    (3-4x slower than Conv2d). So the weight is stored as a Conv3d's (Cout, Cin, kt,
    kh, kw), but the conv runs as one Conv2d over all frames, with the kt time taps
    unfolded into input channels.
    """

    def __init__(self, cin: int, cout: int, kernel: tuple[int, int, int] = (3, 3, 3)):
        super().__init__()
        kt, kh, kw = kernel
        self.kt = kt
        self.conv = nn.Conv3d(cin, cout, kernel, padding=(0, kh // 2, kw // 2))  # holds the parameters

    def forward(self, x: Tensor) -> Tensor:  # (B, T, C, H, W) -> (B, T, C', H, W)
        b, t, c, h, w = x.shape
        weight = self.conv.weight  # (C', C, kt, kh, kw)
        if self.kt > 1:
            front = x[:, :1].expand(-1, self.kt - 1, -1, -1, -1)
            xp = torch.cat([front, x], dim=1)  # (B, kt - 1 + T, C, H, W)
            # taps j = 0..kt-1 see frame t - (kt - 1) + j
            x = torch.cat([xp[:, j:j + t] for j in range(self.kt)], dim=2)  # (B, T, kt*C, H, W)
            weight = weight.permute(0, 2, 1, 3, 4)  # (C', kt, C, kh, kw), matching the tap order
        weight = weight.reshape(weight.shape[0], -1, *weight.shape[-2:])  # (C', kt*C, kh, kw)
        y = F.conv2d(x.reshape(b * t, -1, h, w), weight, self.conv.bias, padding=self.conv.padding[1:])
        return y.view(b, t, -1, h, w)  # (B, T, C', H, W)


class ResBlock(nn.Module):
    def __init__(self, channels: int, kt: int):
        super().__init__()
        self.norm1 = ChannelNorm(channels)
        self.conv1 = CausalConv3d(channels, channels, (kt, 3, 3))
        self.norm2 = ChannelNorm(channels)
        self.conv2 = CausalConv3d(channels, channels, (1, 3, 3))

    def forward(self, x: Tensor) -> Tensor:  # (B, T, C, H, W)
        h = self.conv1(F.silu(self.norm1(x)))
        h = self.conv2(F.silu(self.norm2(h)))
        return x + h


def pack(x: Tensor, st: int, ss: int) -> Tensor:
    """Space/time-to-depth: (B, T, C, H, W) -> (B, 1 + (T-1)/st, C*st*ss*ss, H/ss, W/ss).

    With st = 2, frame 0 is first repeated once in front, so the packed frames are
    (f0, f0), (f1, f2), (f3, f4), ...: frame 0 is packed alone. Packed channels are
    ordered (C, st, ss_y, ss_x), C slowest.
    """
    b, t, c, h, w = x.shape
    if st > 1:
        x = torch.cat([x[:, :1].expand(-1, st - 1, -1, -1, -1), x], dim=1)  # (B, st - 1 + T, C, H, W)
        t = x.shape[1]
    x = x.reshape(b, t // st, st, c, h // ss, ss, w // ss, ss)  # (B, T', st, C, H', ss, W', ss)
    x = x.permute(0, 1, 3, 2, 5, 7, 4, 6)  # (B, T', C, st, ss, ss, H', W')
    return x.reshape(b, t // st, c * st * ss * ss, h // ss, w // ss)


def unpack(x: Tensor, st: int, ss: int) -> Tensor:
    """Inverse of `pack`: (B, T', C*st*ss*ss, H', W') -> (B, 1 + st*(T'-1), C, H'*ss, W'*ss)."""
    b, t, cp, h, w = x.shape
    c = cp // (st * ss * ss)
    x = x.reshape(b, t, c, st, ss, ss, h, w)  # (B, T', C, st, ss, ss, H', W')
    x = x.permute(0, 1, 3, 2, 6, 4, 7, 5)  # (B, T', st, C, H', ss, W', ss)
    x = x.reshape(b, t * st, c, h * ss, w * ss)  # (B, st*T', C, H, W)
    return x[:, st - 1:]  # drop the padding copies of frame 0 -> (B, 1 + st*(T'-1), C, H, W)


def group_mean(x: Tensor, cout: int) -> Tensor:
    """(B, T, C, H, W) -> (B, T, cout, H, W) averaging groups of C / cout adjacent channels."""
    b, t, c, h, w = x.shape
    return x.reshape(b, t, cout, c // cout, h, w).mean(3)


class Down(nn.Module):
    """2x in space (and 2x in time if `temporal`) by packing + conv, with a shortcut."""

    def __init__(self, cin: int, cout: int, temporal: bool, k: int):
        super().__init__()
        self.st = 2 if temporal else 1
        packed = cin * self.st * 4
        self.conv = CausalConv3d(packed, cout, (1, k, k))
        self.shortcut = packed % cout == 0

    def forward(self, x: Tensor) -> Tensor:  # (B, T, C, H, W) -> (B, T', C', H/2, W/2)
        x = pack(x, self.st, 2)
        h = self.conv(x)
        return h + group_mean(x, h.shape[2]) if self.shortcut else h


class Up(nn.Module):
    """2x in space (and 2x in time if `temporal`) by conv + unpacking, with a shortcut."""

    def __init__(self, cin: int, cout: int, temporal: bool, k: int):
        super().__init__()
        self.st = 2 if temporal else 1
        packed = cout * self.st * 4
        self.conv = CausalConv3d(cin, packed, (1, k, k))
        self.repeats = packed // cin if packed % cin == 0 else 0

    def forward(self, x: Tensor) -> Tensor:  # (B, T', C, H, W) -> (B, 1 + st(T'-1), C', 2H, 2W)
        h = self.conv(x)
        if self.repeats:
            h = h + x.repeat_interleave(self.repeats, dim=2)
        return unpack(h, self.st, 2)


# ---------------------------------------------------------------------------------
# Encoder, decoder, the VAE
# ---------------------------------------------------------------------------------


class Encoder(nn.Module):
    def __init__(self, cfg: VAEConfig):
        super().__init__()
        ch = [cfg.base_channels * m for m in cfg.channel_mult]
        self.stem = CausalConv3d(3 * 4, ch[0], (1, 3, 3))
        self.levels = nn.ModuleList()
        for i, c in enumerate(ch):
            blocks = [ResBlock(c, cfg.temporal_kernel[i]) for _ in range(cfg.enc_blocks[i])]
            if i < len(ch) - 1:
                blocks.append(Down(c, ch[i + 1], cfg.temporal_down[i], cfg.resample_kernel))
            self.levels.append(nn.Sequential(*blocks))
        self.norm_out = ChannelNorm(ch[-1])
        self.conv_out = CausalConv3d(ch[-1], 2 * cfg.latent_channels, (1, 3, 3))
        self.latent_channels = cfg.latent_channels
        self.mean_shortcut = ch[-1] % cfg.latent_channels == 0

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:  # (B, 3, T, H, W) -> 2 x (B, L, 1 + (T-1)/4, H/8, W/8)
        x = x.transpose(1, 2)  # (B, T, 3, H, W): frames-major inside the network
        h = self.stem(pack(x, 1, 2))  # (B, T, C0, H/2, W/2)
        for level in self.levels:
            h = level(h)  # ... -> (B, 1 + (T-1)/4, C2, H/8, W/8)
        out = self.conv_out(F.silu(self.norm_out(h)))  # (B, T', 2L, h, w)
        mean, logvar = out.chunk(2, dim=2)
        if self.mean_shortcut:
            mean = mean + group_mean(h, self.latent_channels)
        # back to channels-first: (B, L, T', h, w)
        return mean.transpose(1, 2).contiguous(), logvar.clamp(-30.0, 20.0).transpose(1, 2).contiguous()


class Decoder(nn.Module):
    def __init__(self, cfg: VAEConfig):
        super().__init__()
        ch = [cfg.base_channels * m for m in cfg.channel_mult]
        self.conv_in = CausalConv3d(cfg.latent_channels, ch[-1], (1, 3, 3))
        self.in_repeats = ch[-1] // cfg.latent_channels if ch[-1] % cfg.latent_channels == 0 else 0
        self.levels = nn.ModuleList()
        for i in reversed(range(len(ch))):
            blocks = [ResBlock(ch[i], cfg.temporal_kernel[i]) for _ in range(cfg.dec_blocks[i])]
            if i > 0:
                blocks.append(Up(ch[i], ch[i - 1], cfg.temporal_down[i - 1], cfg.resample_kernel))
            self.levels.append(nn.Sequential(*blocks))
        self.norm_out = ChannelNorm(ch[0])
        self.conv_out = CausalConv3d(ch[0], 3 * 4, (1, 3, 3))

    def forward(self, z: Tensor) -> Tensor:  # (B, L, T', h, w) -> (B, 3, 1 + 4(T'-1), 8h, 8w)
        z = z.transpose(1, 2).contiguous()  # (B, T', L, h, w): frames-major inside the network
        h = self.conv_in(z)  # (B, T', C2, h, w)
        if self.in_repeats:
            h = h + z.repeat_interleave(self.in_repeats, dim=2)
        for level in self.levels:
            h = level(h)  # ... -> (B, T, C0, H/2, W/2)
        out = self.conv_out(F.silu(self.norm_out(h)))  # (B, T, 12, H/2, W/2)
        return unpack(out, 1, 2).transpose(1, 2)  # (B, T, 3, H, W) -> (B, 3, T, H, W)


class VideoVAE(nn.Module):
    def __init__(self, cfg: VAEConfig):
        super().__init__()
        self.cfg = cfg
        self.encoder = Encoder(cfg)
        self.decoder = Decoder(cfg)
        self.decode_dtype = torch.float32  # the decoder's number format at inference (set_decode_dtype)
        self.initialize_weights()

    def set_decode_dtype(self, dtype: torch.dtype) -> "VideoVAE":
        """Run the decoder in `dtype` (bf16 on CPUs with bf16 units: kinora.models.precision).
        For sampling: the decoder's weights are cast once; its input and output stay fp32.
        Measured on the shipped VAE: 34.5 -> 21.5 ms for 8 latent frames at 64x64, 65.7 dB PSNR
        against fp32 (under half a grey level). The encoder, whose latents condition the
        DiT on known frames, stays fp32. One way, like DiT.set_compute_dtype: fp32 again
        afterwards runs fp32 maths on the rounded weights."""
        self.decode_dtype = dtype
        self.decoder.to(dtype)
        return self

    def initialize_weights(self):
        # Zero the last conv of every residual block: each block starts as the
        # identity, so at step 0 the whole network is the parameter-free
        # pack / shortcut / unpack path plus the stem and output convs.
        for m in self.modules():
            if isinstance(m, ResBlock):
                nn.init.zeros_(m.conv2.conv.weight)
                nn.init.zeros_(m.conv2.conv.bias)

    def _check(self, x: Tensor, what: str) -> None:
        if x.ndim != 5:
            raise KinoraError(f"VAE {what} expects a 5-D tensor (B, C, T, H, W), got shape {tuple(x.shape)}")

    def encode_dist(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Raw posterior (mean, logvar), not normalised: each (B, L, 1 + k, H/8, W/8)."""
        self._check(x, "encode")
        b, c, t, h, w = x.shape
        tf, sf = self.cfg.time_factor, self.cfg.space_factor
        if c != 3 or (t - 1) % tf or h % sf or w % sf or h == 0 or w == 0:
            raise KinoraError(
                f"VAE encode needs (B, 3, 1 + {tf}k, H, W) with H, W multiples of {sf}; got {tuple(x.shape)}"
                " (use pad_to_valid_length for the frame count)"
            )
        return self.encoder(x)

    def normalize(self, z: Tensor) -> Tensor:
        return (z - self.cfg.shift_factor) * self.cfg.scaling_factor

    def denormalize(self, z: Tensor) -> Tensor:
        return z / self.cfg.scaling_factor + self.cfg.shift_factor

    def encode(self, x: Tensor, sample: bool = False) -> Tensor:
        """(B, 3, 1 + 4k, H, W) in [-1, 1] -> normalised latents (B, L, 1 + k, H/8, W/8)."""
        mean, logvar = self.encode_dist(x)
        z = mean + torch.randn_like(mean) * torch.exp(0.5 * logvar) if sample else mean
        return self.normalize(z)

    def decode(self, z: Tensor) -> Tensor:
        """Normalised latents (B, L, 1 + k, h, w) -> (B, 3, 1 + 4k, 8h, 8w) in [-1, 1]."""
        self._check(z, "decode")
        if z.shape[1] != self.cfg.latent_channels:
            raise KinoraError(f"VAE decode expects {self.cfg.latent_channels} latent channels, got {z.shape[1]}")
        return self.decoder(self.denormalize(z).to(self.decode_dtype)).float().clamp(-1.0, 1.0)

    def forward(self, x: Tensor, sample: bool = True) -> tuple[Tensor, Tensor, Tensor]:
        """Training pass: returns (unclamped reconstruction, mean, logvar) of raw latents."""
        mean, logvar = self.encode_dist(x)
        z = mean + torch.randn_like(mean) * torch.exp(0.5 * logvar) if sample else mean
        return self.decoder(z), mean, logvar


# ---------------------------------------------------------------------------------
# Helpers: frame counts, checkpoints
# ---------------------------------------------------------------------------------


def pad_to_valid_length(x: Tensor, time_factor: int = 4) -> tuple[Tensor, int]:
    """Repeat the last frame of (B, C, T, H, W) until T = 1 + 4k; returns (x, original T)."""
    t = x.shape[2]
    if t < 1:
        raise KinoraError("cannot pad a video with no frames")
    extra = (-(t - 1)) % time_factor
    if extra:
        x = torch.cat([x, x[:, :, -1:].expand(-1, -1, extra, -1, -1)], dim=2)  # (B, C, T + extra, H, W)
    return x, t


def save_vae(model: VideoVAE, path, dtype: torch.dtype = torch.float32, latents: str | None = None) -> None:
    """Weights as safetensors with the VAEConfig as JSON in the metadata; atomic.

    dtype=torch.float16 halves the file (the shipped weights); load_vae always
    returns a float32 model. `latents` names the latent space when it is another
    file's: a decoder fine-tune keeps its parent's encoder and normalisation, so a DiT
    trained on the parent's latents decodes with it (see latent_id).
    """
    from safetensors.torch import save_file

    from kinora.io.atomic import atomic_path

    tensors = {k: v.detach().to(dtype).contiguous().cpu() for k, v in model.state_dict().items()}
    meta = {"kinora": "vae", "config": model.cfg.to_json()}
    if latents:
        meta["latents"] = latents
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=meta)


def read_vae_metadata(path) -> dict:
    """The safetensors metadata of a VAE file; a one-line error if it is missing or unreadable."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            return f.metadata() or {}
    except FileNotFoundError:
        raise KinoraError(f"VAE checkpoint not found: {path}") from None
    except (SafetensorError, OSError) as e:
        raise KinoraError(f"cannot read VAE checkpoint {path}: {e}") from None


def latent_id(path) -> str:
    """The identity of a VAE's latent space: what a DiT records as `vae_hash` and what
    names its latent caches. It is the file's own hash, except for a decoder fine-tune,
    which records the hash of the VAE whose encoder and latents it keeps."""
    from kinora.io.hashing import file_hash

    return read_vae_metadata(path).get("latents") or file_hash(path)


def load_vae(path, device: str | torch.device = "cpu") -> VideoVAE:
    """Load a VideoVAE saved by save_vae, in eval mode."""
    from safetensors.torch import load_file

    meta = read_vae_metadata(path)
    if meta.get("kinora") != "vae" or "config" not in meta:
        raise KinoraError(f"{path} is not a Kinora VAE checkpoint (no VAE config in its metadata)")
    model = VideoVAE(VAEConfig.from_json(meta["config"]))
    state = {k: v.float() for k, v in load_file(str(path), device=str(device)).items()}
    model.load_state_dict(state)
    return model.to(device).eval()
