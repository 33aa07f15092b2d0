"""What every diffusers adapter shares: loading a local model folder, the Generator call
(kinora.pipelines.base), and the pieces of a tiny random model folder.

An adapter is a `DiffusersGenerator` with one `BackendInfo`: which diffusers pipeline
classes it drives, which Kinora tasks each of them does, and the model family's frame and
size rules. The call takes Kinora's arguments (those of KinoraPipeline.__call__), names
the task once with `kinora.diffusion.tasks.task_of`, refuses what the loaded weights cannot
do in one line, and then runs the diffusers pipeline with the arguments it documents
(prompt, negative_prompt, num_frames, height, width, num_inference_steps, guidance_scale,
generator, output_type="np", callback_on_step_end). What Kinora adds around it:

* the plan: the prompt is read by Kinora's reader, so the result carries a ShotSpec with
  provenance like Kinora's own (the open-weight model itself is conditioned on the prompt
  as written; a model that reads only English gets the reader's English caption of a
  Chinese prompt, with a warning);
* frame counts: each family makes 1 + k * step frames; Kinora asks for any number and cuts;
* conditioned frames come back exactly (the first image of i2v, the video an extension
  continues), as with Kinora's own model, when they are at the output size (else they are
  resized, with a warning);
* extension forward (and clips longer than one call) by image-to-video from the last frame;
* progress through kinora.progress, so the studio's bar moves and a job can be cancelled;
* identity: the weights' SHA-256 (over every file of the folder) in the provenance.

Nothing is downloaded: folders load with local_files_only and HF_HUB_OFFLINE=1.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from kinora.defaults import DEFAULT_SECONDS, MAX_GUIDANCE, MAX_SECONDS, MAX_STEPS
from kinora.diffusion.tasks import task_of
from kinora.errors import KinoraError
from kinora.progress import part, report

SETTINGS_FILE = "kinora.json"  # optional, in a model folder: the defaults Kinora uses for it (make-tiny writes one)


@dataclass(frozen=True)
class BackendInfo:
    """One model family behind diffusers."""

    name: str  # what --backend takes
    title: str  # for messages and `kinora backends list`
    pipelines: dict[str, frozenset[str]]  # model_index.json's _class_name -> the Kinora tasks it does
    i2v_pipeline: str | None  # the class that continues from an image with the same weights (None: separate weights)
    fps: int  # the family's native frame rate
    frame_step: int  # it makes 1 + k * frame_step frames
    size_multiple: int  # height and width must be multiples of this
    default_size: tuple[int, int]  # (width, height) the family was trained at
    max_frames: int  # the longest clip one call makes well
    steps: int  # diffusers' default number of steps
    languages: tuple[str, ...]  # what its text encoder reads ("en", "zh")
    max_sequence_length: int | None = None  # passed to the pipeline (the tiny folders record a short one)
    extra_call: dict = field(default_factory=dict)  # fixed keyword arguments of this family's call


def folder_files(folder: Path) -> tuple:
    """(relative path, size, mtime) of every file of a model folder: cheap, and changes with any file."""
    return tuple((p.relative_to(folder).as_posix(), st.st_size, st.st_mtime_ns)
                 for p in sorted(folder.rglob("*")) if p.is_file() and (st := p.stat()))


_HASHES: dict[tuple, str] = {}  # (folder, folder_files) -> its SHA-256: a folder is read once per process


def folder_sha256(folder: Path) -> str:
    """One SHA-256 over every file of a model folder (relative path and content), in sorted order."""
    from kinora.io.hashing import sha256_file

    key = (str(folder), folder_files(folder))
    if key not in _HASHES:
        h = hashlib.sha256()
        for rel, _, _ in key[1]:
            if rel != SETTINGS_FILE:
                h.update(rel.encode() + b"\0" + sha256_file(folder / rel).encode() + b"\n")
        _HASHES[key] = h.hexdigest()
    return _HASHES[key]


def need_diffusers(backend: str):
    """Import diffusers, or refuse in one line naming the extra to install."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a local folder only; never the hub
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    try:
        import accelerate  # noqa: F401  (diffusers loads Wan's fp32-kept modules only with it)
        import diffusers
        import transformers
    except ImportError as e:
        raise KinoraError(f"the {backend} backend needs diffusers, transformers and accelerate: "
                          f"pip install 'kinora[backends]' ({e.name} is missing)") from None
    # Their notices (a prompt cut to max_sequence_length, dtype hints) are not the user's
    # concern on every call; errors still surface as exceptions.
    diffusers.utils.logging.set_verbosity_error()
    transformers.utils.logging.set_verbosity_error()
    diffusers.utils.logging.disable_progress_bar()  # Kinora reports progress itself (kinora.progress)
    transformers.utils.logging.disable_progress_bar()
    return diffusers


