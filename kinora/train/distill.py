"""Distil the guided sampler into fewer, unguided steps: a student DiT that does in one
pass what the teacher does in several guided ones.

    kinora distill --out checkpoints/distill --student-steps 5 --steps 2000   # from the shipped teacher
    kinora distill --out checkpoints/distill --steps 3000 --resume          # go on
    kinora generate "a red ball rolls left" --model checkpoints/distill     # 5 steps, one pass each

What it follows: trajectory (progressive) distillation (Salimans & Ho, 2022) on the
teacher's own rollouts, with the guidance folded in (Meng et al., 2023): the teacher runs
its sampler (Euler, `teacher_steps` steps, classifier-free guidance at its scale) from
noise; for every student step j the student, started from the teacher's state at the
grid point j*r (r = teacher_steps / student_steps), must predict in ONE unguided pass the
velocity that carries it to the teacher's state at (j+1)*r. No data is needed: captions
are the canonical captions of random micro-world specs (what the pipeline feeds the DiT),
and a share of the rollouts are masked tasks (a second rollout that knows part of the first
one's latents: its first frames as in extensions, image-to-video and long videos, its last
frames as in backward extensions, both ends as in bridges and loops, or all but a box over a
time span as in region edits), so the student keeps every task the pipeline offers.

The schedule is the teacher's subsampled: linspace(1, 0, teacher_steps + 1)[::r] shifted
is exactly get_sigmas(student_steps, shift), so the student samples with the ordinary
pipeline; its checkpoint records {"sample": {"steps", "guidance": 1.0}} and the pipeline
uses that instead of the preset's 10 steps at guidance 3. The teacher's rollouts run with
bf16 blocks where the CPU has the units (kinora.models.precision); the student trains as
`kinora train` does (--precision: bf16 blocks over fp32 weights where the units exist) with
an fp32 EMA, which is what is saved.

With --student-steps equal to --teacher-steps (r = 1) this is guidance distillation alone:
the student keeps the teacher's grid and learns the guided velocity, so each step costs one
pass instead of the conditional and unconditional pair.

Outputs in --out: dit-PRESET-ema.safetensors (the student, EMA, float16), train_state.pt
(for --resume), log.jsonl and loss.png.
"""

from __future__ import annotations

import copy
import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from kinora.defaults import SHIPPED_TEACHER, dit_filename
from kinora.diffusion.flow import resolution_shift
from kinora.diffusion.sampling import CFG, get_sigmas, sample_euler
from kinora.errors import KinoraError
from kinora.io.atomic import atomic_path, make_folders
from kinora.models.dit import save_dit
from kinora.models.precision import DEFAULT_TRAIN_PRECISION, TRAIN_PRECISIONS, compute_dtype, train_dtype
from kinora.train.common import (
    Panel,
    append_log,
    check_number,
    check_out,
    check_seed,
    check_threads,
    ema_decay_at,
    ema_update,
    keep_log_until,
    lr_at,
    plot_log,
    read_log,
    step_generator,
)

# The masked tasks a student is distilled on, as latent masks (1 = known): the first frames
# (extension, image-to-video, the windows of a long video), the last frames (backward
# extension), both ends (bridge, loop), everything but a box over a time span (region edit).
MASK_KINDS = ("first", "last", "both", "box")


