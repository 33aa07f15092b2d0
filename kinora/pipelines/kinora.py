"""The generation pipeline: prompt (+ optional images or video) in, frames out.

    from kinora.pipelines.kinora import KinoraPipeline
    pipe = KinoraPipeline.from_pretrained()            # the shipped model
    out = pipe("a red ball bounces on the floor", num_frames=32, generator=torch.Generator().manual_seed(0))
    frames = out.frames[0]                              # (T, H, W, 3) uint8

The call mirrors diffusers' video pipelines (prompt, negative_prompt, num_frames, height,
width, num_inference_steps, guidance_scale, generator, output_type,
callback_on_step_end), and the denoising loop is written out here in full.

Every task is data, not a branch: the caller's pixels that must stay as they are (a first
frame, a prefix of a video, its last frames, both ends, everything outside an edit
region) form a pixel mask. It becomes a latent mask (a latent cell is known when every
pixel it encodes is known), the known latents are imposed at every sampling step, and at
the end the known pixels are pasted back, so conditioned frames come back exactly.

Clips longer than the model's window are made by extension: each new window keeps the
last `context` frames of the previous one as known frames, so time grows linearly with
length and memory stays flat.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from kinora.defaults import MAX_SECONDS, SHIPPED_DIT
from kinora.errors import KinoraError
from kinora.io.hashing import sha256_file
from kinora.models.vae import latent_id



@dataclass
class GenerationOutput:
    frames: list  # one (T, H, W, 3) uint8 array (or float tensor) per prompt, diffusers-style
    prompt: str = ""
    canonical: str = ""  # the English caption the model was conditioned on
    warnings: list[str] = field(default_factory=list)


def to_model_range(frames: np.ndarray) -> torch.Tensor:
    """(T, H, W, 3) uint8 -> (1, 3, T, H, W) float in [-1, 1]."""
    x = torch.from_numpy(np.ascontiguousarray(frames)).float() / 127.5 - 1.0  # (T, H, W, 3)
    return x.permute(3, 0, 1, 2)[None]  # (1, 3, T, H, W)


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """(1, 3, T, H, W) in [-1, 1] -> (T, H, W, 3) uint8."""
    x = ((x[0].clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)  # (3, T, H, W)
    return x.permute(1, 2, 3, 0).numpy()


def latent_frames(num_frames: int) -> int:
    """Latent frames for a clip padded to 1 + 4k frames."""
    return 1 + math.ceil((num_frames - 1) / 4)


def latent_known_mask(pixel_known: torch.Tensor, time_factor: int = 4, space_factor: int = 8) -> torch.Tensor:
    """Pixel mask (T, H, W) bool, T = 1 + 4k -> latent mask (1, 1, F, h, w) float.

    Latent frame 0 encodes pixel frame 0 alone; latent frame j >= 1 encodes pixel frames
    4j-3 .. 4j. A latent cell is known only when all the pixels it encodes are known.
    """
    T, H, W = pixel_known.shape
    first = pixel_known[:1]  # (1, H, W)
    rest = pixel_known[1:].reshape((T - 1) // time_factor, time_factor, H, W).all(1)  # (k, H, W)
    groups = torch.cat([first, rest])  # (F, H, W)
    F = groups.shape[0]
    cells = groups.reshape(F, H // space_factor, space_factor, W // space_factor, space_factor).all(4).all(2)
    return cells.float()[None, None]  # (1, 1, F, h, w)


def find_vae(dit_path: Path, meta: dict) -> Path:
    """The VAE next to the DiT (vae-NAME.safetensors, as in kinora/weights), else the one
    the DiT was trained with (its recorded path, e.g. a training run's checkpoint)."""
    sibling = dit_path.parent / f"vae-{meta.get('vae_name', 'small')}.safetensors"
    recorded = meta.get("vae_path")
    if not sibling.exists() and recorded and Path(recorded).exists():
        return Path(recorded)
    return sibling


def check_vae(vae_path: Path, meta: dict, dit_path: Path) -> None:
    """A DiT decodes only with a VAE of the latent space it was trained on (the same file, or
    a decoder fine-tune of it): refuse another one."""
    want = meta.get("vae_hash")
    if not want or want == "none" or not vae_path.exists():
        return  # untrained / synthetic weights, or load_vae says what is missing
    have = latent_id(vae_path)
    if have != want:
        raise KinoraError(f"{dit_path} was trained with VAE {want}, but {vae_path} has the latents of VAE {have}; "
                          f"put the VAE it was trained with next to the DiT")


def window_spans(T: int, window: int, context: int = 9) -> list[tuple[int, int]]:
    """The [start, end) frames of each window that makes a T-frame clip: each window after
    the first repeats the previous one's last `context` frames (what `_long` samples)."""
    if T <= window:
        return [(0, T)]
    context = max(1, min(context, window - 4))  # every window adds at least one latent frame
    spans, done = [], 0
    while done < T:
        start = max(0, done - context) if done else 0
        done = min(T, start + window)
        spans.append((start, done))
    return spans


class KinoraPipeline:
    """Text (and image / video) to video with the VAE, the DiT and a rectified-flow sampler."""

    def __init__(self, dit, vae, text_encoder, meta: dict, dit_path: Path | None = None):
        from kinora.models.presets import get_preset

        self.dit = dit.eval()
        self.vae = vae.eval()
        self.text_encoder = text_encoder
        self.meta = meta
        self.preset = get_preset(meta.get("preset", "small"))
        self.model_name = f"kinora-{self.preset.name}"
        self.checkpoint_sha256 = sha256_file(dit_path) if dit_path else "0" * 64
        train = meta.get("train_args", {})
        # frames per window (at least 5: one lone first frame and one group of 4)
        self.window = max(5, int(train.get("max_frames", self.preset.train.max_frames)))
        self.default_fps = int(train.get("fps", self.preset.train.fps))
        self.default_height = int(train.get("height", self.preset.train.height))
        self.default_width = int(train.get("width", self.preset.train.width))
        self.shift_scale = float(train.get("shift_scale", self.preset.train.shift_scale))

    # --- loading ---------------------------------------------------------------------
    @classmethod
    def from_pretrained(cls, path: str | Path | None = None, vae_path: str | Path | None = None,
                        device: str = "cpu") -> "KinoraPipeline":
        """Load a DiT checkpoint (default: the shipped one) and the VAE it was trained with."""
        from kinora.models.dit import load_dit
        from kinora.models.text import TextEncoder
        from kinora.models.vae import load_vae

        path = Path(path) if path else SHIPPED_DIT
        if path.is_dir():
            path = path / SHIPPED_DIT.name
        if not path.exists():
            raise KinoraError(f"no model weights at {path}; train one with 'kinora train' or pass --model PATH")
        dit, meta = load_dit(path, device=device)
        vae_path = Path(vae_path) if vae_path else find_vae(path, meta)
        check_vae(vae_path, meta, path)
        vae = load_vae(vae_path, device=device)
        return cls(dit, vae, TextEncoder(device=device), meta, dit_path=path)

    # --- text ------------------------------------------------------------------------
    def plan_prompt(self, prompt: str, seconds: float | None = None) -> tuple[str, list[str], object]:
        """English or Chinese prompt -> (canonical English caption, warnings, ParseResult)."""
        from kinora.plan.parse import parse

        result = parse(prompt, duration=seconds or 2.0)
        return result.canonical, list(result.warnings), result

    def encode_text(self, texts: list[str]) -> dict:
        states, mask = self.text_encoder(texts)
        return {"text": states, "text_mask": mask}

    # --- the call ----------------------------------------------------------------------
    @torch.no_grad()
    def __call__(
        self,
        prompt: str,
        negative_prompt: str | None = None,
        num_frames: int | None = None,
        height: int | None = None,
        width: int | None = None,
        num_inference_steps: int | None = None,
        guidance_scale: float | None = None,
        generator: torch.Generator | None = None,
        output_type: str = "np",
        image: np.ndarray | None = None,
        last_image: np.ndarray | None = None,
        loop: bool = False,
        video: np.ndarray | None = None,
        extend: str = "forward",
        edit_mask: np.ndarray | None = None,
        context_frames: int = 9,
        sampler: str | None = None,
        callback_on_step_end: Callable | None = None,
        raw_prompt: bool = False,
    ) -> GenerationOutput:
        """Generate one clip.

        image: (H, W, 3) uint8 first frame (image-to-video). last_image: last frame
        (with `image`: bridging). loop=True: the last frame equals the first, so the
        clip plays seamlessly on repeat (bridging from the first frame to itself; the
        first frame is `image` or, without one, generated from the prompt). video: (T, H, W, 3) uint8 to extend (`extend` =
        "forward" appends num_frames new frames, "backward" prepends them) or, with
        `edit_mask` (T, H, W) bool True = regenerate, to inpaint. raw_prompt=True skips
        the planner and conditions on the prompt text as it is.
        """
        from kinora.diffusion.sampling import CFG, SAMPLERS, get_sigmas

        if not isinstance(prompt, str) or not prompt.strip():
            raise KinoraError("the prompt is empty; describe the shot, e.g. \"a red ball bounces on the floor\"")
        if output_type not in ("np", "pt"):
            raise KinoraError(f"output_type must be 'np' or 'pt', got {output_type!r}")
        height = height or (video.shape[1] if video is not None else image.shape[0] if image is not None else self.default_height)
        width = width or (video.shape[2] if video is not None else image.shape[1] if image is not None else self.default_width)
        for name, v in (("height", height), ("width", width)):
            if not isinstance(v, int) or v < 16 or v > 512 or v % 16:
                raise KinoraError(f"{name} {v!r} is not supported; use a multiple of 16 from 16 to 512 (the model was trained at 64)")
        if num_frames is None:
            num_frames = 2 * self.default_fps if video is None or edit_mask is None else video.shape[0]
        if not isinstance(num_frames, int) or num_frames < 1 or num_frames > MAX_SECONDS * 60:
            raise KinoraError(f"num_frames {num_frames!r} is out of range; use 1 to {int(MAX_SECONDS * 60)}")
        steps = num_inference_steps or self.preset.sample.steps
        if not isinstance(steps, int) or not 1 <= steps <= 1000:
            raise KinoraError(f"num_inference_steps {steps!r} is out of range; use 1 to 1000")
        scale = self.preset.sample.guidance if guidance_scale is None else float(guidance_scale)
        if not 0.0 <= scale <= 30.0:
            raise KinoraError(f"guidance_scale {scale!r} is out of range; use 0 to 30")
        sample_fn = SAMPLERS.get(sampler or self.preset.sample.sampler)
        if sample_fn is None:
            raise KinoraError(f"unknown sampler {sampler!r}; use one of {', '.join(SAMPLERS)}")
        if extend not in ("forward", "backward"):
            raise KinoraError(f"extend must be 'forward' or 'backward', got {extend!r}")

        warnings: list[str] = []
        if raw_prompt:
            canonical = prompt.strip()
        else:
            canonical, warnings, _ = self.plan_prompt(prompt)
        cond_text = self.encode_text([canonical])
        uncond_text = self.encode_text([negative_prompt or ""])
        model = CFG(self.dit, scale)
        g = generator if generator is not None else torch.Generator().manual_seed(0)

        def run_window(known_pixels: np.ndarray | None, known_mask: np.ndarray | None, T: int) -> np.ndarray:
            """Sample one window of T frames with optional known pixels; (T, H, W, 3) uint8."""
            Tp = 1 + 4 * math.ceil((T - 1) / 4)  # the VAE's valid length, 1 + 4k
            F, h, w = latent_frames(T), height // 8, width // 8
            cond = dict(cond_text)
            uncond = dict(uncond_text)
            pix_mask = None
            if known_mask is not None and known_mask.any():
                # Pad to 1 + 4k by repeating the last frame; padded frames are unknown.
                pix = np.concatenate([known_pixels, np.repeat(known_pixels[-1:], Tp - T, 0)]) if Tp > T else known_pixels
                pmask = np.concatenate([known_mask, np.zeros((Tp - T, height, width), bool)]) if Tp > T else known_mask
                # Unknown pixels are filled from the nearest known frame before encoding, so
                # the encoder sees a plausible clip rather than holes.
                filled = _fill_unknown(pix, pmask)
                lmask = latent_known_mask(torch.from_numpy(pmask))  # (1, 1, F, h, w)
                # The encoder is causal in time, so the latents up to the last known latent
                # frame need only the pixels up to it: an extension window encodes its
                # context frames, not the whole window (same latents, a fraction of the cost).
                known_f = torch.nonzero(lmask[0, 0].flatten(1).any(1)).flatten()
                last = int(known_f.max()) if len(known_f) else 0
                known_lat = torch.zeros(1, self.dit.cfg.latent_channels, F, h, w)  # (1, C, F, h, w)
                known_lat[:, :, : last + 1] = self.vae.encode(to_model_range(filled[: 1 + 4 * last]))
                cond.update(mask=lmask, known=known_lat * lmask)
                uncond.update(mask=lmask, known=known_lat * lmask)
                pix_mask = pmask
            x = torch.randn(1, self.dit.cfg.latent_channels, F, h, w, generator=g)  # (1, C, F, h, w)
            from kinora.diffusion.flow import resolution_shift

            shift = resolution_shift(F, h, w, scale=self.shift_scale)
            sigmas = get_sigmas(steps, shift=shift)

            def callback(info):
                if callback_on_step_end is not None:
                    callback_on_step_end(self, info["i"], float(info["sigma"]), {"latents": info["x"]})

            z = sample_fn(model, x, sigmas, extra_args={"cond": cond, "uncond": uncond}, callback=callback)
            out = to_uint8(self.vae.decode(z))[:T]  # (T, H, W, 3)
            if pix_mask is not None:
                out = np.where(pix_mask[:T, :, :, None], known_pixels[:T], out)
            return out

        # --- assemble the known pixels of the first window from the inputs ---
        window = self.window
        if video is not None:
            video = _check_frames(video, "video", height, width)
        if image is not None:
            image = _check_frames(image[None], "image", height, width)[0]
        if last_image is not None:
            last_image = _check_frames(last_image[None], "last_image", height, width)[0]
        if loop:
            if video is not None or last_image is not None:
                raise KinoraError("loop makes its own last frame; it cannot be combined with video or last_image")
            if image is None:
                image = run_window(None, None, 1)[0]  # the opening frame, from the prompt alone
            last_image = image

        if video is not None and edit_mask is not None:
            # Inpainting: same length as the input, regenerate only where edit_mask is True.
            edit_mask = np.asarray(edit_mask, bool)
            if edit_mask.shape != video.shape[:3]:
                raise KinoraError(f"edit_mask must have shape {video.shape[:3]}, got {edit_mask.shape}")
            frames = self._long(run_window, video.copy(), ~edit_mask, video.shape[0], window)
        elif video is not None:
            ctx = min(context_frames, video.shape[0])
            if extend == "forward":
                new = self._extend(run_window, video[-ctx:], num_frames, window)
                frames = np.concatenate([video, new[ctx:]])
            else:
                new = self._extend(run_window, video[:ctx], num_frames, window, backward=True)
                frames = np.concatenate([new[:num_frames], video])
        else:
            known = np.zeros((num_frames, height, width, 3), np.uint8)
            kmask = np.zeros((num_frames, height, width), bool)
            if image is not None:
                known[0], kmask[0] = image, True
            if last_image is not None:
                if num_frames < 2:
                    raise KinoraError("bridging needs at least 2 frames")
                known[-1], kmask[-1] = last_image, True
            if last_image is not None and num_frames > window:
                raise KinoraError(f"bridging works within one window of {window} frames; ask for fewer frames")
            frames = self._long(run_window, known, kmask, num_frames, window)

        result = frames if output_type == "np" else torch.from_numpy(frames)
        return GenerationOutput(frames=[result], prompt=prompt, canonical=canonical, warnings=warnings)

    # --- long clips: windows with overlapping known context ---------------------------
    def _long(self, run_window, known: np.ndarray, kmask: np.ndarray, T: int, window: int,
              context: int = 9) -> np.ndarray:
        """Fill T frames window by window; each window after the first starts with the
        previous window's last `context` frames as known frames."""
        if T <= window:
            return run_window(known, kmask, T)
        out = np.zeros_like(known)
        done = 0
        for start, end in window_spans(T, window, context):
            kp, km = known[start:end].copy(), kmask[start:end].copy()
            if done:
                kp[: done - start] = out[start:done]
                km[: done - start] = True
            out[start:end] = run_window(kp, km, end - start)
            done = end
        return out

    def _extend(self, run_window, context: np.ndarray, n_new: int, window: int,
                backward: bool = False) -> np.ndarray:
        """The c `context` frames plus n_new generated frames after them, or before them
        when `backward` (the backward-extension mask: a known suffix); context included."""
        c = context.shape[0]
        T = c + n_new
        known = np.zeros((T, *context.shape[1:]), np.uint8)
        kmask = np.zeros(known.shape[:3], bool)
        where = slice(n_new, T) if backward else slice(0, c)
        known[where], kmask[where] = context, True
        if backward:
            if T > window:
                raise KinoraError(f"backward extension works within one window of {window} frames; "
                                  f"ask for at most {window - c} new frames")
            return run_window(known, kmask, T)
        return self._long(run_window, known, kmask, T, window)


def _check_frames(frames: np.ndarray, what: str, height: int, width: int) -> np.ndarray:
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise KinoraError(f"{what} must be uint8 RGB frames, got shape {frames.shape} {frames.dtype}")
    if frames.shape[1:3] != (height, width):
        from PIL import Image

        frames = np.stack([np.asarray(Image.fromarray(f).resize((width, height), Image.BICUBIC)) for f in frames])
    return frames


def _fill_unknown(pix: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Fill unknown pixels from the nearest frame in time that knows them (else grey)."""
    out = pix.copy()
    T = pix.shape[0]
    known_any = mask.reshape(T, -1).any(1)
    if not known_any.any():
        return out
    idx = np.nonzero(known_any)[0]
    for t in range(T):
        if mask[t].all():
            continue
        src = idx[np.argmin(np.abs(idx - t))]
        fill = np.where(mask[src][..., None], pix[src], 128).astype(np.uint8)
        out[t] = np.where(mask[t][..., None], pix[t], fill)
    return out