def read_model_index(folder: Path, info: BackendInfo) -> str:
    """The pipeline class a diffusers model folder names; refused unless this backend drives it."""
    if not folder.is_dir():
        raise KinoraError(f"--model-dir {folder} is not a folder; give a diffusers model folder for {info.title} "
                          f"(or make a tiny one: kinora backends make-tiny {info.name} DIR)")
    index = folder / "model_index.json"
    if not index.exists():
        raise KinoraError(f"{folder} has no model_index.json: not a diffusers model folder (for {info.title}: the "
                          f"'-Diffusers' release of the weights, or 'kinora backends make-tiny {info.name} DIR')")
    try:
        name = json.loads(index.read_text())["_class_name"]
    except (ValueError, KeyError, TypeError):
        raise KinoraError(f"{index} is not a diffusers model index (no _class_name)") from None
    if name not in info.pipelines:
        raise KinoraError(f"{folder} holds a {name}, which the {info.name} backend does not drive (it drives "
                          f"{', '.join(info.pipelines)}); choose the backend that matches it")
    return name


class DiffusersGenerator:
    """A Kinora Generator (kinora.pipelines.base) over one diffusers pipeline loaded from a folder."""

    has_physics = False  # the simulator's signal guides Kinora's own model only

    def __init__(self, info: BackendInfo, folder: str | Path, precision: str = "auto"):
        import torch

        diffusers = need_diffusers(info.name)
        self.info = info
        self.folder = Path(folder).expanduser().resolve()
        self.pipeline_class = read_model_index(self.folder, info)
        settings = self.folder / SETTINGS_FILE
        self.settings = json.loads(settings.read_text()) if settings.exists() else {}
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        if precision not in ("auto", "fp32", "bf16"):
            raise KinoraError(f"unknown precision {precision!r}; use auto, fp32 or bf16")
        self.dtype = torch.bfloat16 if precision == "bf16" or (precision == "auto" and self.device == "cuda") \
            else torch.float32
        cls = getattr(diffusers, self.pipeline_class)
        try:
            self.pipe = cls.from_pretrained(self.folder, dtype=self.dtype, local_files_only=True)
        except (OSError, ValueError, KeyError) as e:
            raise KinoraError(f"cannot load {self.folder} as a {self.pipeline_class}: {' '.join(str(e).split())[:300]}"
                              ) from None
        self.pipe.to(self.device)
        self.pipe.set_progress_bar_config(disable=True)
        self._i2v = None  # the image-to-video pipeline over the same weights, made when first needed
        self.supported_tasks = info.pipelines[self.pipeline_class]
        self.model_name = f"{info.name}:{self.folder.name}"
        self.checkpoint_sha256 = folder_sha256(self.folder)
        self.default_fps = int(self.settings.get("fps", info.fps))
        self.default_width, self.default_height = (int(v) for v in self.settings.get("size", info.default_size))
        self.default_steps = int(self.settings.get("steps", info.steps))
        self.max_frames = int(self.settings.get("max_frames", info.max_frames))
        self.max_sequence_length = self.settings.get("max_sequence_length", info.max_sequence_length)

    def __repr__(self) -> str:
        return f"DiffusersGenerator({self.info.name}, {self.folder}, tasks={sorted(self.supported_tasks)})"

    # --- the plan ----------------------------------------------------------------------
    def plan_prompt(self, prompt: str, seconds: float | None = None, fps: int | None = None,
                    height: int | None = None, width: int | None = None, strict: bool = False):
        """The prompt read by Kinora's reader (ShotSpec, canonical caption, warnings): the plan kept with the frames."""
        from kinora.plan.parse import parse

        return parse(prompt, duration=seconds, fps=fps or self.default_fps, width=width or self.default_width,
                     height=height or self.default_height, strict=strict)

    def _conditioning_text(self, prompt: str, plan, spec=None) -> tuple[str, list[str]]:
        """What the model reads: the prompt as written, or, for a model that does not read the
        prompt's language, the English caption of the plan (the reader's, or the given spec's)."""
        from kinora.plan.parse import detect_language

        if detect_language(prompt) in self.info.languages:
            return prompt.strip(), []
        if spec is not None:
            from kinora.world.captions import canonical_caption

            caption = canonical_caption(spec)
            return caption, [f"{self.info.title} reads English only: it was conditioned on the spec's English "
                             f"caption {caption!r}"]
        if plan is None:  # raw_prompt: the text as it is, though the model cannot read it
            return prompt.strip(), [f"{self.info.title} reads English only; the prompt was given to it as written"]
        if not plan.spec.objects:
            raise KinoraError(f"{self.info.title} reads English only, and Kinora's reader found no shot it can put "
                              f"into English in this prompt ({'; '.join(plan.warnings) or 'no object named'}); "
                              f"write the prompt in English")
        return plan.canonical, [*plan.warnings, f"{self.info.title} reads English only: it was conditioned on the "
                                f"reader's English caption {plan.canonical!r}"]

    # --- the call ----------------------------------------------------------------------
    def __call__(self, prompt: str, negative_prompt: str | None = None, num_frames: int | None = None,
                 height: int | None = None, width: int | None = None, num_inference_steps: int | None = None,
                 guidance_scale: float | None = None, generator=None, output_type: str = "np",
                 image: np.ndarray | None = None, last_image: np.ndarray | None = None, loop: bool = False,
                 video: np.ndarray | None = None, extend: str = "forward", edit_mask: np.ndarray | None = None,
                 sampler: str | None = None, callback_on_step_end: Callable | None = None, raw_prompt: bool = False,
                 strict: bool = False, physics: bool = False, spec=None, strength: float | None = None,
                 context_frames: int | None = None, progress_file=None):
        """Generate one clip; the arguments are KinoraPipeline's (see there). context_frames and
        progress_file are accepted and unused: a diffusers call is not resumed window by window."""
        import torch

        from kinora.pipelines.output import GenerationOutput

        # 1. The task, and what this backend refuses.
        task = task_of(image=image is not None, last_image=last_image is not None, loop=loop,
                       video=video is not None, edit_mask=edit_mask is not None, backward=extend == "backward",
                       strength=strength is not None)
        self._refuse(task.name, sampler=sampler, physics=physics, strict=strict)
        if spec is not None and not (prompt or "").strip():
            from kinora.world.captions import canonical_caption

            prompt = canonical_caption(spec)
        if not isinstance(prompt, str) or not prompt.strip():
            raise KinoraError("the prompt is empty; describe the shot, e.g. \"a red ball bounces on the floor\"")
        if output_type not in ("np", "pt"):
            raise KinoraError(f"output_type must be 'np' or 'pt', got {output_type!r}")
        height, width = self._size(height, width, video, image)
        steps = num_inference_steps or self.default_steps
        if isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= MAX_STEPS:
            raise KinoraError(f"num_inference_steps {steps!r} is out of range; use 1 to {MAX_STEPS}")
        if guidance_scale is not None and not 0.0 <= float(guidance_scale) <= MAX_GUIDANCE:
            raise KinoraError(f"guidance_scale {guidance_scale!r} is out of range; use 0 to {MAX_GUIDANCE:g}")

        # 2. The plan: the reader's ShotSpec, kept with the frames.
        plan = None
        if spec is None and not raw_prompt:
            plan = self.plan_prompt(prompt, None if num_frames is None else num_frames / self.default_fps,
                                    self.default_fps, height, width)
        if num_frames is None:
            seconds = spec.duration if spec is not None else plan.spec.duration if plan else DEFAULT_SECONDS
            num_frames = max(1, int(round(min(seconds, MAX_SECONDS) * self.default_fps)))
        if isinstance(num_frames, bool) or not isinstance(num_frames, int) or \
                not 1 <= num_frames <= int(MAX_SECONDS * 60):
            raise KinoraError(f"num_frames {num_frames!r} is out of range; use 1 to {int(MAX_SECONDS * 60)}")
        text, warnings = self._conditioning_text(prompt, plan, spec)

        # 3. Sample: one call, or a chain of image-to-video calls for an extension or a long clip.
        g = generator if generator is not None else torch.Generator().manual_seed(0)
        seed = g.initial_seed()
        call = {"negative_prompt": negative_prompt, "height": height, "width": width, "num_inference_steps": steps,
                **({} if guidance_scale is None else {"guidance_scale": float(guidance_scale)})}
        for name, given in (("video", video), ("image", None if image is None else image[None])):
            if given is not None and tuple(given.shape[1:3]) != (height, width):
                warnings.append(f"the {name} ({given.shape[2]}x{given.shape[1]}) was resized to {width}x{height}, "
                                f"so its frames come back resized, not as given")
        if task.name == "extend":
            video = self._fit(video, height, width)
            frames = np.concatenate([video, self._continue(text, video[-1], num_frames, call, g,
                                                           callback_on_step_end)])
        elif task.name == "i2v":
            first = self._fit(image[None], height, width)[0]
            frames = self._continue(text, first, num_frames - 1, call, g, callback_on_step_end, keep_first=True)
        else:
            frames = self._t2v(text, num_frames, call, g, callback_on_step_end)

        # 4. The frames with the plan and how they were made.
        settings = {"backend": self.info.name, "pipeline": self.pipeline_class, "weights": self.folder.name,
                    "steps": steps, "guidance": call.get("guidance_scale"), "height": height, "width": width,
                    "frames": int(frames.shape[0]), "precision": "bf16" if self.dtype == torch.bfloat16 else "fp32",
                    "device": self.device, "threads": torch.get_num_threads(), "physics": False}
        the_spec = spec if spec is not None else plan.spec if plan else None
        return GenerationOutput(frames=[frames if output_type == "np" else torch.from_numpy(frames)], prompt=prompt,
                                canonical=text, warnings=warnings, spec=the_spec, task=task.name, seed=seed,
                                settings=settings)

    def check_task(self, task: str) -> None:
        """Refuse, in one line, a task these weights cannot do (kinora.pipelines.base.require_task)."""
        self._refuse(task, sampler=None, physics=False, strict=False)

    def _refuse(self, task: str, sampler, physics: bool, strict: bool) -> None:
        if task not in self.supported_tasks:
            does = ", ".join(sorted(self.supported_tasks))
            more = f" (a folder with {self.info.i2v_pipeline} weights does image-to-video)" \
                if task in ("i2v", "extend") and self.info.i2v_pipeline and "i2v" not in self.supported_tasks else ""
            raise KinoraError(f"the {self.info.name} backend ({self.pipeline_class}) does not do {task}; it does "
                              f"{does}{more}; Kinora's own model (--backend kinora) does every task")
        if physics:
            raise KinoraError(f"the simulator in the loop (--physics) guides Kinora's own model; the {self.info.name} "
                              f"backend cannot read its signal (drop --physics or use --backend kinora)")
        if sampler is not None:
            raise KinoraError(f"the {self.info.name} backend samples with its own scheduler; drop --sampler")
        if strict:
            raise KinoraError(f"--strict checks a prompt against the micro-world; the {self.info.name} backend is not "
                              f"limited to it (drop --strict)")

    def _size(self, height, width, video, image) -> tuple[int, int]:
        given = video.shape[1:3] if video is not None else image.shape[:2] if image is not None else None
        height = height or (given[0] if given is not None else self.default_height)
        width = width or (given[1] if given is not None else self.default_width)
        m = self.info.size_multiple
        for name, v in (("height", height), ("width", width)):
            if isinstance(v, bool) or not isinstance(v, int) or v < m or v % m or v > 4096:
                raise KinoraError(f"{name} {v!r} is not supported by {self.info.title}; use a multiple of {m} "
                                  f"(it was trained at {self.default_width}x{self.default_height})")
        return height, width

    def _fit(self, frames: np.ndarray, height: int, width: int) -> np.ndarray:
        """Frames (T, H, W, 3) uint8 at the output size (resized with PIL where they differ)."""
        from PIL import Image

        frames = np.asarray(frames)
        if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
            raise KinoraError(f"frames must be (T, H, W, 3) uint8, got {frames.shape} {frames.dtype}")
        if frames.shape[1:3] == (height, width):
            return frames
        return np.stack([np.asarray(Image.fromarray(f).resize((width, height), Image.BICUBIC)) for f in frames])

    def _length(self, n: int) -> int:
        """The family's frame count (1 + k * step) that covers n frames."""
        step = self.info.frame_step
        return 1 + step * max(0, math.ceil((n - 1) / step))

    def _run(self, pipe, n: int, call: dict, g, callback, **more) -> np.ndarray:
        """One diffusers call of at least n frames; (n, H, W, 3) uint8."""
        steps = call["num_inference_steps"]

        def on_step(p, i, t, kwargs):
            report((i + 1) / steps, "sampling")  # a watching caller may stop the call here
            if callback is not None:
                callback(self, i, float(t), {"latents": kwargs.get("latents")})
            return kwargs

        extra = dict(self.info.extra_call)
        if self.max_sequence_length:
            extra["max_sequence_length"] = int(self.max_sequence_length)
        if "frame_rate" in extra:
            extra["frame_rate"] = self.default_fps
        try:
            out = pipe(num_frames=self._length(n), generator=g, output_type="np", callback_on_step_end=on_step,
                       **call, **extra, **more).frames[0]  # (T, H, W, 3) float in [0, 1]
        except ValueError as e:  # the pipeline's own input checks (a size its embeddings do not cover, ...)
            raise KinoraError(f"{self.pipeline_class} refused the call: {' '.join(str(e).split())[:300]}") from None
        return (np.clip(np.asarray(out, np.float32), 0, 1) * 255).round().astype(np.uint8)[:n]

    def _t2v(self, text: str, n: int, call: dict, g, callback) -> np.ndarray:
        """A new clip from the prompt; past one call's length, continued from its last frame."""
        first = min(n, self.max_frames)
        if n > first and "extend" not in self.supported_tasks:
            raise KinoraError(f"{self.info.title} makes at most {self.max_frames} frames in one call "
                              f"({self.max_frames / self.default_fps:.1f} s) and these weights cannot continue a clip; "
                              f"ask for fewer seconds, or use weights that do image-to-video")
        windows = 1 + self._windows(n - first)
        with part(0, windows, f"window 1/{windows}"):
            frames = self._run(self.pipe, first, call, g, callback, prompt=text)
        if n > first:
            frames = np.concatenate([frames, self._continue(text, frames[-1], n - first, call, g, callback,
                                                            offset=1, windows=windows)])
        return frames

    def _windows(self, n: int) -> int:
        """Image-to-video calls that make n new frames (each repeats the frame it continues from)."""
        return math.ceil(n / (self.max_frames - 1)) if n > 0 else 0

    def _continue(self, text: str, last: np.ndarray, n: int, call: dict, g, callback, keep_first: bool = False,
                  offset: int = 0, windows: int | None = None) -> np.ndarray:
        """n new frames after the frame `last`, by image-to-video calls of up to max_frames each.
        keep_first: return `last` itself before them (image-to-video's first frame, exactly).
        offset, windows: these calls are parts offset.. of `windows` equal parts of the progress."""
        from PIL import Image

        pipe = self._i2v_pipe()
        out = [last[None]] if keep_first else []
        windows = windows or self._windows(n)
        made, k = 0, offset
        while made < n:
            want = min(self.max_frames - 1, n - made)
            with part(k, windows, f"window {k + 1}/{windows}"):
                clip = self._run(pipe, want + 1, call, g, callback, prompt=text, image=Image.fromarray(last))
            new = clip[1:want + 1]  # the first frame is the one continued from, already there
            out.append(new)
            last = new[-1]
            made, k = made + len(new), k + 1
        return np.concatenate(out) if out else last[None][:0]

    def _i2v_pipe(self):
        if "i2v" not in self.supported_tasks:
            raise KinoraError(f"the {self.info.name} backend ({self.pipeline_class}) does not do image-to-video")
        if self.pipeline_class == self.info.i2v_pipeline or self.info.i2v_pipeline is None:
            return self.pipe
        if self._i2v is None:
            import diffusers

            self._i2v = getattr(diffusers, self.info.i2v_pipeline).from_pipe(self.pipe)
            self._i2v.set_progress_bar_config(disable=True)
        return self._i2v


