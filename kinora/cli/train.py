"""`kinora train` (the diffusion transformer) and `kinora train-vae` (the video VAE).

All the options of both are here, and nothing else: the choices come from the one
registry (kinora.models.presets: sorted(PRESETS), sorted(VAE_PRESETS)), the defaults of the
training numbers too (left unset here, so the chosen preset's own apply), and the work is
in kinora.train.dit.run (a TrainSettings) and kinora.train.vae.train (a TrainConfig),
which check their inputs and raise a one-line KinoraError for a wrong one.
`python -m kinora.train` and `torchrun -m kinora.train` are `kinora train`.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

from kinora.errors import KinoraError
from kinora.models.precision import DEFAULT_TRAIN_PRECISION, TRAIN_PRECISIONS
from kinora.models.presets import DEFAULT_VAE_PRESET, PRESETS, VAE_PRESETS, get_vae_train_defaults


def register(sub) -> None:
    p = sub.add_parser("train", help="train the video diffusion transformer on micro-world clips or real videos",
                       description="Train the Kinora DiT with rectified flow on cached VAE latents "
                                   "(kinora/train/dit.py).")
    add_dit_arguments(p)
    p.set_defaults(func=run_dit)

    p = sub.add_parser("train-vae", help="train the causal video VAE on micro-world clips (or evaluate one)",
                       description="Train the causal video VAE on micro-world clips (kinora/train/vae.py).")
    add_vae_arguments(p)
    p.set_defaults(func=run_vae)

    p = sub.add_parser("distill", help="distil the guided sampler into fewer unguided steps (a faster student DiT)",
                       description="Trajectory distillation with guidance folded in, on the teacher's own "
                                   "rollouts (kinora/train/distill.py).")
    add_distill_arguments(p)
    p.set_defaults(func=run_distill)


# ---------------------------------------------------------------------------------
# kinora train
# ---------------------------------------------------------------------------------


def add_dit_arguments(p: argparse.ArgumentParser) -> None:
    from kinora.train.dit import OVERRIDABLE, TrainSettings

    p.add_argument("--preset", required=True, choices=sorted(PRESETS), help="model size (kinora/models/presets.py)")
    p.add_argument("--out", required=True, help="run folder: checkpoints, log, plot")
    src = p.add_argument_group("data (exactly one)")
    src.add_argument("--data", help="folder written by 'kinora world sample'")
    src.add_argument("--data-csv", help="CSV of real videos with a header 'path,text'")
    src.add_argument("--generate", type=int, default=0, metavar="N",
                     help="simulate N micro-world clips into OUT/world first")
    src.add_argument("--synthetic", action="store_true", help="random latents and text (tests, smoke runs)")
    p.add_argument("--vae", help="VAE weights (default: the shipped kinora/weights/vae-<preset's VAE>.safetensors)")
    p.add_argument("--cache", help="latent/text cache folder (default: OUT/cache/<VAE hash>)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out")
    p.add_argument("--init", help="warm start from a folder of exported weights (dit-PRESET.safetensors and -ema)")
    p.add_argument("--allow-new-vae", action="store_true",
                   help="with --init: the weights were trained on another VAE's latents; fine-tune them to this one")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, help="torch CPU threads")
    p.add_argument("--device", help="cpu or cuda (default: cuda when available)")
    p.add_argument("--fsdp", action="store_true",
                   help="shard weights, EMA and optimizer over the torchrun ranks (FSDP2; gloo on cpu, nccl on "
                        "cuda); checkpoints stay full, so any rank count resumes them")
    p.add_argument("--ship-fp16", action="store_true", help="store the EMA weights as float16")
    p.add_argument("--compile", action="store_true",
                   help="torch.compile each transformer block: about 1.45x faster steps on top of bf16 on 2 CPU "
                        "cores, after 20-35 s of compiling per clip shape; needs a C++ compiler (g++) on CPU, "
                        "and trains uncompiled with a warning without one; not with --fsdp")
    p.add_argument("--precision", default=DEFAULT_TRAIN_PRECISION, choices=TRAIN_PRECISIONS,
                   help="the transformer blocks' number format in training (default auto: bf16 where the CPU or "
                        "GPU has bf16 units, else fp32; bf16 is autocast over fp32 weights, 1.4-1.8x the samples/s "
                        "of fp32 on a CPU with AMX; asking for bf16 where it is not supported warns and trains fp32)")
    p.add_argument("--quiet", action="store_true")
    p.add_argument("--decay-steps", type=int, default=0, metavar="N",
                   help="cool the learning rate down linearly over the last N steps (default: none)")
    p.add_argument("--decay-to", type=float, default=0.1, metavar="R",
                   help="the cool-down ends at lr * R (default: 0.1)")
    o = p.add_argument_group("overrides of the preset's training defaults")
    types = {f.name: f.type for f in dataclasses.fields(TrainSettings)}
    for k in OVERRIDABLE:
        o.add_argument(f"--{k.replace('_', '-')}", type=float if types[k] in (float, "float") else int,
                       metavar="X", help="(default: the preset's)")


def dit_settings(args: argparse.Namespace):
    """The TrainSettings the parsed `kinora train` options stand for."""
    from kinora.train.dit import OVERRIDABLE, TrainSettings

    overrides = {k: getattr(args, k) for k in OVERRIDABLE}
    return TrainSettings.from_preset(
        args.preset, args.out, data=args.data, data_csv=args.data_csv, generate=args.generate,
        synthetic=args.synthetic, vae=args.vae, cache=args.cache, resume=args.resume, init=args.init,
        allow_new_vae=args.allow_new_vae, seed=args.seed, threads=args.threads, device=args.device,
        fsdp=args.fsdp, compile=args.compile, ship_fp16=args.ship_fp16, quiet=args.quiet,
        decay_steps=args.decay_steps, decay_to=args.decay_to, precision=args.precision, **overrides)


def run_dit(args: argparse.Namespace) -> int:
    from kinora.train.dit import run

    run(dit_settings(args))
    return 0


# ---------------------------------------------------------------------------------
# kinora train-vae
# ---------------------------------------------------------------------------------


def add_vae_arguments(p: argparse.ArgumentParser) -> None:
    d = get_vae_train_defaults(DEFAULT_VAE_PRESET)  # for the help texts; a run uses its own preset's
    p.add_argument("--preset", choices=sorted(VAE_PRESETS), default=DEFAULT_VAE_PRESET,
                   help=f"VAE size (kinora/models/presets.py; default {DEFAULT_VAE_PRESET})")
    p.add_argument("--out", help="checkpoint directory (required unless --eval)")
    p.add_argument("--steps", type=int, help=f"(default: the preset's, {d.steps} for {DEFAULT_VAE_PRESET})")
    p.add_argument("--data", help="shard directory from 'kinora world sample'; default: simulate on the fly")
    p.add_argument("--resume", action="store_true", help="continue from OUT/train_state.pt")
    p.add_argument("--lr", type=float, help=f"(default: the preset's, {d.lr:g} for {DEFAULT_VAE_PRESET})")
    p.add_argument("--pool", type=int,
                   help=f"total simulated pool size (scales every bucket; default {sum(b.pool for b in d.buckets)})")
    p.add_argument("--eval-clips", type=int, help=f"held-out clips per evaluation (default {d.eval_clips})")
    p.add_argument("--eval-every", type=int, help=f"steps between evaluations (default {d.eval_every})")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--eval", metavar="CHECKPOINT", help="only measure held-out PSNR of this checkpoint")
    p.add_argument("--export", action="store_true",
                   help="write OUT/vae-PRESET.safetensors from OUT/train_state.pt's EMA, evaluate it, and stop")
    p.add_argument("--eval-size", default="64x64", help="WIDTHxHEIGHT of the held-out clips for --eval (33 frames)")
    p.add_argument("--edge-weight", type=float,
                   help=f"extra loss weight of pixels on outlines (0: plain mean; default {d.edge_weight:g})")
    p.add_argument("--init", metavar="VAE", help="start from this trained VAE file")
    p.add_argument("--decoder-only", action="store_true",
                   help="with --init: train only the decoder, keeping the encoder and the latent space")


def parse_eval_size(text: str) -> tuple[int, int]:
    """'128x64' -> (width 128, height 64)."""
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise KinoraError(f"--eval-size {text!r} is not WIDTHxHEIGHT, e.g. 64x64 or 128x64") from None
    if w < 8 or h < 8 or w % 8 or h % 8:
        raise KinoraError(f"--eval-size {text!r}: width and height must be multiples of 8 (the VAE's 8x)")
    return w, h


def vae_config(args: argparse.Namespace):
    """The TrainConfig the parsed `kinora train-vae` options stand for."""
    from kinora.train.vae import TrainConfig

    return TrainConfig.from_preset(args.preset, pool=args.pool, steps=args.steps, lr=args.lr,
                                   eval_clips=args.eval_clips, eval_every=args.eval_every, threads=args.threads,
                                   seed=args.seed, edge_weight=args.edge_weight, init=args.init,
                                   decoder_only=args.decoder_only)


def run_vae(args: argparse.Namespace) -> int:
    from kinora.train import vae

    eval_clips = args.eval_clips if args.eval_clips is not None else get_vae_train_defaults(args.preset).eval_clips
    if args.eval:
        w, h = parse_eval_size(args.eval_size)
        print(json.dumps(vae.evaluate_checkpoint(args.eval, eval_clips, width=w, height=h, threads=args.threads)))
        return 0
    if not args.out:
        raise KinoraError("--out is required (the run folder), unless --eval CHECKPOINT")
    if args.export:
        print(json.dumps(vae.export_state(Path(args.out), eval_clips, threads=args.threads)))
        return 0
    vae.train(vae_config(args), Path(args.out), data=args.data, resume=args.resume)
    return 0


# ---------------------------------------------------------------------------------
# kinora distill
# ---------------------------------------------------------------------------------


def add_distill_arguments(p: argparse.ArgumentParser) -> None:
    from kinora.train.distill import DistillSettings as D

    p.add_argument("--out", required=True,
                   help="folder for the student (dit-PRESET-ema.safetensors), its state and log")
    p.add_argument("--teacher", default=None, help="DiT checkpoint or folder to distil (default: the shipped guided "
                        "teacher, kinora/weights/teacher)")
    p.add_argument("--teacher-steps", type=int, default=D.teacher_steps, help=f"default {D.teacher_steps}")
    p.add_argument("--student-steps", type=int, default=D.student_steps,
                   help=f"default {D.student_steps}; must divide --teacher-steps (equal to it: guidance "
                        "distillation alone, one pass per step instead of two)")
    p.add_argument("--guidance", type=float, default=None, help="the teacher's guidance (default: its own)")
    p.add_argument("--batch", type=int, default=D.batch, help=f"teacher rollouts per step (default {D.batch})")
    p.add_argument("--steps", type=int, default=D.steps, help=f"training steps (default {D.steps})")
    p.add_argument("--lr", type=float, default=D.lr, help=f"default {D.lr:g}")
    p.add_argument("--masked-share", type=float, default=D.masked_share,
                   help=f"share of rollouts that know part of the clip (default {D.masked_share:g})")
    p.add_argument("--masks", type=lambda v: tuple(x.strip() for x in v.split(",") if x.strip()), default=D.masks,
                   help="the masked tasks drawn from: first (extension, image-to-video, long videos), last (backward "
                        f"extension), both (bridge, loop), box (region edit) (default {','.join(D.masks)})")
    p.add_argument("--seed", type=int, default=D.seed)
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: all cores)")
    p.add_argument("--ckpt-every", type=int, default=D.ckpt_every, help=f"default {D.ckpt_every}")
    p.add_argument("--precision", choices=TRAIN_PRECISIONS, default=D.precision,
                   help="the student's blocks: bf16 autocast over fp32 weights where the CPU has bf16 units "
                        f"(auto), or fp32 (default {D.precision})")
    p.add_argument("--resume", action="store_true", help="continue the run in --out")


def run_distill(args: argparse.Namespace) -> int:
    from kinora.train.distill import DistillSettings, run

    names = ("out", "teacher", "teacher_steps", "student_steps", "guidance", "batch", "steps", "lr", "masked_share",
             "masks", "seed", "threads", "ckpt_every", "resume", "precision")
    path = run(DistillSettings(**{k: getattr(args, k) for k in names}))
    print(f"wrote {path}")
    return 0
