"""Kinora's generation pipeline: prompt (+ optional images or video) in, frames and plan out.

    from kinora.pipelines import KinoraPipeline
    pipe = KinoraPipeline.from_pretrained()            # the shipped model
    out = pipe("a red ball bounces on the floor", num_frames=32, generator=torch.Generator().manual_seed(0))
    frames = out.frames[0]                              # (T, H, W, 3) uint8
    out.spec, out.warnings, out.task, out.seed          # the plan the frames were made from

The call mirrors diffusers' video pipelines (prompt, negative_prompt, num_frames, height,
width, num_inference_steps, guidance_scale, generator, output_type,
callback_on_step_end), and like them `__call__` writes its steps out in order: check
the inputs, plan the prompt, encode it, lay out the task's known pixels, sample window
by window, return the frames with the plan.

Every task is data, not a branch (`kinora.diffusion.tasks`): the caller's pixels that
must stay as they are (a first frame, a prefix of a video, its last frames, both ends,
everything outside an edit region) form a pixel mask. It becomes a latent mask (a latent
cell is known when every pixel it encodes is known), the known latents are imposed at
every sampling step, and at the end the known pixels are pasted back, so conditioned
frames come back exactly.

Clips longer than the model's window are made by extension: each new window keeps the
last `context_frames` frames of the previous one as known frames, so time grows
linearly with length and memory stays flat.

With `physics=True` the simulator runs the shot first (kinora.pipelines.physics: a
known frame's objects are placed into its initial state) and every window is guided by
its slice of the physics signal (kinora.world.signal), pooled into the window's latent
time, so where objects are and how they move comes from the physics engine.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from kinora.defaults import (
    CONTEXT_FRAMES,
    DEFAULT_SECONDS,
    MAX_GUIDANCE,
    MAX_SECONDS,
    MAX_STEPS,
    MIN_WINDOW,
    SHIPPED_DIT,
    SHIPPED_TEACHER,
    SHIPPED_VAE,
    physics_filename,
    vae_filename,
)
from kinora.diffusion.tasks import (
    TASK_INPUTS,
    Task,
    fill_unknown,
    latent_frames,
    latent_known_mask,
    task_of,
    window_spans,
)
from kinora.errors import KinoraError
from kinora.io.hashing import sha256_file
from kinora.models.vae import latent_id
from kinora.pipelines.output import GenerationOutput
from kinora.progress import part, report

MAX_SIDE = 512  # the largest frame side the pipeline accepts (the model was trained at 64)


def to_model_range(frames: np.ndarray) -> torch.Tensor:
    """(T, H, W, 3) uint8 -> (1, 3, T, H, W) float in [-1, 1]."""
    x = torch.from_numpy(np.ascontiguousarray(frames)).float() / 127.5 - 1.0  # (T, H, W, 3)
    return x.permute(3, 0, 1, 2)[None]  # (1, 3, T, H, W)


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """(1, 3, T, H, W) in [-1, 1] -> (T, H, W, 3) uint8."""
    x = ((x[0].clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)  # (3, T, H, W)
    return x.permute(1, 2, 3, 0).numpy()


# ---------------------------------------------------------------------------------
# Loading: the DiT by its recorded config, and the VAE it was trained with
# ---------------------------------------------------------------------------------


def find_dit(path: Path) -> Path:
    """A DiT checkpoint file, or the one checkpoint of a weights or run folder (the EMA
    weights when both are there); any preset: the file records its own config."""
    if not path.is_dir():
        if not path.exists():
            raise KinoraError(f"no model weights at {path}; train one with 'kinora train' or pass --model PATH")
        return path
    # A physics companion (dit-PRESET-physics-ema) is loaded beside the free model, not instead of it.
    found = [p for p in sorted(path.glob("dit-*-ema.safetensors")) if "-physics-" not in p.name] or \
        [p for p in sorted(path.glob("dit-*.safetensors")) if "-physics-" not in p.name]
    if not found:
        raise KinoraError(f"no DiT checkpoint (dit-PRESET-ema.safetensors) in {path}; "
                          f"train one with 'kinora train' or pass the file itself")
    if len(found) > 1:
        raise KinoraError(f"{path} holds several DiT checkpoints ({', '.join(p.name for p in found)}); "
                          f"pass the file you mean")
    return found[0]


def sample_defaults(meta: dict, preset):
    """How a checkpoint samples by default: a distilled student records its own (its steps,
    guidance folded in: kinora.train.distill), any other samples as its preset says."""
    from kinora.models.presets import SampleDefaults

    return SampleDefaults(**meta["sample"]) if isinstance(meta.get("sample"), dict) else preset.sample


def find_vae(dit_path: Path, meta: dict) -> Path:
    """The VAE next to the DiT (vae-NAME.safetensors, as in kinora/weights), else the one
    the DiT was trained with (its recorded path, e.g. a training run's checkpoint), else the
    shipped VAE when it has the latents the DiT was trained on (a distilled student)."""
    sibling = dit_path.parent / vae_filename(meta.get("vae_name", "small"))
    recorded = meta.get("vae_path")
    if not sibling.exists() and recorded and Path(recorded).exists():
        return Path(recorded)
    if not sibling.exists() and SHIPPED_VAE.exists() and meta.get("vae_hash") == latent_id(SHIPPED_VAE):
        return SHIPPED_VAE
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


# ---------------------------------------------------------------------------------
# The pipeline
# ---------------------------------------------------------------------------------


@dataclass
class _Sampling:
    """What every window of one call shares: size, conditioning, guided model, noise source."""

    height: int
    width: int
    cond: dict
    uncond: dict
    model: Callable
    generator: torch.Generator
    steps: int
    sample_fn: Callable
    callback: Callable | None
    features: np.ndarray | None = None  # (T, S, H/4, W/4) physics signal per frame of the sampled timeline
    physics_spec: object = None  # the resolved ShotSpec the simulator ran
    simulation_s: float | None = None  # how long the simulator took (placement included)
    init: np.ndarray | None = None  # restyle (SDEdit): the video (T, H, W, 3) sampling starts from, noised
    strength: float = 1.0  # restyle: the noise level it is noised to (0 keeps it, 1 is a new clip)
    progress: Path | None = None  # where a long clip keeps its finished windows (resumable after a kill)
    fingerprint: str = ""  # what the call depends on: a progress file of another call is not resumed


_LOADED: dict[tuple, "KinoraPipeline"] = {}  # the last pipeline loaded in this process, by what it was loaded from


def load_pipeline(path: str | Path | None = None, precision: str = "auto", compile: bool = False) -> "KinoraPipeline":
    """`KinoraPipeline.from_pretrained(path, precision=..., compile=...)`, loaded once per
    process: a long-lived caller (the studio's workers, a project's edits) pays the load (and
    the compilation) once, not per call. One model is kept at a time; weights replaced on
    disk are loaded afresh."""
    dit = find_dit(Path(path) if path else SHIPPED_DIT)
    key = (str(dit.resolve()), dit.stat().st_mtime_ns, precision, bool(compile))
    if key not in _LOADED:
        _LOADED.clear()
        _LOADED[key] = KinoraPipeline.from_pretrained(path, precision=precision, compile=compile)
    return _LOADED[key]


class KinoraPipeline:
    """Text (and image / video) to video with the VAE, the DiT and a rectified-flow sampler."""

    supported_tasks = frozenset(TASK_INPUTS)

    def __init__(self, dit, vae, text_encoder, meta: dict, dit_path: Path | None = None,
                 vae_path: Path | None = None):
        from kinora.models.presets import get_preset

        self.dit = dit.eval()
        self.vae = vae.eval()
        self.text_encoder = text_encoder
        self.meta = meta
        self.vae_path = vae_path  # the VAE file it decodes with (a distilled student records it)
        self.preset = get_preset(meta.get("preset", "small"))
        self.sample = sample_defaults(meta, self.preset)
        self.model_name = f"kinora-{self.preset.name}"
        self.checkpoint_sha256 = sha256_file(dit_path) if dit_path else "0" * 64
        train = meta.get("train_args", {})
        self.window = max(MIN_WINDOW, int(train.get("max_frames", self.preset.train.max_frames)))
        self.default_fps = int(train.get("fps", self.preset.train.fps))
        self.default_height = int(train.get("height", self.preset.train.height))
        self.default_width = int(train.get("width", self.preset.train.width))
        self.shift_scale = float(train.get("shift_scale", self.preset.train.shift_scale))
        self.signal_guidance = True  # physics=True: guidance on the signal too (False: on the prompt alone)
        self.physics_path: Path | None = None  # a companion checkpoint that reads the physics signal
        self._physics_model = None  # (its DiT, its SHA-256), once loaded
        self.physics_sample = self.sample  # the companion's own sampling, once loaded (it may not be distilled)
        self.compiled = False  # the DiT's blocks (and the companion's) run compiled: from_pretrained(compile=True)

    @classmethod
    def from_pretrained(cls, path: str | Path | None = None, vae_path: str | Path | None = None,
                        device: str = "cpu", precision: str = "auto", compile: bool = False) -> "KinoraPipeline":
        """Load a DiT checkpoint or weights folder (default: the shipped one) and the VAE it was trained with.
        precision "auto" (the default) runs the DiT's blocks in bf16 where the CPU has units for
        it and fp32 elsewhere; "fp32" always fp32; "bf16" warns once where it cannot (kinora.models.precision).
        compile: torch.compile the DiT's blocks (DiT.compile_blocks; the physics companion's too
        when it loads). Each new clip shape then compiles on its first call (3-10 s on 2 cores,
        less once Inductor's disk cache holds the kernels) and samples faster afterwards, so it
        pays in long-lived processes that make many clips, not for one clip (docs/MODEL.md)."""
        from kinora.models.dit import load_dit
        from kinora.models.precision import compute_dtype
        from kinora.models.text import TextEncoder
        from kinora.models.vae import load_vae

        dtype = compute_dtype(precision)
        path = find_dit(Path(path) if path else SHIPPED_DIT)
        dit, meta = load_dit(path, device=device)
        vae_path = Path(vae_path) if vae_path else find_vae(path, meta)
        check_vae(vae_path, meta, path)
        vae = load_vae(vae_path, device=device)
        dit.set_compute_dtype(dtype)
        vae.set_decode_dtype(dtype)
        pipe = cls(dit, vae, TextEncoder(device=device), meta, dit_path=path, vae_path=vae_path.resolve())
        pipe.compiled = bool(compile) and dit.compile_blocks()  # False (warned) without a C++ compiler
        companion = path.parent / physics_filename(meta.get("preset", "small"))
        if path.resolve() == SHIPPED_TEACHER.resolve():  # the shipped teacher shares the shipped companion
            companion = SHIPPED_DIT.parent / companion.name
        if not dit.cfg.signal_channels and companion.exists():
            pipe.physics_path = companion  # loaded the first time physics=True asks for it
        return pipe

    @property
    def has_physics(self) -> bool:
        """Whether physics=True can run: this DiT reads the signal, or a companion beside it does."""
        return bool(self.dit.cfg.signal_channels) or self.physics_path is not None

    def physics_dit(self):
        """The DiT that reads the physics signal: this one if it does, else the companion
        checkpoint beside it (kinora/weights ships the free model and its physics companion:
        docs/MODEL.md says why two); (model, its checkpoint's SHA-256)."""
        if self.dit.cfg.signal_channels:
            return self.dit, self.checkpoint_sha256
        if self._physics_model is None:
            from kinora.models.dit import NO_SIGNAL, load_dit

            if self.physics_path is None:
                raise KinoraError(f"{self.model_name} {NO_SIGNAL}")
            dit, meta = load_dit(self.physics_path)
            if not dit.cfg.signal_channels or meta.get("vae_hash") != self.meta.get("vae_hash"):
                raise KinoraError(f"{self.physics_path} is not a physics companion of {self.model_name} (no signal, "
                                  f"or another VAE's latents)")
            dit.set_compute_dtype(self.dit.compute)
            if self.compiled:
                dit.compile_blocks()
            self._physics_model = (dit.eval(), sha256_file(self.physics_path))
            self.physics_sample = sample_defaults(meta, self.preset)
        return self._physics_model

    # --- the steps of a call ------------------------------------------------------------
    def check_inputs(self, prompt, output_type, video, image, edit_mask, height, width, num_frames,
                     num_inference_steps, guidance_scale, sampler, extend, context_frames, raw_prompt=False,
                     strict=False, sample=None):
        """Refuse what cannot be generated; return (height, width, num_frames, steps, scale, sample_fn).
        `sample`: the defaults of the DiT that will run (default this pipeline's own)."""
        from kinora.diffusion.sampling import SAMPLERS

        sample = sample or self.sample
        if not isinstance(prompt, str) or not prompt.strip():
            raise KinoraError("the prompt is empty; describe the shot, e.g. \"a red ball bounces on the floor\"")
        if output_type not in ("np", "pt"):
            raise KinoraError(f"output_type must be 'np' or 'pt', got {output_type!r}")
        if extend not in ("forward", "backward"):
            raise KinoraError(f"extend must be 'forward' or 'backward', got {extend!r}")
        height = height or (video.shape[1] if video is not None else image.shape[0] if image is not None
                            else self.default_height)
        width = width or (video.shape[2] if video is not None else image.shape[1] if image is not None
                          else self.default_width)
        for name, v in (("height", height), ("width", width)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 16 or v > MAX_SIDE or v % 16:
                raise KinoraError(f"{name} {v!r} is not supported; use a multiple of 16 from 16 to {MAX_SIDE} "
                                  f"(the model was trained at {self.default_height})")
        if num_frames is None:
            editing = video is not None and edit_mask is not None
            # A new clip is as long as the prompt says ("for 3 seconds", 3秒), else DEFAULT_SECONDS.
            said = self.plan_prompt(prompt, strict=strict).spec.duration if isinstance(prompt, str) and \
                prompt.strip() and not raw_prompt else DEFAULT_SECONDS
            num_frames = video.shape[0] if editing else max(1, int(round(min(said, MAX_SECONDS) * self.default_fps)))
        max_frames = int(MAX_SECONDS * 60)
        if isinstance(num_frames, bool) or not isinstance(num_frames, int) or not 1 <= num_frames <= max_frames:
            raise KinoraError(f"num_frames {num_frames!r} is out of range; use 1 to {max_frames}")
        steps = num_inference_steps or sample.steps
        if isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= MAX_STEPS:
            raise KinoraError(f"num_inference_steps {steps!r} is out of range; use 1 to {MAX_STEPS}")
        scale = sample.guidance if guidance_scale is None else float(guidance_scale)
        if not 0.0 <= scale <= MAX_GUIDANCE:  # also refuses NaN
            raise KinoraError(f"guidance_scale {scale!r} is out of range; use 0 to {MAX_GUIDANCE:g}")
        sample_fn = SAMPLERS.get(sampler or sample.sampler)
        if sample_fn is None:
            raise KinoraError(f"unknown sampler {sampler!r}; use one of {', '.join(SAMPLERS)}")
        if isinstance(context_frames, bool) or not isinstance(context_frames, int) or context_frames < 1:
            raise KinoraError(f"context_frames must be a whole number of at least 1, got {context_frames!r}")
        return height, width, num_frames, steps, scale, sample_fn

    def plan_prompt(self, prompt: str, seconds: float | None = None, fps: int | None = None,
                    height: int | None = None, width: int | None = None, strict: bool = False):
        """English or Chinese prompt -> the reader's ParseResult (ShotSpec, canonical caption, warnings).
        Without `seconds` the shot is as long as the prompt says, else defaults.DEFAULT_SECONDS;
        `strict` refuses a prompt that asks for what the micro-world lacks."""
        from kinora.plan.parse import parse

        return parse(prompt, duration=seconds, fps=fps or self.default_fps, width=width or self.default_width,
                     height=height or self.default_height, strict=strict)

    def encode_text(self, texts: list[str]) -> dict:
        states, mask = self.text_encoder(texts)
        return {"text": states, "text_mask": mask}

    def sample_window(self, s: _Sampling, known_pixels: np.ndarray | None, known_mask: np.ndarray | None,
                      T: int, start: int = 0) -> np.ndarray:
        """Sample one window of T frames with optional known pixels; (T, H, W, 3) uint8.
        `start`: the window's first frame in the sampled timeline (where its physics signal begins)."""
        from kinora.diffusion.flow import resolution_shift
        from kinora.diffusion.sampling import get_sigmas

        height, width = s.height, s.width
        Tp = 1 + 4 * math.ceil((T - 1) / 4)  # the VAE's valid length, 1 + 4k
        F, h, w = latent_frames(T), height // 8, width // 8
        x = torch.randn(1, self.dit.cfg.latent_channels, F, h, w, generator=s.generator)  # (1, C, F, h, w)
        if known_mask is not None and known_mask[:T].all():
            # Nothing to make (a window of an edit outside its region): every pixel would be
            # pasted back as it is. Its noise is drawn above all the same, so the windows after
            # it get the noise they would have had and the result is the same as sampling it.
            report(1.0, "sampling")  # done: a watching caller's progress still reaches the window's end
            return known_pixels[:T].copy()
        cond, uncond = dict(s.cond), dict(s.uncond)
        if s.features is not None:
            from kinora.world.signal import latent_signal

            signal = torch.from_numpy(latent_signal(s.features[start:start + T]))[None]  # (1, S, F, 2h, 2w)
            cond["signal"] = signal
            # Guidance on the signal as well as the prompt: the unconditional branch sees neither,
            # so the guidance scale also pushes the frames towards the simulator's silhouettes
            # (docs/MODEL.md measures it against guidance on the prompt alone).
            uncond["signal"] = torch.zeros_like(signal) if self.signal_guidance else signal
        pix_mask = None
        if known_mask is not None and known_mask.any():
            # Pad to 1 + 4k by repeating the last frame; padded frames are unknown.
            pix = np.concatenate([known_pixels, np.repeat(known_pixels[-1:], Tp - T, 0)]) if Tp > T else known_pixels
            pmask = np.concatenate([known_mask, np.zeros((Tp - T, height, width), bool)]) if Tp > T else known_mask
            filled = fill_unknown(pix, pmask)
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
        sigmas = get_sigmas(s.steps, shift=resolution_shift(F, h, w, scale=self.shift_scale))
        if s.init is not None:  # SDEdit: the window's own video noised to `strength`, then denoised from there
            init = s.init[start:start + T]
            init = np.concatenate([init, np.repeat(init[-1:], Tp - T, 0)]) if Tp > T else init
            sigmas = sigmas[int(torch.nonzero(sigmas <= s.strength + 1e-6)[0]):]
            z0 = self.vae.encode(to_model_range(init))  # (1, C, F, h, w)
            x = (1 - sigmas[0]) * z0 + sigmas[0] * x

        n_steps = len(sigmas) - 1

        def callback(info):
            report((info["i"] + 1) / n_steps, "sampling")  # a watching caller may stop the call here
            if s.callback is not None:
                s.callback(self, info["i"], float(info["sigma"]), {"latents": info["x"]})

        z = s.sample_fn(s.model, x, sigmas, extra_args={"cond": cond, "uncond": uncond}, callback=callback)
        out = to_uint8(self.vae.decode(z))[:T]  # (T, H, W, 3)
        if pix_mask is not None:
            # Paste the known pixels back: conditioned frames come back exactly.
            out = np.where(pix_mask[:T, :, :, None], known_pixels[:T], out)
        return out

    def sample_long(self, s: _Sampling, known: np.ndarray, kmask: np.ndarray, context: int) -> np.ndarray:
        """Fill a clip window by window; each window after the first starts with the
        previous window's last `context` frames as known frames."""
        T = known.shape[0]
        if T <= self.window:
            return self.sample_window(s, known, kmask, T)
        out = np.zeros_like(known)
        done = 0
        key = ""
        if s.progress is not None:  # a killed call's finished windows and noise state, if it was this call
            import hashlib

            key = hashlib.sha256(s.fingerprint.encode() + known.tobytes() + kmask.tobytes()).hexdigest()
            done = load_progress(s.progress, key, out, s.generator)
        spans = window_spans(T, self.window, context)
        for k, (start, end) in enumerate(spans):
            if end <= done:
                continue
            kp, km = known[start:end].copy(), kmask[start:end].copy()
            if done:
                kp[: done - start] = out[start:done]
                km[: done - start] = True
            with part(k, len(spans), f"window {k + 1}/{len(spans)}"):
                out[start:end] = self.sample_window(s, kp, km, end - start, start)
            done = end
            if s.progress is not None and done < T:
                save_progress(s.progress, key, out[:done], s.generator)
        return out

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
        context_frames: int = CONTEXT_FRAMES,
        sampler: str | None = None,
        callback_on_step_end: Callable | None = None,
        raw_prompt: bool = False,
        strict: bool = False,
        physics: bool = False,
        spec=None,
        progress_file: str | Path | None = None,
        strength: float | None = None,
    ) -> GenerationOutput:
        """Generate one clip.

        image: (H, W, 3) uint8 first frame (image-to-video). last_image: last frame
        (with `image`: bridging). loop=True: the last frame equals the first, so the
        clip plays seamlessly on repeat (bridging from the first frame to itself; the
        first frame is `image` or, without one, generated from the prompt). video:
        (T, H, W, 3) uint8 to extend (`extend` = "forward" appends num_frames new frames,
        "backward" prepends them) or, with `edit_mask` (T, H, W) bool True = regenerate,
        to inpaint. raw_prompt=True skips the planner and conditions on the prompt text
        as it is. strict=True refuses a prompt that asks for something the micro-world lacks
        (an orange ball, a dog) instead of using the nearest thing with a warning. Without
        num_frames a new clip is as long as the prompt says ("for 3 seconds"), else 2 s.
        physics=True: the simulator runs the shot and guides the model (see the module
        docstring); needs a model trained with the physics signal. spec: a ShotSpec to make
        instead of reading the prompt (`kinora world schema`); the prompt may then be empty
        (the spec's canonical caption is used). progress_file: a clip longer than one window
        keeps its finished windows and noise state there after each window, and a call with
        the same arguments continues from it (a render killed with -9 resumes to the same
        frames, bit for bit); the caller removes it when the clip is safely written.
        strength (with `video`): restyle it (SDEdit): noise it to this level (0 < strength <= 1)
        and denoise with the prompt; low keeps its layout and motion, 1 is a fresh clip.
        """
        from kinora.diffusion.sampling import CFG

        # 1. Check inputs: which task, what size, how many frames and steps.
        if spec is not None:
            prompt, num_frames = self._spec_prompt(spec, prompt, raw_prompt, num_frames, video, edit_mask)
        if physics and raw_prompt:
            raise KinoraError("physics needs the shot's plan: drop raw_prompt, or pass the ShotSpec as spec")
        dit, checkpoint = self.physics_dit() if physics else (self.dit, self.checkpoint_sha256)
        task = task_of(image=image is not None, last_image=last_image is not None, loop=loop,
                       video=video is not None, edit_mask=edit_mask is not None, backward=extend == "backward",
                       strength=strength is not None)
        if strength is not None and not (isinstance(strength, (int, float)) and 0 < strength <= 1):
            raise KinoraError(f"strength {strength!r} is out of range; use more than 0 and at most 1")
        if strength is not None and num_frames is None:
            num_frames = len(video)  # a restyle keeps the video's length
        height, width, num_frames, steps, scale, sample_fn = self.check_inputs(
            prompt, output_type, video, image, edit_mask, height, width, num_frames, num_inference_steps,
            guidance_scale, sampler, extend, context_frames, raw_prompt, strict,
            sample=self.physics_sample if physics else self.sample)

        # 2. Plan: the prompt -> a ShotSpec and the canonical English caption the DiT was trained on.
        seconds = min(num_frames / self.default_fps, MAX_SECONDS)
        if spec is not None:
            from kinora.plan.parse import ParseResult
            from kinora.world.captions import canonical_caption

            plan = ParseResult(spec=spec, canonical=canonical_caption(spec), language="en")
        else:
            plan = None if raw_prompt else self.plan_prompt(prompt, seconds, self.default_fps, height, width, strict)
        canonical = prompt.strip() if plan is None else plan.canonical

        # 3. Encode the prompt and the negative prompt.
        g = generator if generator is not None else torch.Generator().manual_seed(0)
        s = _Sampling(height=height, width=width, cond=self.encode_text([canonical]),
                      uncond=self.encode_text([negative_prompt or ""]), model=CFG(dit, scale), generator=g,
                      steps=steps, sample_fn=sample_fn, callback=callback_on_step_end)
        notes: list[str] = []
        if progress_file is not None:
            import json

            s.progress = Path(progress_file)
            s.fingerprint = json.dumps([canonical, negative_prompt, num_frames, height, width, steps, scale,
                                        sample_fn.__name__, g.initial_seed(), task.name, context_frames, physics,
                                        self.checkpoint_sha256, str(self.dit.compute), torch.get_num_threads()]
                                       + (["compiled"] if self.compiled else []))  # compiled kernels round apart

        # 4. The task's known pixels, at the output size.
        if video is not None:
            video = _check_frames(video, "video", height, width)
        if strength is not None:
            if num_frames != len(video):
                raise KinoraError(f"a restyle keeps the video's {len(video)} frames; do not ask for {num_frames}")
            s.init, s.strength = video, float(strength)
        if image is not None:
            image = _check_frames(image[None], "image", height, width)[0]
        if last_image is not None:
            last_image = _check_frames(last_image[None], "last_image", height, width)[0]
        if physics:  # 4b. The simulator runs the shot over the frames to be sampled.
            notes = self._physics(s, plan.spec, task, video, image, num_frames, context_frames)
        if task.name == "loop":
            if image is None:
                image = self.sample_window(s, None, None, 1)[0]  # the opening frame, from the prompt alone
            last_image = image

        # 5. Sample window by window, and splice the result into the caller's frames.
        frames = self._frames(task, s, video, image, last_image, edit_mask, num_frames, context_frames)

        # 6. The frames with the plan they were made from.
        settings = {"steps": steps, "guidance": scale, "precision": "bf16" if self.dit.compute == torch.bfloat16
                    else "fp32", "sampler": sample_fn.__name__.removeprefix("sample_"),
                    "height": height, "width": width, "frames": int(frames.shape[0]),
                    "threads": torch.get_num_threads(), "physics": bool(physics)}
        if self.compiled:
            settings["compiled"] = True
        if physics:
            settings.update(simulation_s=round(s.simulation_s, 4), signal_guidance=self.signal_guidance,
                            checkpoint_sha256=checkpoint)
        warnings = (list(plan.warnings) if plan else []) + notes
        if negative_prompt and scale == 1.0:
            warnings.append("guidance is 1 (a distilled model samples without guidance): the negative prompt has "
                            "no effect")
        folded = self.meta.get("distilled", {}).get("guidance")
        if folded and not physics and scale != 1.0:
            warnings.append(f"this model has its teacher's guidance ({folded:g}) folded in: guidance {scale:g} "
                            f"applies on top of it; for guided sampling use the teacher (--model kinora/weights/"
                            f"teacher)")
        return GenerationOutput(frames=[frames if output_type == "np" else torch.from_numpy(frames)], prompt=prompt,
                                canonical=canonical, warnings=warnings,
                                spec=plan.spec if plan else None, task=task.name, seed=g.initial_seed(),
                                settings=settings, physics_spec=s.physics_spec)

    def _spec_prompt(self, spec, prompt, raw_prompt, num_frames, video, edit_mask) -> tuple[str, int | None]:
        """A ShotSpec given instead of a prompt: (the prompt to record, num_frames)."""
        from kinora.world.captions import canonical_caption
        from kinora.world.spec import ShotSpec, validate

        if not isinstance(spec, ShotSpec):
            raise KinoraError(f"spec must be a ShotSpec (kinora.world.spec), got {type(spec).__name__}")
        if raw_prompt:
            raise KinoraError("spec and raw_prompt contradict each other: a spec is the plan; give one")
        validate(spec)
        prompt = prompt if isinstance(prompt, str) and prompt.strip() else canonical_caption(spec)
        if num_frames is None and not (video is not None and edit_mask is not None):
            num_frames = max(1, int(round(min(spec.duration, MAX_SECONDS) * self.default_fps)))
        return prompt, num_frames

    def _timeline(self, task: Task, video, image, num_frames: int,
                  context: int) -> tuple[int, np.ndarray | None, np.ndarray | None]:
        """What `_frames` samples for the task: how many frames, the known frame they start
        from (if any), and an extension's context frames (the video's last, or first, ones)."""
        if task.name in ("inpaint", "restyle"):  # the video's own frames
            return video.shape[0], video[0], None
        if task.name in ("extend", "extend_backward"):  # the context and the new frames
            c = min(context, video.shape[0])
            ctx = video[:c] if task.backward else video[-c:]
            return c + num_frames, (video[0] if task.backward else ctx[0]), ctx
        return num_frames, image, None  # a new clip, from the given first image if there is one

    def _physics(self, s: _Sampling, spec, task: Task, video, image, num_frames: int, context: int) -> list[str]:
        """Run the simulator over the timeline `_frames` will sample and keep its signal in `s`;
        the notes say which objects a known frame did not show."""
        import time

        from kinora.pipelines.physics import fit_spec, fit_to_context, held_still, physics_features, place_from_frame
        from kinora.world.spec import resolve

        t0 = time.perf_counter()
        T, first, ctx = self._timeline(task, video, image, num_frames, context)
        if task.name == "loop":  # there and back: the signal ends where it began, as the frames must
            T = T // 2 + 1
        fitted = fit_spec(spec, self.default_fps, s.width, s.height, T)
        notes: list[str] = []
        if first is None:
            placed = resolve(fitted)
        else:
            # A forward extension's context shows its objects move: a later context frame
            # tells a faller's distance from how far it fell (kinora.pipelines.physics).
            ctx = ctx if task.name == "extend" else None
            k = min(3, len(ctx) - 1) if ctx is not None else 0
            placed, notes = place_from_frame(fitted, first, later=ctx[k] if k > 0 else None, later_index=k)
            if ctx is not None:  # and what the prompt left unsaid (a material, a speed) from how it moves
                placed, chosen = fit_to_context(placed, ctx)
                notes += chosen
        if task.name == "extend_backward":
            placed = held_still(placed)  # the engine does not run backwards: what the video opens with waits
        features = physics_features(placed)
        if task.name == "loop":
            order = list(range(T)) + list(range(T - 2, -1, -1))  # 0 .. T-1 .. 0: 2T - 1 frames
            if len(order) > num_frames:
                del order[T - 1]  # an even length: drop the turning point
            features = features[order]  # (num_frames, S, h2, w2), the last frame's signal = the first's
        s.features, s.physics_spec = features, placed
        s.simulation_s = time.perf_counter() - t0
        return notes

    def _frames(self, task: Task, s: _Sampling, video, image, last_image, edit_mask, num_frames: int,
                context: int) -> np.ndarray:
        """The known pixels each task gives, sampled into the whole clip."""
        if task.name == "restyle":  # nothing known: every window starts from its part of the video, noised
            nothing = np.zeros(video.shape[:3], bool)
            return self.sample_long(s, np.zeros_like(video), nothing, context)
        if task.name == "inpaint":
            # Same length as the input; regenerate only where edit_mask is True.
            edit_mask = np.asarray(edit_mask, bool)
            if edit_mask.shape != video.shape[:3]:
                raise KinoraError(f"edit_mask must have shape {video.shape[:3]}, got {edit_mask.shape}")
            return self.sample_long(s, video.copy(), ~edit_mask, context)
        if task.name in ("extend", "extend_backward"):
            # Only the last (first) `context` frames of the video condition the new ones.
            T, _, ctx = self._timeline(task, video, None, num_frames, context)
            c = len(ctx)
            known = np.zeros((T, *ctx.shape[1:]), np.uint8)
            kmask = np.zeros(known.shape[:3], bool)
            where = slice(num_frames, T) if task.backward else slice(0, c)
            known[where], kmask[where] = ctx, True
            if not task.backward:
                return np.concatenate([video, self.sample_long(s, known, kmask, context)[c:]])
            if T > self.window:
                raise KinoraError(f"backward extension works within one window of {self.window} frames; "
                                  f"ask for at most {self.window - c} new frames")
            return np.concatenate([self.sample_window(s, known, kmask, T)[:num_frames], video])
        # t2v, i2v, bridge, loop: known first and/or last frames of a new clip.
        known = np.zeros((num_frames, s.height, s.width, 3), np.uint8)
        kmask = np.zeros((num_frames, s.height, s.width), bool)
        if image is not None:
            known[0], kmask[0] = image, True
        if last_image is not None:
            if num_frames < 2:
                raise KinoraError("bridging needs at least 2 frames")
            if num_frames > self.window:
                raise KinoraError(f"bridging works within one window of {self.window} frames; ask for fewer frames")
            known[-1], kmask[-1] = last_image, True
        return self.sample_long(s, known, kmask, context)


def save_progress(path: Path, key: str, frames: np.ndarray, generator: torch.Generator) -> None:
    """The finished frames of a long clip and the noise generator's state, written atomically."""
    from kinora.io.atomic import atomic_path

    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, frames=frames, key=np.array(key), rng=generator.get_state().numpy())


def load_progress(path: Path, key: str, out: np.ndarray, generator: torch.Generator) -> int:
    """Put a saved call's finished frames into `out` and its noise state into `generator`;
    how many frames were done (0: no progress of this call, which then starts afresh)."""
    if not path.exists():
        return 0
    try:
        with np.load(path) as z:
            if str(z["key"]) != key:
                return 0
            frames, rng = z["frames"], z["rng"]
    except (OSError, ValueError, KeyError):  # a progress file that cannot be read is no progress
        return 0
    out[: len(frames)] = frames
    generator.set_state(torch.from_numpy(rng))
    return len(frames)


def _check_frames(frames: np.ndarray, what: str, height: int, width: int) -> np.ndarray:
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise KinoraError(f"{what} must be uint8 RGB frames, got shape {frames.shape} {frames.dtype}")
    if frames.shape[1:3] != (height, width):
        from PIL import Image

        frames = np.stack([np.asarray(Image.fromarray(f).resize((width, height), Image.BICUBIC)) for f in frames])
    return frames
