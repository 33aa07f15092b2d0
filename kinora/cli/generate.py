"""`kinora generate`: text (+ image / video) to a labeled MP4."""

from __future__ import annotations

import sys

from kinora.errors import KinoraError


def register(sub) -> None:
    p = sub.add_parser("generate", help="generate a video from a prompt (English or Chinese)")
    p.add_argument("prompt", help="what to show, e.g. \"a red ball bounces on the floor\"")
    p.add_argument("-o", "--out", default="out/generated.mp4", help="output MP4 (default: out/generated.mp4)")
    p.add_argument("--seconds", type=float, default=None, help="length in seconds (default 2; with --video: new seconds)")
    p.add_argument("--fps", type=int, default=None, help="frames per second (default: the model's, 8)")
    p.add_argument("--size", default=None, help="WIDTHxHEIGHT or one number (default: the model's, 64)")
    p.add_argument("--steps", type=int, default=None, help="sampling steps (default: the model's)")
    p.add_argument("--guidance", type=float, default=None, help="classifier-free guidance scale")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--negative", default=None, help="negative prompt")
    p.add_argument("--sampler", default=None, help="euler or heun")
    p.add_argument("--image", default=None, help="first frame (PNG/JPEG): image-to-video")
    p.add_argument("--last-image", default=None, help="last frame: with --image, bridge the two")
    p.add_argument("--loop", action="store_true", help="end on the first frame, so the clip loops seamlessly")
    p.add_argument("--video", default=None, help="a video to extend")
    p.add_argument("--backward", action="store_true", help="with --video: add the new frames before it")
    p.add_argument("--model", default=None, help="DiT checkpoint (default: the shipped model)")
    p.add_argument("--truth-mode", default="story", choices=["news", "knowledge", "story"])
    p.set_defaults(func=run)


def load_image(path: str):
    import numpy as np
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"))
    except FileNotFoundError:
        raise KinoraError(f"image not found: {path}") from None
    except (UnidentifiedImageError, OSError) as e:
        raise KinoraError(f"cannot read image {path}: {e}".splitlines()[0]) from None


def run(args) -> int:
    import torch

    from kinora.cli.world import parse_size
    from kinora.io.video import read_video
    from kinora.label import Provenance, write_generated_video
    from kinora.pipeline import KinoraPipeline

    if not args.out.lower().endswith(".mp4"):
        raise KinoraError(f"output {args.out!r} must end in .mp4")
    if args.seconds is not None and not 0 < args.seconds <= 600:
        raise KinoraError(f"--seconds {args.seconds:g} is out of range; use more than 0 and at most 600")
    if args.fps is not None and not 1 <= args.fps <= 60:
        raise KinoraError(f"--fps {args.fps} is out of range; use 1 to 60")
    width = height = None
    if args.size:
        try:
            width, height = parse_size(args.size)
        except Exception:
            raise KinoraError(f"--size {args.size!r} is not WIDTHxHEIGHT or one number (e.g. 64)") from None
    # Read every input before the (slow) model load, so bad input fails fast.
    image = load_image(args.image) if args.image else None
    last_image = load_image(args.last_image) if args.last_image else None
    video = read_video(args.video)[0] if args.video else None
    if last_image is not None and image is None:
        raise KinoraError("--last-image needs --image (bridging joins a first and a last frame)")

    pipe = KinoraPipeline.from_pretrained(args.model)
    fps = args.fps or pipe.default_fps
    seconds = args.seconds if args.seconds is not None else 2.0
    num_frames = max(1, int(round(seconds * fps)))
    progress = _progress()
    out = pipe(args.prompt, negative_prompt=args.negative, num_frames=num_frames, height=height, width=width,
               num_inference_steps=args.steps, guidance_scale=args.guidance,
               generator=torch.Generator().manual_seed(args.seed), image=image, last_image=last_image, loop=args.loop,
               video=video, extend="backward" if args.backward else "forward", sampler=args.sampler,
               callback_on_step_end=progress)
    progress.close()
    for w in out.warnings:
        print(f"warning: {w}", file=sys.stderr)
    task = ("extend" if video is not None else "loop" if args.loop else "bridge" if last_image is not None
            else "i2v" if image is not None else "t2v")
    prov = Provenance(model=pipe.model_name, checkpoint_sha256=pipe.checkpoint_sha256, seed=args.seed,
                      prompt=args.prompt, truth_mode=args.truth_mode, task=task)
    path = write_generated_video(out.frames[0], args.out, fps, prov)
    t, h, w = out.frames[0].shape[:3]
    print(f"wrote {path} ({t} frames, {w}x{h} model frames, {fps} fps; conditioned on: {out.canonical!r})")
    return 0


class _progress:
    """A tqdm bar over sampling steps, fed by the pipeline's step callback."""

    def __init__(self):
        from tqdm import tqdm

        self.bar = tqdm(total=None, desc="sampling", unit="step", disable=not sys.stderr.isatty())

    def __call__(self, pipe, i, t, state):
        self.bar.update(1)

    def close(self):
        self.bar.close()