# ---------------------------------------------------------------------------------
# Tiny random model folders (kinora backends make-tiny): offline, a few MB
# ---------------------------------------------------------------------------------

TINY_TEXT_DIM = 32
# The tokenizer's pieces: letters, digits, punctuation and the Chinese characters of Kinora's lexicon.
_ASCII = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,;:!?'\"-()"


def tiny_tokenizer():
    """A T5-style Unigram tokenizer built in code (no hub): one piece per character, with and
    without the word-start marker, over ASCII and the Chinese characters Kinora's reader knows."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers
    from transformers import T5TokenizerFast

    from kinora.plan import lexicon

    cjk = sorted({c for c in Path(lexicon.__file__).read_text(encoding="utf-8") if "\u4e00" <= c <= "\u9fff"})
    chars = list(_ASCII) + cjk
    vocab = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("\u2581", -2.0)]
    vocab += [(c, -3.0) for c in chars] + [("\u2581" + c, -3.5) for c in chars]
    tok = Tokenizer(models.Unigram(vocab, unk_id=2, byte_fallback=False))
    tok.normalizer = normalizers.NFKC()
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    return T5TokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="</s>", unk_token="<unk>", extra_ids=0)


def tiny_t5(vocab_size: int, umt5: bool = False):
    """A one-layer T5 (or UMT5, Wan's) text encoder with random weights."""
    from transformers import T5Config, T5EncoderModel, UMT5Config, UMT5EncoderModel

    cfg = dict(vocab_size=vocab_size, d_model=TINY_TEXT_DIM, d_kv=8, d_ff=32, num_layers=1, num_heads=2,
               relative_attention_num_buckets=8, relative_attention_max_distance=16)
    return UMT5EncoderModel(UMT5Config(**cfg)) if umt5 else T5EncoderModel(T5Config(**cfg))


def write_tiny(folder: str | Path, backend: str, build: Callable[[], object], settings: dict,
               force: bool = False) -> Path:
    """Write the pipeline `build()` makes (random weights, seeded) as a diffusers model folder,
    with the Kinora settings a tiny model needs. All or nothing: it is written beside the
    target and renamed into place; an existing folder is refused unless `force`."""
    import torch

    need_diffusers(backend)
    folder = Path(folder).expanduser()
    if folder.exists() and not folder.is_dir():
        raise KinoraError(f"{folder} is a file, not a folder; choose a folder for the model")
    if folder.exists() and not force and any(folder.iterdir()):
        raise KinoraError(f"{folder} exists; choose a new folder or pass --force to replace it")
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        torch.manual_seed(0)
        build().save_pretrained(tmp, safe_serialization=True)
        (tmp / SETTINGS_FILE).write_text(json.dumps({"backend": backend, "tiny": True, **settings}, indent=1) + "\n")
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o777 & ~umask)  # mkdtemp's 0700 would make the model private to this user
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return folder
