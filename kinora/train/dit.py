"""Train the diffusion transformer (kinora.models.dit) with rectified flow on cached VAE latents.

    # micro-world shards, then the shipped CPU model (resumable: add --resume)
    kinora world sample --n 20000 --out data/world
    kinora train --preset small --data data/world --vae checkpoints/vae/vae-small.safetensors \\
        --out checkpoints/dit
    # no shards yet: simulate N clips first (written under OUT/world), then train on them
    kinora train --preset small --generate 2000 --out runs/dit
    # real videos: a CSV with a header "path,text" (paths relative to the CSV's folder)
    kinora train --preset small --data-csv videos.csv --out runs/real
    # data-parallel: gloo on CPU, nccl on GPUs (one process per GPU)
    torchrun --nproc_per_node 2 -m kinora.train --preset tiny --synthetic --out /tmp/dit-ddp
    # sharded data-parallel (FSDP2): each rank holds 1/N of the weights, EMA and AdamW moments
    torchrun --nproc_per_node 2 -m kinora.train --preset tiny --synthetic --out /tmp/dit-fsdp --fsdp
    # ...and resume it on any number of processes (one here, plain): train_state.pt is full tensors
    kinora train --preset tiny --synthetic --out /tmp/dit-fsdp --steps 40 --resume
    # a smoke test in seconds (random latents, random text states, no VAE needed)
    kinora train --preset tiny --synthetic --out /tmp/dit-tiny

What it follows: nanoGPT (one loop, DDP inline; settings in one record), with the data and
its caches in kinora.train.data, EMA, learning rate, per-step seeding and the log in
kinora.train.common, FSDP2 and its full-state checkpoints in kinora.train.distributed
(PyTorch's FSDP2 tutorial, torchtitan), and the command line (`kinora train`) in
kinora.cli.train, which turns its options into a TrainSettings.

How it works, top to bottom:
1. Data is prepared once (kinora.train.data) and cached under --cache (default OUT/cache/VAEHASH): every clip
   is encoded to latents by the frozen VAE (float16, one file per source shard, so each
   file is one (F, h, w) bucket), and every caption is encoded once by the frozen MiniLM
   into a memory-mapped bank. Clips with seeds >= 10,000,000 (held out) are skipped. A
   video longer than the preset's max_frames is cut to its first 1 + 4k frames, so latent
   frame 0 is always a lone first frame (what image-to-video conditions on).
2. Each step draws a bucket (weighted by its size) and a batch from it, one random caption
   per clip (English captions and the canonical one), replaced by "" with probability
   text_dropout (for classifier-free guidance), one task mask per clip (kinora.diffusion.flow.TASKS),
   logit-normal timesteps shifted for the bucket's size, and takes the flow loss on the
   unknown positions. AdamW, linear warm-up, gradient clipping, EMA weights. With
   --precision bf16 the transformer blocks run under bf16 autocast (DiT.set_train_dtype:
   mixed precision as in Micikevicius et al., without loss scaling, which bf16's range
   does not need); weights, gradients, AdamW, EMA and checkpoints stay fp32. --compile
   compiles each block with torch.compile (DiT.compile_blocks).
3. Every step's random draws come from a generator seeded by (seed, step): the whole
   batch is drawn the same way on every rank and each rank trains its slice of it, so a
   resumed run continues exactly as an uninterrupted one would, and N ranks see the
   batches one process sees. Under torchrun (DDP, or FSDP with --fsdp) each rank's loss
   is weighted by its share of the batch's learnt positions, so the averaged gradient and
   the logged loss are those of the whole batch (the same as one process, up to float
   rounding). --fsdp without torchrun trains on a one-rank process group (same code,
   nothing to shard).
4. Before anything is written, the settings (TrainSettings.validate) and the files they
   name (check_inputs) are checked; a run that fails on them leaves no --out folder behind.

Outputs in --out: dit-PRESET.safetensors (weights) and dit-PRESET-ema.safetensors (EMA
weights, what generation loads; --ship-fp16 stores them as float16), each with the preset,
DiTConfig, VAE config and hash, and training args as JSON metadata; train_state.pt (model,
EMA, optimizer, step, RNG; for --resume; full tensors in the same format with or without
--fsdp, so any rank count resumes any run); log.jsonl (loss per log interval, by task) and
loss.png.
"""

