"""One call from typed arguments to a labeled MP4: what `kinora generate`, `kinora demo`
and every later surface (the timeline, the studio) use.

    from kinora.pipelines.generate import GenerateRequest, generate
    result = generate(GenerateRequest("a red ball bounces", out="out/ball.mp4", seconds=4, seed=1))
    result.path, result.output.spec, result.output.warnings

The request names its inputs by path (first image, last image, a video to extend or
edit, an edit region); which task they make is decided once, by
`kinora.diffusion.tasks.task_of`. The steps are written out in order:

1. check the request (ranges, options that cannot go together) before anything slow;
2. claim the output (not a folder, not an existing file without `force`, one writer);
3. read the inputs;
4. load the generator (Kinora's model, or an open-weight one through its adapter) and generate;
5. write the labeled MP4 with its provenance (the only writer is `kinora.label`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from kinora.defaults import (
    MAX_FPS,
    MAX_GUIDANCE,
    MAX_SECONDS,
    MAX_SEED,
    MAX_STEPS,
    SHIPPED_DIT,
    SHOWCASE_SECONDS,
)
from kinora.diffusion.tasks import EditRegion, Task, task_of
from kinora.errors import KinoraError
from kinora.pipelines.output import GenerationOutput

DEFAULT_OUT = Path("out/generated.mp4")
DEMO_PROMPT = "a red ball bounces on the floor while a blue cube slides to the right"
DEMO_OUT = Path("out/demo.mp4")
DEMO_SECONDS = SHOWCASE_SECONDS


@dataclass
class GenerateRequest:
    """Everything one generated shot depends on; None means the model's or Kinora's default."""

    prompt: str
    out: str | Path | None = None  # None: out/generated.mp4, or the next free name beside it
    seconds: float | None = None  # new seconds (extension) or the clip's length; an edit keeps the video's
    fps: int | None = None
    size: tuple[int, int] | None = None  # (width, height)
    steps: int | None = None
    guidance: float | None = None
    seed: int = 0
    negative: str | None = None
    sampler: str | None = None
    image: str | Path | None = None  # first frame: image-to-video
    last_image: str | Path | None = None  # with image: bridge the two
    loop: bool = False
    video: str | Path | None = None  # a video to extend, or to edit with `edit`
    backward: bool = False  # extend before the video instead of after it
    edit: EditRegion | None = None  # regenerate this box over this span of `video`
    model: str | Path | None = None  # the weights: a DiT checkpoint or folder (default: the shipped one) or,
    # with another backend, its diffusers model folder
    backend: str = "kinora"  # kinora (our model) or an open-weight one: wan, cogvideox, ltx (kinora.pipelines.adapters)
    truth_mode: str = "story"
    precision: str = "auto"  # the DiT's number format: auto (bf16 where the CPU has bf16 units), fp32, bf16
    compile: bool = False  # torch.compile the DiT's blocks: seconds of compiling, then faster sampling
    strict: bool = False  # refuse a prompt that asks for what the micro-world lacks, instead of the nearest thing
    physics: bool = False  # simulator in the loop: the physics engine runs the shot and guides the model
    spec: str | Path | None = None  # a ShotSpec JSON file to make instead of reading the prompt (prompt may be "")
    resume: bool = False  # continue a long clip killed half-way (its windows are kept beside the output)
    threads: int | None = None  # torch threads (recorded: results depend on it at the last bit)
    force: bool = False  # replace an existing output


@dataclass
class GenerateResult:
    path: Path
    output: GenerationOutput  # the frames and the plan they were made from
    fps: int


def check_request(req: GenerateRequest) -> None:
    """Refuse a request that cannot be made, in one line, before anything is loaded or written."""
    from kinora.label.config import TRUTH_MODES

    if not isinstance(req.prompt, str) or (not req.prompt.strip() and req.spec is None):
        raise KinoraError("the prompt is empty; describe the shot, e.g. \"a red ball bounces on the floor\", "
                          "or give a ShotSpec file with --spec")
    if req.spec is not None and req.strict:
        raise KinoraError("--strict is about reading the prompt; a --spec file is not read from text (drop one)")
    from kinora.models.precision import PRECISIONS

    if req.precision not in PRECISIONS:
        raise KinoraError(f"unknown precision {req.precision!r}; use one of {', '.join(PRECISIONS)}")
    from kinora.pipelines.base import check_compile

    check_compile(req.backend, req.compile)
    if req.strict:
        from kinora.plan.parse import parse

        parse(req.prompt, duration=req.seconds, strict=True)  # refuses before anything is loaded
    if req.out is not None and Path(req.out).suffix.lower() != ".mp4":
        raise KinoraError(f"output {str(req.out)!r} must end in .mp4")
    if req.seconds is not None and not (math.isfinite(req.seconds) and 0 < req.seconds <= MAX_SECONDS):
        raise KinoraError(f"--seconds {req.seconds:g} is out of range; use more than 0 and at most {MAX_SECONDS:g}")
    if req.fps is not None and not 1 <= req.fps <= MAX_FPS:
        raise KinoraError(f"--fps {req.fps} is out of range; use 1 to {MAX_FPS}")
    from kinora.pipelines.base import KINORA, backend_names

    if req.backend not in backend_names():
        raise KinoraError(f"unknown backend {req.backend!r}; use one of {', '.join(backend_names())}")
    if req.backend != KINORA:
        for flag, given in (("--physics", req.physics), ("--strict", req.strict), ("--sampler", req.sampler),
                            ("--resume", req.resume)):
            if given:
                raise KinoraError(f"{flag} works with Kinora's own model, not the {req.backend} backend; drop it "
                                  f"(or use --backend kinora)")
        if req.model is None:
            raise KinoraError(f"the {req.backend} backend needs its weights: --model-dir DIR (a diffusers model "
                              f"folder; 'kinora backends make-tiny {req.backend} DIR' writes a tiny random one)")
    elif req.size is not None and any(v < 16 or v % 16 for v in req.size):
        raise KinoraError(f"--size {req.size[0]}x{req.size[1]} is not supported; use multiples of 16, "
                          f"at least 16 (the model was trained at 64x64)")
    if req.steps is not None and not 1 <= req.steps <= MAX_STEPS:
        raise KinoraError(f"--steps {req.steps} is out of range; use 1 to {MAX_STEPS}")
    if req.guidance is not None and not 0.0 <= req.guidance <= MAX_GUIDANCE:  # also refuses NaN
        raise KinoraError(f"--guidance {req.guidance:g} is out of range; use 0 to {MAX_GUIDANCE:g}")
    if not 0 <= req.seed <= MAX_SEED:
        raise KinoraError(f"--seed {req.seed} is out of range; use a whole number from 0 to {MAX_SEED}")
    if req.threads is not None and req.threads < 1:
        raise KinoraError(f"--threads must be at least 1, got {req.threads}")
    if req.truth_mode not in TRUTH_MODES:
        raise KinoraError(f"unknown truth mode {req.truth_mode!r}; use one of {', '.join(TRUTH_MODES)}")
    if req.edit is not None and req.seconds is not None:
        raise KinoraError("--seconds does not apply to an edit: it keeps the video's length (use --edit-time "
                          "for the span to regenerate)")
    if req.sampler is not None:
        from kinora.diffusion.sampling import SAMPLERS

        if req.sampler not in SAMPLERS:
            raise KinoraError(f"unknown sampler {req.sampler!r}; use one of {', '.join(SAMPLERS)}")
    # Options that cannot go together (a first image and a video, backward without a video, ...).
    task_of(image=req.image is not None, last_image=req.last_image is not None, loop=req.loop,
            video=req.video is not None, edit_mask=req.edit is not None, backward=req.backward)


def generate(req: GenerateRequest, progress: Callable | None = None) -> GenerateResult:
    """Make the shot the request describes and write it as a labeled MP4; see the module docstring.

    `progress(pipe, step, t, state)` is called after every sampling step.
    """
    import torch

    from kinora.io.atomic import claim_output, next_free
    from kinora.io.images import read_image
    from kinora.io.video import read_video
    from kinora.label import write_generated_video

    # 1. Check the request.
    check_request(req)
    out = Path(req.out) if req.out is not None else next_free(DEFAULT_OUT)
    with claim_output(out, force=req.force):  # 2. Claim the output.
        # 3. Read every input before the (slow) model load, so bad input fails fast.
        image = read_image(req.image) if req.image is not None else None
        last_image = read_image(req.last_image) if req.last_image is not None else None
        video, video_fps, _ = read_video(req.video) if req.video is not None else (None, None, None)
        spec = None
        if req.spec is not None:
            from kinora.world.spec import ShotSpec

            spec = ShotSpec.load(req.spec)

        # 4. Load and generate, at the model's own size unless the request says otherwise
        # (a Kinora MP4 is stored upscaled for its visible label; the pipeline resizes).
        threads_before = torch.get_num_threads()
        if req.threads is not None:
            torch.set_num_threads(req.threads)  # for this call only: restored below
        # A long clip keeps its finished windows beside the output until it is written, so a
        # killed run continues with --resume; a run without --resume starts afresh.
        partial = progress_path(out)
        if not req.resume:
            partial.unlink(missing_ok=True)
        try:
            output, fps, pipe = _generate(req, image, last_image, video, video_fps, progress, spec, partial)
        finally:
            torch.set_num_threads(threads_before)

        # 5. Write it with its labels and provenance.
        path = write_generated_video(output.frames[0], out, fps, provenance_of(output, pipe, fps, req.truth_mode),
                                     replace=req.force)
        partial.unlink(missing_ok=True)
    return GenerateResult(path=path, output=output, fps=fps)


def progress_path(out: Path) -> Path:
    """Where a long clip bound for `out` keeps its finished windows: a hidden file beside it."""
    return out.parent / f".{out.name}.progress.npz"


def provenance_of(output: GenerationOutput, pipe, fps: int, truth_mode: str = "story"):
    """The label provenance of one generation: model, weights hash, seed, prompt, task, settings."""
    from kinora.label import Provenance

    # A physics generation may have run the companion checkpoint: its own hash is in the settings.
    checkpoint = output.settings.get("checkpoint_sha256", pipe.checkpoint_sha256)
    return Provenance(model=pipe.model_name, checkpoint_sha256=checkpoint, seed=output.seed,
                      prompt=output.prompt, truth_mode=truth_mode, task=Task(output.task).provenance_name,
                      settings={**output.settings, "fps": fps})


def _generate(req: GenerateRequest, image, last_image, video, video_fps, progress, spec=None, partial=None):
    """Step 4 of `generate`: load the pipeline and make the frames; (output, fps, pipe)."""
    import torch

    from kinora.pipelines.base import load_generator

    pipe = load_generator(req.backend, req.model, precision=req.precision, compile=req.compile)
    width, height = req.size or (pipe.default_width, pipe.default_height)
    # An extended or edited video keeps its own frame rate, so its seconds stay seconds
    # (and --edit-time is read in them); a new clip plays at the model's.
    fps = req.fps or (max(1, min(MAX_FPS, round(video_fps))) if video is not None else pipe.default_fps)
    if req.backend != "kinora" and req.fps is not None and req.fps != pipe.default_fps:
        raise KinoraError(f"the {req.backend} model makes motion at its own {pipe.default_fps} fps; drop --fps "
                          f"(another rate would play its motion too fast or too slow)")
    if req.physics and fps != pipe.default_fps:
        raise KinoraError(f"--physics simulates at the model's {pipe.default_fps} fps, but this clip plays at {fps} "
                          f"fps; drop --fps (or give a video at {pipe.default_fps} fps)")
    # Without --seconds a new clip is as long as the prompt says ("for 3 seconds"), else DEFAULT_SECONDS.
    seconds = req.seconds if req.seconds is not None else spec.duration if spec is not None else \
        pipe.plan_prompt(req.prompt, strict=req.strict).spec.duration
    edit_mask = None if req.edit is None else req.edit.pixel_mask(video.shape[0], height, width, fps)
    output = pipe(req.prompt, negative_prompt=req.negative,
                  num_frames=None if edit_mask is not None else max(1, int(round(seconds * fps))),
                  height=height, width=width, num_inference_steps=req.steps, guidance_scale=req.guidance,
                  generator=torch.Generator().manual_seed(req.seed), image=image, last_image=last_image,
                  loop=req.loop, video=video, extend="backward" if req.backward else "forward",
                  edit_mask=edit_mask, sampler=req.sampler, callback_on_step_end=progress, strict=req.strict,
                  physics=req.physics, spec=spec, progress_file=partial)
    if req.backend != "kinora" and fps != pipe.default_fps:
        output.warnings.append(f"the video plays at {fps} fps but the {req.backend} model makes {pipe.default_fps} fps "
                               f"motion: the new frames play {fps / pipe.default_fps:.2g}x as fast as it made them")
    return output, fps, pipe


@dataclass
class DemoResult:
    path: Path
    simulated: bool  # no shipped weights: a simulator render was written instead
    generated: GenerateResult | None = None


def demo(prompt: str = DEMO_PROMPT, out: str | Path | None = None, seconds: float = DEMO_SECONDS, seed: int = 0,
         force: bool = False, progress: Callable | None = None) -> DemoResult:
    """The README's main job: a video from the shipped model on the CPU. Without shipped
    weights (a source checkout without them) it writes a simulator render of a random
    micro-world shot instead, so the world the model learns is still shown."""
    from kinora.io.atomic import claim_output, next_free

    target = Path(out) if out is not None else next_free(DEMO_OUT)
    if SHIPPED_DIT.exists():
        result = generate(GenerateRequest(prompt=prompt, out=target, seconds=seconds, seed=seed, force=force),
                          progress=progress)
        return DemoResult(path=result.path, simulated=False, generated=result)
    from kinora.world.sim import render_to_mp4
    from kinora.world.spec import SpecDistribution, random_spec

    check_request(GenerateRequest(prompt=prompt, out=target, seconds=seconds, seed=seed))
    with claim_output(target, force=force):
        spec = random_spec(seed, SpecDistribution(duration=(seconds, seconds), width=128, height=128))
        return DemoResult(path=render_to_mp4(spec, target), simulated=True)