def known_mask(kind: str, B: int, F: int, h: int, w: int, gen: torch.Generator) -> torch.Tensor:
    """(B, 1, F, h, w) float: the latent cells a masked task of `kind` knows; always some
    known and some to sample."""
    def draw(lo: int, hi: int) -> int:  # lo <= n < hi
        return int(torch.randint(lo, max(lo + 1, hi), (1,), generator=gen))

    mask = torch.zeros(B, 1, F, h, w)
    if kind == "both" and F < 3:  # two latent frames have no middle to sample
        kind = "first"
    if kind == "first":
        mask[:, :, :draw(1, F - 1)] = 1.0
    elif kind == "last":
        mask[:, :, F - draw(1, F - 1):] = 1.0
    elif kind == "both":
        a = draw(1, F - 1)
        mask[:, :, :a] = 1.0
        mask[:, :, F - draw(1, F - a):] = 1.0
    elif kind == "box":
        f0 = draw(0, F - 1)
        f1 = draw(f0 + 1, F + 1)
        r0, c0 = draw(0, h - 1), draw(0, w - 1)
        r1, c1 = draw(r0 + 1, h + 1), draw(c0 + 1, w + 1)
        if (r0, r1, c0, c1) == (0, h, 0, w):  # the whole frame: keep a column known
            c1 = w - 1
        mask[:] = 1.0
        mask[:, :, f0:f1, r0:r1, c0:c1] = 0.0
    else:
        raise KinoraError(f"unknown mask kind {kind!r}; use one of {', '.join(MASK_KINDS)}")
    return mask


