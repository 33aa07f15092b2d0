"""`kinora generate`: text (+ image / video) to a labeled MP4 (kinora.pipelines.generate)."""

from __future__ import annotations

import sys

from kinora.cli.args import add_backend, edit_region, seed, size, threads
from kinora.label.config import TRUTH_MODES


def register(sub) -> None:
    from kinora.diffusion.sampling import SAMPLERS

    p = sub.add_parser("generate", help="generate a video from a prompt (English or Chinese)")
    p.add_argument("prompt", nargs="?", default="",
                   help="what to show, e.g. \"a red ball bounces on the floor\" (may be omitted with --spec)")
    p.add_argument("-o", "--out", default=None,
                   help="output MP4 (default: out/generated.mp4, or the next free name beside it)")
    p.add_argument("--force", action="store_true", help="replace the output if it exists")
    p.add_argument("--seconds", type=float, default=None,
                   help="length in seconds (default: what the prompt says, e.g. 'for 3 seconds', else 2; "
                        "with --video: new seconds)")
    p.add_argument("--fps", type=int, default=None, help="frames per second (default: the model's, 8)")
    p.add_argument("--size", type=size, default=None, help="WIDTHxHEIGHT or one number (default: the model's, 64)")
    p.add_argument("--steps", type=int, default=None, help="sampling steps (default: the model's)")
    p.add_argument("--guidance", type=float, default=None, help="classifier-free guidance scale")
    p.add_argument("--seed", type=seed, default=0)
    p.add_argument("--threads", type=threads, default=None,
                   help="torch threads (default: torch's choice; recorded, since the last bit depends on it)")
    p.add_argument("--negative", default=None, help="negative prompt")
    p.add_argument("--sampler", default=None, choices=sorted(SAMPLERS))
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
    p.add_argument("--model", default=None, help="DiT checkpoint or weights folder (default: the shipped model)")
    add_backend(p, "--model", "model")
    p.add_argument("--truth-mode", default="story", choices=TRUTH_MODES)
    p.add_argument("--precision", default="auto", choices=("auto", "fp32", "bf16"),
                   help="the DiT's number format (default auto: bf16 on a CPU with bf16 units, AMX or AVX-512 "
                        "BF16, else fp32; fp32 for the exact fp32 path)")
    p.add_argument("--compile", action="store_true",
                   help="compile the DiT's blocks with torch.compile (needs a C++ compiler): 3-10 s of compiling "
                        "per process and clip shape, then about 1.2x faster sampling; it pays when one process makes "
                        "many clips (a batch line's \"compile\": true), not for one clip, even a 60 s one")
    p.add_argument("--strict", action="store_true",
                   help="refuse a prompt that asks for what the micro-world lacks (an orange ball, a dog) instead of "
                        "using the nearest thing it has with a warning")
    p.add_argument("--physics", action="store_true",
                   help="simulator in the loop: the physics engine runs the shot and guides the model (where every "
                        "object is, how it falls, bounces and collides)")
    p.add_argument("--resume", action="store_true",
                   help="continue a long clip that was killed half-way (the same command, plus --resume): the "
                        "result is the same, bit for bit, as an uninterrupted run")
    p.add_argument("--spec", default=None, metavar="FILE",
                   help="a ShotSpec JSON file ('kinora world schema', 'kinora world random') to make instead of "
                        "reading the prompt")
    p.set_defaults(func=run)


def run(args) -> int:
    from kinora.cli.progress import StepBar
    from kinora.pipelines.generate import GenerateRequest, generate

    req = GenerateRequest(
        prompt=args.prompt, out=args.out, seconds=args.seconds, fps=args.fps, size=args.size, steps=args.steps,
        guidance=args.guidance, seed=args.seed, negative=args.negative, sampler=args.sampler, image=args.image,
        last_image=args.last_image, loop=args.loop, video=args.video, backward=args.backward,
        edit=edit_region(args.edit_region, args.edit_time), model=args.model, backend=args.backend,
        truth_mode=args.truth_mode, strict=args.strict, precision=args.precision, compile=args.compile,
        physics=args.physics,
        spec=args.spec, resume=args.resume, threads=args.threads, force=args.force)
    with StepBar("sampling") as bar:
        result = generate(req, progress=bar)
    print_result(result)
    return 0


def print_result(result) -> None:
    out = result.output
    for w in out.warnings:
        print(f"warning: {w}", file=sys.stderr)
    t, h, w = out.frames[0].shape[:3]
    print(f"wrote {result.path} ({t} frames, {w}x{h} model frames, {result.fps} fps, task {out.task}; "
          f"conditioned on: {out.canonical!r})")