from __future__ import annotations

import copy
import dataclasses
import os
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import torch

from kinora.defaults import WEIGHTS_DIR, dit_filename, vae_filename
from kinora.diffusion.flow import TASKS, flow_loss, resolution_shift, sample_masks, sample_t
from kinora.errors import KinoraError
from kinora.io.atomic import atomic_path, make_folders, remove_empty
from kinora.models.dit import DiT, save_dit
from kinora.models.precision import DEFAULT_TRAIN_PRECISION, TRAIN_PRECISIONS, train_dtype
from kinora.models.presets import Preset, get_preset
from kinora.train.common import (
    Panel,
    append_log,
    check_device,
    check_file,
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
from kinora.train.data import (
    LatentData,
    TextBank,
    cache_csv_videos,
    cache_world_shards,
    check_buckets,
    load_bucket,
    synthetic_data,
    world_shards,
)

# ---------------------------------------------------------------------------------
# Settings: the preset's defaults with this run's overrides, in one record
# ---------------------------------------------------------------------------------

# The preset training defaults that a command-line flag may override.
OVERRIDABLE = ("batch_size", "lr", "weight_decay", "warmup_steps", "steps", "ema_decay", "grad_clip",
               "text_dropout", "signal_dropout", "shift_scale", "log_every", "ckpt_every", "width", "height", "fps",
               "max_frames")


@dataclass
class TrainSettings:
    """One DiT run: its preset's TrainDefaults (kinora.models.presets) with this run's choices
    (what the options of `kinora train` say). Checkpoints record it as `train_args`."""

    preset: str
    out: str
    data: str | None = None  # world shards folder
    data_csv: str | None = None  # real videos: CSV path,text
    generate: int = 0  # simulate this many clips into OUT/world first
    synthetic: bool = False
    vae: str | None = None
    cache: str | None = None
    resume: bool = False
    init: str | None = None  # warm start: a folder with dit-PRESET(-ema).safetensors (fresh optimizer)
    allow_new_vae: bool = False  # --init from weights trained on another VAE's latents (fine-tune to it)
    seed: int = 0
    threads: int | None = None
    device: str | None = None
    ship_fp16: bool = False
    quiet: bool = False
    fsdp: bool = False  # shard weights, EMA and optimizer over the ranks (FSDP2; kinora.train.distributed)
    decay_steps: int = 0  # linear cool-down to lr * decay_to over the last this many steps (0: none)
    decay_to: float = 0.1
    precision: str = DEFAULT_TRAIN_PRECISION  # bf16: the blocks by autocast over fp32 weights (DiT.set_train_dtype)
    compile: bool = False  # torch.compile each block (DiT.compile_blocks; needs a C++ compiler on CPU)
    # Filled from the preset, then from the flags:
    batch_size: int = 0
    lr: float = 0.0
    weight_decay: float = 0.0
    warmup_steps: int = 0
    steps: int = 0
    ema_decay: float = 0.0
    grad_clip: float = 0.0
    text_dropout: float = 0.0
    signal_dropout: float = 0.0
    shift_scale: float = 1.0
    log_every: int = 1
    ckpt_every: int = 1
    width: int = 0
    height: int = 0
    fps: int = 0
    max_frames: int = 0
    task_probs: dict | None = None

    @classmethod
    def from_preset(cls, preset: str, out: str, **overrides) -> "TrainSettings":
        p = get_preset(preset)
        base = {k: getattr(p.train, k) for k in OVERRIDABLE}
        base["task_probs"] = dict(p.train.task_probs)
        base.update({k: v for k, v in overrides.items() if v is not None})
        s = cls(preset=preset, out=str(out), **base)
        s.validate()
        return s

    def validate(self) -> None:
        """The values alone (no file is looked at: see check_inputs); one line for the first wrong one."""
        check_number("--generate", self.generate, 0)
        sources = sum([self.data is not None, self.data_csv is not None, self.generate > 0, self.synthetic])
        if sources != 1:
            raise KinoraError("give exactly one data source: --data DIR, --data-csv FILE, --generate N or --synthetic")
        for k in ("batch_size", "steps", "log_every", "ckpt_every", "width", "height", "fps", "max_frames"):
            check_number(f"--{k.replace('_', '-')}", getattr(self, k), 1)
        check_number("--lr", self.lr, 0, lo_open=True)
        for k in ("weight_decay", "warmup_steps", "grad_clip"):  # grad_clip 0: no clipping
            check_number(f"--{k.replace('_', '-')}", getattr(self, k), 0)
        check_number("--ema-decay", self.ema_decay, 0, 1)
        check_number("--shift-scale", self.shift_scale, 0, lo_open=True)
        check_number("--text-dropout", self.text_dropout, 0, 1, hi_open=True)
        check_number("--signal-dropout", self.signal_dropout, 0, 1)
        check_seed(self.seed)
        check_threads(self.threads)
        if self.fsdp and (self.device or "").startswith("mps"):
            raise KinoraError(f"--fsdp shards over gloo (cpu) or nccl (cuda) ranks; --device {self.device} has no "
                              f"such backend: use --device cpu, or drop --fsdp")
        check_device(self.device)
        check_number("--decay-steps", self.decay_steps, 0)
        if self.decay_steps > self.steps:
            raise KinoraError(f"--decay-steps must be in [0, --steps={self.steps}], got {self.decay_steps}")
        check_number("--decay-to", self.decay_to, 0, 1)
        if self.precision not in TRAIN_PRECISIONS:
            raise KinoraError(f"--precision must be one of {', '.join(TRAIN_PRECISIONS)}, got {self.precision!r}")
        if self.compile and self.fsdp:
            raise KinoraError("--compile with --fsdp is not supported yet; drop one of them")
        if (self.max_frames - 1) % 4:
            raise KinoraError(f"--max-frames must be 1 + 4k (the VAE's frame rule), got {self.max_frames}")
        unknown = set(self.task_probs or {}) - set(TASKS)
        if unknown:
            raise KinoraError(f"unknown tasks {sorted(unknown)}; known: {sorted(TASKS)}")

    def lr_at(self, step: int) -> float:
        """This run's learning rate at `step` (kinora.train.common.lr_at)."""
        return lr_at(step, self.lr, self.warmup_steps, self.steps, self.decay_steps, self.decay_to)


# ---------------------------------------------------------------------------------
# The files a run names, checked before anything is written
# ---------------------------------------------------------------------------------


def default_vae_path(preset: Preset) -> Path:
    return WEIGHTS_DIR / vae_filename(preset.vae_name)  # the shipped VAE (package data)


def vae_path_of(s: TrainSettings, preset: Preset) -> Path:
    """The VAE whose latents the run trains on (--vae, else the shipped one)."""
    path = Path(s.vae) if s.vae else default_vae_path(preset)
    if not path.exists():
        raise KinoraError(f"no VAE weights at {path}; train them first (kinora train-vae) or pass --vae")
    return path


def check_init(folder: Path, preset: Preset, vae_hash: str, allow_new_vae: bool) -> dict:
    """--init: a folder with this preset's exported weights, trained on these latents (or
    allowed to move to them); returns the weights' metadata."""
    from kinora.models.dit import read_dit_metadata

    folder = Path(folder)
    if not folder.is_dir():
        what = "is a file, not a folder" if folder.exists() else "no such folder"
        raise KinoraError(f"--init {folder}: {what} (it should hold {dit_filename(preset.name, ema=False)})")
    meta = read_dit_metadata(folder / dit_filename(preset.name, ema=False))
    if meta.get("preset") != preset.name:
        raise KinoraError(f"{folder} holds a {meta.get('preset')!r} model, not {preset.name!r}")
    if meta.get("vae_hash", vae_hash) != vae_hash and not allow_new_vae:
        raise KinoraError(f"{folder} was trained on latents of VAE {meta['vae_hash']}, not "
                          f"{vae_hash}; add --allow-new-vae to fine-tune it to the new VAE")
    return meta


def check_inputs(s: TrainSettings, preset: Preset, data_given: bool = False) -> None:
    """The folders and files `s` names: --out (a folder one can write, holding a run only
    with --resume), the data source, the VAE, --init. `data_given`: the caller passes the
    data itself (run(s, data)); its latents count as the synthetic ones."""
    from kinora.models.vae import latent_id

    out = Path(s.out)
    check_out(out, s.resume, products=("dit-*.safetensors",))
    if s.cache:
        check_out(Path(s.cache), resume=False)  # a folder, or where one can be made
    vae_hash = "none"
    if not (s.synthetic or data_given):
        if s.data is not None:
            world_shards(Path(s.data))
        if s.data_csv is not None:
            check_file("--data-csv", s.data_csv, "CSV file")
        vae_hash = latent_id(vae_path_of(s, preset))
    if s.init and not s.resume:
        check_init(Path(s.init), preset, vae_hash, s.allow_new_vae)


# ---------------------------------------------------------------------------------
# Checkpoints
# ---------------------------------------------------------------------------------

PLOT = [Panel("flow loss (log scale)", "loss", log_scale=True, color="blue")]  # loss.png


def checkpoint_meta(s: TrainSettings, preset: Preset, vae: dict, step: int, ema: bool) -> dict:
    """What a DiT checkpoint says about itself; `vae` is the VAE the latents came from
    ({"hash", "config", "path"}; hash "none" for synthetic data)."""
    return {"preset": preset.name, "vae_name": preset.vae_name,
            "vae_config": vae.get("config") or dataclasses.asdict(preset.vae), "vae_hash": vae["hash"],
            "vae_path": vae.get("path"), "train_args": dataclasses.asdict(s), "step": step, "ema": ema}


def plain_dit(cfg, sd: dict) -> DiT:
    """A plain DiT around the tensors of a full state dict (shared, not copied)."""
    with torch.device("meta"):  # no initialisation, so no draw from the global generator
        model = DiT(cfg)
    model.load_state_dict(sd, assign=True)
    return model


def save_checkpoint(out: Path, s: TrainSettings, preset: Preset, model: dict, ema: dict, opt: dict, step: int,
                    vae: dict) -> None:
    """train_state.pt for resuming (everything), then the safetensors exports; `model`, `ema`
    and `opt` are full state dicts (a plain run's own, or FSDP's gathered ones)."""
    state = {"preset": preset.name, "model": model, "ema": ema, "optimizer": opt, "step": step,
             "rng": torch.get_rng_state(), "vae_hash": vae["hash"], "settings": dataclasses.asdict(s)}
    with atomic_path(out / "train_state.pt") as tmp:
        torch.save(state, tmp)
    save_dit(out / dit_filename(preset.name, ema=False), plain_dit(preset.dit, model),
             checkpoint_meta(s, preset, vae, step, ema=False))
    save_dit(out / dit_filename(preset.name), plain_dit(preset.dit, ema),
             checkpoint_meta(s, preset, vae, step, ema=True), dtype=torch.float16 if s.ship_fp16 else None)


def read_state(path: Path, preset: Preset, vae_hash: str, model: DiT) -> dict:
    """train_state.pt of the run to resume, checked against this one (preset, VAE, model)."""
    state = torch.load(path, map_location="cpu", weights_only=False)  # RNG state must stay on CPU
    if state["preset"] != preset.name:
        raise KinoraError(f"{path} is a {state['preset']!r} run, not {preset.name!r}")
    if state.get("vae_hash", vae_hash) != vae_hash:
        raise KinoraError(f"{path} was trained on latents of VAE {state['vae_hash']}, "
                          f"not {vae_hash}; start a new run for the new VAE")
    if any(k.startswith("signal_embed.") for k in model.state_dict()) and \
            not any(k.startswith("signal_embed.") for k in state["model"]):
        raise KinoraError(f"{path} is a run from before the physics signal; it cannot resume with "
                          f"it: start a new run with --init {path.parent} (its exported weights)")
    return state


# ---------------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------------


def prepare_data(s: TrainSettings, preset: Preset, out: Path, device, rank: int, world: int):
    """Build (rank 0) or wait for (others) the latent and text caches; return (data, vae info)."""
    import torch.distributed as dist

    if s.synthetic:
        return synthetic_data(preset, s, s.seed), {"hash": "none"}
    from kinora.models.vae import latent_id, load_vae

    vae_path = vae_path_of(s, preset)
    vae_info = {"hash": latent_id(vae_path), "path": str(vae_path)}  # a decoder fine-tune shares its caches
    cache = Path(s.cache) if s.cache else out / "cache" / vae_info["hash"]
    files = None
    if rank == 0:
        vae = load_vae(vae_path)
        vae_info["config"] = dataclasses.asdict(vae.cfg)  # with its measured scaling/shift factors
        if vae.cfg.latent_channels != preset.dit.latent_channels:
            raise KinoraError(f"{vae_path} has {vae.cfg.latent_channels} latent channels; preset "
                              f"{preset.name} needs {preset.dit.latent_channels}")
        cache.mkdir(parents=True, exist_ok=True)
        multiple = 8 * max(preset.dit.patch[1:])
        if s.data_csv:
            files = cache_csv_videos(Path(s.data_csv), vae, cache, s, multiple)
        else:
            data = Path(s.data) if s.data else out / "world"
            if s.generate and not (data / "index.json").exists():
                from kinora.world.dataset import write_dataset
                from kinora.world.spec import SpecDistribution

                dur = s.max_frames / s.fps  # T = round(dur * fps) = max_frames, e.g. 33 at 8 fps
                write_dataset(data, s.generate, seed=s.seed, clips=False, progress=not s.quiet,
                              dist=SpecDistribution(duration=(dur / 2, dur), fps=s.fps, width=s.width, height=s.height))
            files = cache_world_shards(data, vae, cache, s.max_frames)
        del vae
    if world > 1:  # the others wait for rank 0's caches, then read the same files
        box = [[str(f) for f in files] if files is not None else None]
        dist.broadcast_object_list(box, src=0)
        files = [Path(f) for f in box[0]]
    buckets = check_buckets([load_bucket(f) for f in files], preset.dit.patch)
    texts = sorted({c for b in buckets for cs in b.captions for c in cs})
    if rank == 0:
        bank = TextBank.build(texts, cache / "text")
    if world > 1:
        dist.barrier()
    if rank != 0:
        bank = TextBank.load(cache / "text")
    return LatentData(buckets, bank), vae_info


def load_warm(model: DiT, source: DiT) -> None:
    """Copy `source`'s weights into `model`; a source trained before the physics signal
    existed leaves the signal's embedding at its zero start (so predictions are unchanged)."""
    a, b = dataclasses.asdict(model.cfg), dataclasses.asdict(source.cfg)
    # A source without the signal may differ in the signal fields; anything else must match.
    free = {"grad_checkpoint"} | ({"signal_channels", "signal_scale"} if not b["signal_channels"] else set())
    differ = [f"{k} {b[k]} vs {a[k]}" for k in a if a[k] != b[k] and k not in free]
    if differ:
        raise KinoraError(f"--init weights are a different model ({', '.join(differ)})")
    missing, unexpected = model.load_state_dict(source.state_dict(), strict=False)
    if unexpected or any(not k.startswith("signal_embed.") for k in missing):
        raise KinoraError(f"--init weights do not fit the {model.cfg.width}x{model.cfg.depth} model "
                          f"(missing {missing[:3]}, unexpected {unexpected[:3]})")


def run(s: TrainSettings, data: LatentData | None = None) -> DiT:
    """Train as `s` says; return the trained (unwrapped) model. Works under torchrun.

    `data` replaces the data source named in `s` (a LatentData built in code, e.g. by tests).
    """
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel as DDP

    s.validate()
    preset = get_preset(s.preset)
    check_inputs(s, preset, data_given=data is not None)  # every rank, before anything is written
    torchrun = int(os.environ.get("RANK", -1)) != -1
    ddp = torchrun and not s.fsdp
    use_cuda = (s.device or ("cuda" if torch.cuda.is_available() else "cpu")).startswith("cuda")
    backend = "nccl" if use_cuda else "gloo"
    if torchrun:
        dist.init_process_group(backend, timeout=timedelta(hours=2))
        rank, world, local_rank = dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", 0))
        device = torch.device(f"cuda:{local_rank}" if use_cuda else "cpu")
    else:
        rank, world = 0, 1
        device = torch.device(s.device or ("cuda" if use_cuda else "cpu"))
        if s.fsdp:  # no torchrun: a process group of one rank, so --fsdp runs the same code (nothing to shard)
            dist.init_process_group(backend, store=dist.HashStore(), rank=0, world_size=1)
    if use_cuda:
        torch.cuda.set_device(device)
    if s.threads:
        torch.set_num_threads(s.threads)
    if s.batch_size % world:
        raise KinoraError(f"--batch-size {s.batch_size} is not divisible by the {world} ranks")
    local_batch = s.batch_size // world
    mine = slice(rank * local_batch, (rank + 1) * local_batch)  # this rank's clips of each batch
    master = rank == 0
    say = (lambda *a: print(*a, flush=True)) if master and not s.quiet else (lambda *a: None)
    out = Path(s.out)
    state_path = out / "train_state.pt"
    made: list[Path] = []
    try:
        if master:
            made = make_folders(out)
        if data is None:
            data, vae_info = prepare_data(s, preset, out, device, rank, world)
        else:
            vae_info = {"hash": "none"}
        say(f"data: {len(data)} clips in {len(data.buckets)} buckets "
            f"{sorted({tuple(b.latents.shape[2:]) for b in data.buckets})}")

        torch.manual_seed(s.seed)  # the same initial weights on every rank
        model = DiT(preset.dit).to(device)
        ema = copy.deepcopy(model).requires_grad_(False)
        step = 0
        state = read_state(state_path, preset, vae_info["hash"], model) if s.resume and state_path.exists() else None
        if state is None and s.init:
            # Warm start from exported weights when the full train_state.pt (optimizer
            # included, several times the model's size) was not kept: the step count and
            # the EMA carry on, AdamW's moments start afresh.
            from kinora.models.dit import load_dit

            folder = Path(s.init)
            meta = check_init(folder, preset, vae_info["hash"], s.allow_new_vae)
            if meta.get("vae_hash", vae_info["hash"]) != vae_info["hash"]:
                say(f"fine-tuning from VAE {meta['vae_hash']} latents to VAE {vae_info['hash']}")
            raw, _ = load_dit(folder / dit_filename(preset.name, ema=False))
            load_warm(model, raw)
            ema_path = folder / dit_filename(preset.name)
            load_warm(ema, load_dit(ema_path)[0] if ema_path.exists() else raw)
            step = int(meta.get("step", 0))
            say(f"warm start from {folder} at step {step} (fresh optimizer)")
        if s.fsdp:  # before the optimizer is made: it must hold the sharded parameters
            from kinora.train.distributed import full_state, gather_model, load_full_state, shard

            shard([model, ema], device, world)
        opt = torch.optim.AdamW(model.parameters(), lr=s.lr, betas=(0.9, 0.99), weight_decay=s.weight_decay)
        if state is not None:
            if s.fsdp:
                load_full_state(model, ema, opt, state)
            else:
                model.load_state_dict(state["model"])
                ema.load_state_dict(state["ema"])
                opt.load_state_dict(state["optimizer"])
            step = state["step"]
            torch.set_rng_state(state["rng"])
            if master:  # drop log lines written after the last checkpoint: they are redone now
                keep_log_until(out / "log.jsonl", step)
            say(f"resumed at step {step}")
        model.set_train_dtype(train_dtype(s.precision, device))
        # checkpoints record the format that ran, not "auto" (which differs between machines)
        s = dataclasses.replace(s, precision=model.train_precision)
        compiled = s.compile and model.compile_blocks()
        say(f"model: {preset.name}, {model.num_params() / 1e6:.2f} M parameters, {world} rank(s) on {device}"
            + (" (FSDP)" if s.fsdp else "")
            + (", bf16 blocks over fp32 weights" if model.train_compute == torch.bfloat16 else "")
            + (", blocks compiled (the first step of each clip shape compiles: 20-35 s)" if compiled else ""))
        train_model = DDP(model, device_ids=[device.index] if use_cuda else None) if ddp else model

        log_path = out / "log.jsonl"
        interval: dict[str, list[float]] = {"loss": []}
        t_last = time.perf_counter()
        while step < s.steps:
            # The whole batch, drawn alike on every rank (rank 0's generator); each trains its slice.
            g = step_generator(s.seed, 0, step)
            x0, text, text_mask, _, signal = data.batch(s.batch_size, g, s.text_dropout, s.signal_dropout)
            B, _, Fr, h, w = x0.shape
            masks, tasks = sample_masks(B, Fr, h, w, s.task_probs, g)  # (B, 1, F, h, w)
            t = sample_t(B, resolution_shift(Fr, h, w, scale=s.shift_scale), g)  # (B,)
            noise = torch.randn(x0.shape, generator=g)
            cond = {"text": text[mine].to(device), "text_mask": text_mask[mine].to(device),
                    "mask": masks[mine].to(device)}
            if preset.dit.signal_channels:
                # Always a tensor (zeros: no signal), so every rank's graph uses the same
                # parameters, as DDP's gradient buckets require.
                k = preset.dit.signal_scale
                if signal is None:
                    signal = x0.new_zeros(B, preset.dit.signal_channels, Fr, k * h, k * w)
                cond["signal"] = signal[mine].to(device)
            loss, per_item = flow_loss(train_model, x0[mine].to(device), cond, t[mine].to(device),
                                       noise[mine].to(device), per_sample=True)
            if world > 1:
                # DDP and FSDP average the ranks' gradients: weigh this rank's loss by its share of
                # the batch's learnt (unknown) positions, so that the average is the gradient of
                # the whole batch's loss, as one process takes it.
                learnt = (1 - masks).flatten(1).sum(1)  # (B,)
                loss = loss * (world * learnt[mine].sum() / learnt.sum().clamp(min=1)).to(device)

            for pg in opt.param_groups:
                pg["lr"] = s.lr_at(step)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if s.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), s.grad_clip)
            opt.step()
            ema_update(ema, model, ema_decay_at(step, s.ema_decay))
            step += 1

            interval["loss"].append(loss.item() / world)  # this rank's part: the ranks' parts add up
            if world > 1:  # every clip's own loss, for the log by task
                parts = [torch.empty_like(per_item) for _ in range(world)]
                dist.all_gather(parts, per_item)
                per_item = torch.cat(parts)  # (B,) in the batch's order
            for name, l in zip(tasks, per_item.tolist()):
                interval.setdefault(name, []).append(l)
            if preset.dit.signal_channels:  # the same loss, split by whether the clip saw its physics signal
                seen = signal.flatten(1).abs().sum(1) > 0  # (B,)
                for guided, l in zip(seen.tolist(), per_item.tolist()):
                    interval.setdefault("~guided" if guided else "~free", []).append(l)
            if step % s.log_every == 0 or step == s.steps:
                mean = torch.tensor(sum(interval["loss"]) / len(interval["loss"]), device=device)
                if world > 1:
                    dist.all_reduce(mean)  # the whole batch's loss
                dt = (time.perf_counter() - t_last) / len(interval["loss"])
                rec = {"step": step, "loss": round(mean.item(), 6), "lr": s.lr_at(step - 1),
                       "sec_per_step": round(dt, 4), "clips_per_s": round(s.batch_size / dt, 2),
                       "by_task": {k: round(sum(v) / len(v), 5) for k, v in interval.items()
                                   if k != "loss" and not k.startswith("~")},
                       "by_signal": {k[1:]: round(sum(v) / len(v), 5) for k, v in interval.items()
                                     if k.startswith("~")}}
                if master:
                    append_log(log_path, rec)
                    say(f"step {step}/{s.steps} loss {rec['loss']:.4f} {dt:.2f} s/step")
                interval = {"loss": []}
                t_last = time.perf_counter()
            if step % s.ckpt_every == 0 or step == s.steps:
                # FSDP: every rank gathers its shards to rank 0, which writes the full tensors.
                states = full_state(model, ema, opt) if s.fsdp else \
                    (model.state_dict(), ema.state_dict(), opt.state_dict())
                if master:
                    save_checkpoint(out, s, preset, *states, step, vae_info)
                    plot_log(read_log(log_path), out / "loss.png", PLOT)
        if master:
            say(f"done: {out / dit_filename(preset.name)}")
        if (torchrun or s.fsdp) and dist.is_initialized():
            dist.barrier()  # every rank's last collective is done before the group is taken down
        return gather_model(model) if s.fsdp else model
    except BaseException:
        remove_empty(made)  # a run that failed on its inputs leaves no empty folder behind
        raise
    finally:
        # Drop the DDP wrapper while the group still lives: freed later, its Reducer would free
        # the group on the main thread holding the GIL while a gloo thread waits for the GIL to
        # free a finished work's tensors (a deadlock seen in the two-rank tests).
        train_model = None  # noqa: F841
        if (torchrun or s.fsdp) and dist.is_initialized():
            dist.destroy_process_group()