@dataclass
class DistillSettings:
    out: str
    teacher: str | None = None  # a DiT checkpoint or folder (default: the shipped teacher, SHIPPED_TEACHER)
    teacher_steps: int = 10
    student_steps: int = 5  # must divide teacher_steps; equal to it: guidance distillation only
    guidance: float | None = None  # the teacher's guidance (default: its preset's)
    batch: int = 4  # teacher rollouts per step; the student sees batch * student_steps pairs
    steps: int = 2000
    lr: float = 5e-5
    warmup_steps: int = 50
    ema_decay: float = 0.999
    grad_clip: float = 1.0
    masked_share: float = 0.25  # rollouts that know part of the clip (a masked task: `masks`)
    masks: tuple[str, ...] = MASK_KINDS  # which masked tasks are drawn from, uniformly
    frames: tuple[int, ...] = (17, 33)  # clip lengths drawn from (pixels; 1 + 4k)
    seed: int = 0
    threads: int | None = None
    log_every: int = 10
    ckpt_every: int = 100
    resume: bool = False
    precision: str = DEFAULT_TRAIN_PRECISION  # the student's blocks: bf16 autocast where it pays (as kinora train)

    def validate(self) -> None:
        for name, lo in (("teacher_steps", 1), ("student_steps", 1), ("batch", 1), ("steps", 1),
                         ("log_every", 1), ("ckpt_every", 1), ("warmup_steps", 0)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < lo:
                raise KinoraError(f"--{name.replace('_', '-')} must be a whole number of at least {lo}, got {v!r}")
        if self.teacher_steps % self.student_steps:
            raise KinoraError(f"--student-steps {self.student_steps} must divide --teacher-steps "
                              f"{self.teacher_steps} (the student's grid is the teacher's, subsampled)")
        if self.precision not in TRAIN_PRECISIONS:
            raise KinoraError(f"--precision must be one of {', '.join(TRAIN_PRECISIONS)}, got {self.precision!r}")
        check_number("--lr", self.lr, 0.0, 1.0)
        check_number("--masked-share", self.masked_share, 0.0, 1.0)
        bad = [m for m in self.masks if m not in MASK_KINDS]
        if bad or not self.masks:
            raise KinoraError(f"--masks takes some of {','.join(MASK_KINDS)}, got {','.join(self.masks) or 'none'}")
        check_number("--ema-decay", self.ema_decay, 0.0, 1.0)
        if self.guidance is not None:
            check_number("--guidance", self.guidance, 0.0, 30.0)
        if any(f < 5 or (f - 1) % 4 for f in self.frames):
            raise KinoraError(f"frames must be 1 + 4k and at least 5, got {self.frames}")
        check_seed(self.seed)
        check_threads(self.threads)


def _captions(gen: torch.Generator, n: int, seed: int, step: int) -> list[str]:
    from kinora.world.captions import canonical_caption
    from kinora.world.spec import random_spec

    base = int(torch.randint(0, 2**31 - 1, (1,), generator=gen))
    return [canonical_caption(random_spec((seed * 1_000_003 + step * 97 + base + i) % 9_999_999)) for i in range(n)]


def rollout(teacher: CFG, cond: dict, uncond: dict, x: torch.Tensor, sigmas: torch.Tensor) -> list[torch.Tensor]:
    """The teacher's guided Euler states at every grid point: [x at sigmas[0], ..., x at 0]."""
    states: list[torch.Tensor] = []
    final = sample_euler(teacher, x, sigmas, extra_args={"cond": cond, "uncond": uncond},
                         callback=lambda info: states.append(info["x"].clone()))
    return states + [final]


def pairs(states: list[torch.Tensor], sigmas: torch.Tensor, r: int):
    """Student inputs and targets: (x at j*r, t at j*r, the velocity to x at (j+1)*r) for each j."""
    xs, ts, vs = [], [], []
    for j in range(0, len(sigmas) - 1, r):
        t0, t1 = float(sigmas[j]), float(sigmas[j + r])
        xs.append(states[j])
        ts.append(torch.full((states[j].shape[0],), t0))
        vs.append((states[j + r] - states[j]) / (t1 - t0))
    return torch.cat(xs), torch.cat(ts), torch.cat(vs)  # (S*B, C, F, h, w), (S*B,), (S*B, C, F, h, w)


def _repeat(cond: dict, n: int) -> dict:
    return {k: v.repeat(n, *([1] * (v.ndim - 1))) for k, v in cond.items()}


def run(s: DistillSettings) -> Path:
    """Distil; returns the path of the student's EMA checkpoint."""
    from kinora.pipelines.kinora import KinoraPipeline

    s.validate()
    out = Path(s.out)
    check_out(out, s.resume, products=("dit-*.safetensors",))
    if s.threads:
        torch.set_num_threads(s.threads)
    default = SHIPPED_TEACHER if SHIPPED_TEACHER.exists() else None  # else the shipped model itself
    pipe = KinoraPipeline.from_pretrained(s.teacher or default, precision="fp32")
    scale = pipe.sample.guidance if s.guidance is None else s.guidance
    if pipe.meta.get("distilled"):
        raise KinoraError("the teacher is itself a distilled student; distil from the model it came from")
    student = copy.deepcopy(pipe.dit).train()
    student.set_train_dtype(train_dtype(s.precision))
    # the checkpoint records the format that ran, not "auto"
    s = dataclasses.replace(s, precision=student.train_precision)
    teacher_net = copy.deepcopy(pipe.dit).eval().set_compute_dtype(compute_dtype("auto"))
    teacher = CFG(teacher_net, scale)
    ema = copy.deepcopy(student).eval()
    for p in list(ema.parameters()) + list(teacher_net.parameters()):
        p.requires_grad_(False)
    opt = torch.optim.AdamW(student.parameters(), lr=s.lr, weight_decay=0.0)
    step = 0
    if s.resume:
        state = torch.load(out / "train_state.pt", map_location="cpu", weights_only=False)
        # A resumed run must be the same run: same teacher, same grid, same draws (only --steps may grow).
        was = state.get("settings", {})
        same = ("teacher_steps", "student_steps", "batch", "frames", "seed", "masked_share", "masks", "guidance", "lr")
        norm = lambda v: tuple(v) if isinstance(v, (list, tuple)) else v  # noqa: E731
        changed = [k for k in same if k in was and norm(was[k]) != norm(getattr(s, k))]
        if state.get("teacher_sha256", pipe.checkpoint_sha256) != pipe.checkpoint_sha256:
            raise KinoraError(f"--resume: {out} was distilled from another teacher; pass the same --teacher")
        if changed:
            raise KinoraError(f"--resume: --{changed[0].replace('_', '-')} differs from the run in {out} "
                              f"({was[changed[0]]!r}); resume with the same settings, or start a new --out")
        student.load_state_dict(state["student"])
        ema.load_state_dict(state["ema"])
        opt.load_state_dict(state["optimizer"])
        step = state["step"]
        keep_log_until(out / "log.jsonl", step)
    else:
        make_folders(out)
    r = s.teacher_steps // s.student_steps
    C = pipe.dit.cfg.latent_channels
    h, w = pipe.default_height // 8, pipe.default_width // 8
    uncond1 = pipe.encode_text([""])
    teacher_meta = {k: v for k, v in pipe.meta.items() if k not in ("dit_config", "format")}
    meta = {**teacher_meta,
            "distilled": {"teacher_sha256": pipe.checkpoint_sha256, "teacher_steps": s.teacher_steps,
                          "guidance": scale, "settings": dataclasses.asdict(s)},
            "sample": {"sampler": "euler", "steps": s.student_steps, "guidance": 1.0},
            "vae_path": str(pipe.vae_path)}  # the teacher's VAE: the student decodes with it
    t_start, losses = time.perf_counter(), []
    while step < s.steps:
        gen = step_generator(s.seed, 0, step)
        frames = s.frames[int(torch.randint(0, len(s.frames), (1,), generator=gen))]
        F = 1 + (frames - 1) // 4
        cond = pipe.encode_text(_captions(gen, s.batch, s.seed, step))
        uncond = _repeat(uncond1, s.batch)
        sigmas = get_sigmas(s.teacher_steps, shift=resolution_shift(F, h, w, scale=pipe.shift_scale))
        noise = torch.randn(s.batch, C, F, h, w, generator=gen)  # (B, C, F, h, w)
        with torch.no_grad():
            states = rollout(teacher, cond, uncond, noise, sigmas)
            if float(torch.rand(1, generator=gen)) < s.masked_share:
                # A masked task: part of that clip known, the rest sampled again. With one kind no
                # draw is made, so `--masks first` repeats the draws of runs made before --masks.
                kind = s.masks[int(torch.randint(0, len(s.masks), (1,), generator=gen))] if len(s.masks) > 1 \
                    else s.masks[0]
                mask = known_mask(kind, s.batch, F, h, w, gen)
                known = states[-1] * mask
                cond = {**cond, "mask": mask, "known": known}
                uncond = {**uncond, "mask": mask, "known": known}
                noise = torch.randn(s.batch, C, F, h, w, generator=gen)
                states = rollout(teacher, cond, uncond, noise, sigmas)
        x, t, v = pairs(states, sigmas, r)
        n = x.shape[0] // s.batch
        scond = _repeat(cond, n)
        unknown = 1.0 - scond["mask"] if "mask" in scond else torch.ones_like(x[:, :1])
        lr = lr_at(step, s.lr, s.warmup_steps, s.steps)
        for g in opt.param_groups:
            g["lr"] = lr
        pred = student(x, t, scond)
        loss = (((pred - v) ** 2) * unknown).sum() / (unknown.sum() * C).clamp(min=1.0)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(student.parameters(), s.grad_clip)
        opt.step()
        step += 1
        ema_update(ema, student, ema_decay_at(step, s.ema_decay))
        losses.append(loss.item())
        if step % s.log_every == 0 or step == s.steps:
            rec = {"step": step, "loss": sum(losses) / len(losses), "lr": lr,
                   "s_per_step": (time.perf_counter() - t_start) / max(1, len(losses))}
            append_log(out / "log.jsonl", rec)
            print(f"distill step {step}/{s.steps} loss {rec['loss']:.4f} ({rec['s_per_step']:.2f} s/step)",
                  flush=True)
            losses, t_start = [], time.perf_counter()
        if step % s.ckpt_every == 0 or step == s.steps:
            _save(out, student, ema, opt, step, pipe, meta)
    return out / dit_filename(pipe.preset.name)


def _save(out: Path, student, ema, opt, step: int, pipe, meta: dict) -> None:
    with atomic_path(out / "train_state.pt") as tmp:
        torch.save({"student": student.state_dict(), "ema": ema.state_dict(), "optimizer": opt.state_dict(),
                    "step": step, "settings": meta["distilled"]["settings"],
                    "teacher_sha256": meta["distilled"]["teacher_sha256"]}, tmp)
    save_dit(out / dit_filename(pipe.preset.name), ema, {**meta, "step": step, "ema": True}, dtype=torch.float16)
    plot_log(read_log(out / "log.jsonl"), out / "loss.png", [Panel("distillation loss", "loss", log_scale=True)])
