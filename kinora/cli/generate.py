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
    p.add_argument("--edit-region", default=None, metavar="X0,Y0,X1,Y1",
                   help="with --video: regenerate this box (fractions of width and height, e.g. 0.5,0,1,1 = "
                        "the right half) to match the prompt and keep every other pixel")
    p.add_argument("--edit-time", default=None, metavar="START:END",
                   help="with --edit-region: only these seconds of the video (default: all of it)")
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
    from kinora.pipelines.kinora import KinoraPipeline

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
    box, span = parse_edit(args.edit_region, args.edit_time, video is not None)

    pipe = KinoraPipeline.from_pretrained(args.model)
    # The model's own size unless --size says otherwise, also for an input image or video
    # (the pipeline resizes them): a Kinora MP4 is stored upscaled for its visible label,
    # and the model is at its best at the size it was trained at.
    height, width = height or pipe.default_height, width or pipe.default_width
    fps = args.fps or pipe.default_fps
    seconds = args.seconds if args.seconds is not None else 2.0
    num_frames = max(1, int(round(seconds * fps)))
    edit_mask = None
    if box is not None:
        edit_mask = edit_mask_for(video.shape[0], height, width, fps, box, span)
    progress = _progress()
    out = pipe(args.prompt, negative_prompt=args.negative, num_frames=num_frames, height=height, width=width,
               num_inference_steps=args.steps, guidance_scale=args.guidance,
               generator=torch.Generator().manual_seed(args.seed), image=image, last_image=last_image, loop=args.loop,
               video=video, extend="backward" if args.backward else "forward", edit_mask=edit_mask,
               sampler=args.sampler,
               callback_on_step_end=progress)
    progress.close()
    for w in out.warnings:
        print(f"warning: {w}", file=sys.stderr)
    task = ("inpaint" if edit_mask is not None else "extend" if video is not None else "loop" if args.loop
            else "bridge" if last_image is not None else "i2v" if image is not None else "t2v")
    prov = Provenance(model=pipe.model_name, checkpoint_sha256=pipe.checkpoint_sha256, seed=args.seed,
                      prompt=args.prompt, truth_mode=args.truth_mode, task=task)
    path = write_generated_video(out.frames[0], args.out, fps, prov)
    t, h, w = out.frames[0].shape[:3]
    print(f"wrote {path} ({t} frames, {w}x{h} model frames, {fps} fps; conditioned on: {out.canonical!r})")
    return 0


def parse_edit(region: str | None, times: str | None, have_video: bool):
    """--edit-region / --edit-time -> ((x0, y0, x1, y1) fractions, (start, end) seconds or None)."""
    if region is None:
        if times is not None:
            raise KinoraError("--edit-time needs --edit-region (which box of the frame to regenerate)")
        return None, None
    if not have_video:
        raise KinoraError("--edit-region needs --video (the video to edit)")
    try:
        box = tuple(float(v) for v in region.split(","))
    except ValueError:
        box = ()
    if len(box) != 4 or not (0 <= box[0] < box[2] <= 1 and 0 <= box[1] < box[3] <= 1):
        raise KinoraError(f"--edit-region {region!r} is not X0,Y0,X1,Y1 with 0 <= X0 < X1 <= 1 and "
                          f"0 <= Y0 < Y1 <= 1 (fractions of the frame, e.g. 0.5,0,1,1)")
    if times is None:
        return box, None
    try:
        start, end = (float(v) for v in times.split(":"))
    except ValueError:
        start = end = -1.0
    if not 0 <= start < end:
        raise KinoraError(f"--edit-time {times!r} is not START:END in seconds with 0 <= START < END (e.g. 1:3)")
    return box, (start, end)


def edit_mask_for(T: int, H: int, W: int, fps: int, box, span):
    """(T, H, W) bool: True inside the box during the span (whole pixels, at least one)."""
    import math

    import numpy as np

    x0, y0, x1, y1 = box
    c0, c1 = int(x0 * W), max(int(x0 * W) + 1, math.ceil(x1 * W))
    r0, r1 = int(y0 * H), max(int(y0 * H) + 1, math.ceil(y1 * H))
    f0, f1 = (0, T) if span is None else (int(span[0] * fps), min(T, math.ceil(span[1] * fps)))
    if f0 >= T:
        raise KinoraError(f"--edit-time starts at {span[0]:g} s, after the video's {T / fps:g} s")
    mask = np.zeros((T, H, W), bool)
    mask[f0:f1, r0:r1, c0:c1] = True
    return mask


class _progress:
    """A tqdm bar over sampling steps, fed by the pipeline's step callback."""

    def __init__(self):
        from tqdm import tqdm

        self.bar = tqdm(total=None, desc="sampling", unit="step", disable=not sys.stderr.isatty())

    def __call__(self, pipe, i, t, state):
        self.bar.update(1)

    def close(self):
        self.bar.close()
