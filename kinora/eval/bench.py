"""`kinora bench`: speed and memory of generation, the DiT, training and the data engine,
measured side by side in one run on the machine it runs on.

    kinora bench                 # the full run (a few minutes on 2 cores)
    kinora bench --quick         # about a minute: the long videos with 1 sampling step
    kinora bench --json          # one JSON object on stdout
    kinora bench --tiny          # seconds: tiny random models, for tests and CI

What is measured (ROADMAP.md's targets in brackets):
1. Generation, in a child process so that its memory is its own: the time to import
   torch and the pipeline, the pipeline's load time (`from_pretrained`: DiT, VAE and the
   text encoder) [<= 3 s], then 4 s of 64x64 video at 8 fps with the default steps, called twice
   (the first call warms up; the second is the real-time factor, video seconds / wall
   seconds [>= 2]), then 10, 30 and 60 s of video (long clips are windows of
   `pipe.window` frames with overlapping known context) with wall time [60 s <= 6.6 x
   10 s] and peak RSS [60 s <= 1.15 x 10 s]. The peak is reset before each length
   (/proc/self/clear_refs), so each length has its own peak; `rss_growth_mb` is the peak
   over the RSS right after loading (the model's own working memory).
2. The DiT's step: one CFG forward (batch 2) of our DiT against diffusers'
   `WanTransformer3DModel` built from arguments with the same width, depth, heads, MLP
   width, patch, input channels and text width, on the same tokens (random weights,
   nothing downloaded); best of N after warm-up. ratio = ours / Wan [<= 1].
3. Training: `kinora.train.dit.run` for a few steps on random latents of one bucket (4 s of
   64x64: the shipped model's shape); samples per second from its log (first step
   dropped), FLOPs per step from torch's FlopCounterMode (forward + backward of the same
   batch), against the peak of a 2048 x 2048 float32 matrix multiply timed in the same run.
4. The data engine: `write_dataset` of random 2 s clips (16 frames, 64x64) on all cores
   into a temporary folder: clips per second [>= 20].

Without the shipped weights the bench builds the shipped preset with random weights:
speed does not depend on the weights' values, and it says so in `model.weights`.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from kinora.defaults import DEFAULT_SECONDS
from kinora.errors import KinoraError

MODES = {
    # preset, frame size, realtime seconds, long-video seconds, long-video steps (None: default),
    # dit reps, train batch and steps, data-engine clips
    "full": {"preset": "small", "size": 64, "realtime_s": 4.0, "long_s": (10, 30, 60), "long_steps": None,
             "reps": 10, "train_batch": 16, "train_steps": 6, "world_n": 160},
    "quick": {"preset": "small", "size": 64, "realtime_s": 4.0, "long_s": (10, 30, 60), "long_steps": 1,
              "reps": 5, "train_batch": 4, "train_steps": 3, "world_n": 40},
    "tiny": {"preset": "tiny", "size": 32, "realtime_s": 1.0, "long_s": (1, 2, 3), "long_steps": 1,
             "reps": 2, "train_batch": 2, "train_steps": 3, "world_n": 4},
}
TEXT_TOKENS = 24  # a typical caption's MiniLM tokens
WARM_CALLS = 3  # the clip timings are the best of this many calls after a warm-up call


# ---------------------------------------------------------------------------------
# The machine
# ---------------------------------------------------------------------------------


def machine(threads: int) -> dict:
    import torch

    cpu = platform.processor() or platform.machine()
    mem_gb = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem_gb = round(int(line.split()[1]) / 1e6, 1)
    except OSError:
        pass
    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = None
    return {"cpu": cpu, "cores": os.cpu_count(), "threads": threads, "memory_gb": mem_gb,
            "os": f"{platform.system()} {platform.release()}", "python": platform.python_version(),
            "torch": torch.__version__, "load_avg": load}


# ---------------------------------------------------------------------------------
# Memory of this process
# ---------------------------------------------------------------------------------


def _status_kb(key: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def rss_mb() -> float | None:
    kb = _status_kb("VmRSS")
    return None if kb is None else round(kb / 1024, 1)


def peak_rss_mb() -> float:
    kb = _status_kb("VmHWM")
    if kb is None:  # not Linux: the process's lifetime peak
        import resource

        kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // (1024 if sys.platform == "darwin" else 1)
    return round(kb / 1024, 1)


def reset_peak_rss() -> bool:
    """Start a new peak-RSS window (Linux >= 4.0); False where that is not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


# ---------------------------------------------------------------------------------
# 1. Generation (run in a child process)
# ---------------------------------------------------------------------------------


def prepare_model(preset: str, model: str | None, folder: Path) -> tuple[Path, str]:
    """The weights folder to load and what they are: the given path, the shipped weights,
    or the preset with random weights written to `folder`."""
    import torch

    from kinora.defaults import DEFAULT_PRESET, SHIPPED_DIT, WEIGHTS_DIR, dit_filename, vae_filename
    from kinora.models.dit import DiT, save_dit
    from kinora.models.presets import get_preset
    from kinora.models.vae import VideoVAE, load_vae, save_vae

    if model:
        path = Path(model)
        if not path.exists():
            raise KinoraError(f"no model weights at {path}")
        return path, str(path)
    if preset == DEFAULT_PRESET and SHIPPED_DIT.exists():
        return WEIGHTS_DIR, "shipped"
    p = get_preset(preset)
    torch.manual_seed(0)
    folder.mkdir(parents=True, exist_ok=True)
    vae_src = WEIGHTS_DIR / vae_filename(p.vae_name)
    if vae_src.exists() and load_vae(vae_src).cfg == p.vae:  # real VAE weights where they fit the preset
        shutil.copy(vae_src, folder / vae_filename(p.vae_name))
    else:
        save_vae(VideoVAE(p.vae), folder / vae_filename(p.vae_name))
    meta = {"preset": p.name, "vae_name": p.vae_name}
    if preset == "tiny":
        meta["train_args"] = {"max_frames": 9, "fps": 8, "height": 32, "width": 32, "shift_scale": 1.0}
    save_dit(folder / dit_filename(p.name), DiT(p.dit), meta)
    return folder, f"random {preset} preset (shipped weights not found)"


def generation_runs(cfg: dict) -> dict:
    """Load the pipeline, time the real-time clip twice and each long clip; memory per run."""
    t_import = time.perf_counter()
    import torch

    from kinora.pipelines.kinora import KinoraPipeline, window_spans

    import_s = time.perf_counter() - t_import  # 0 when already imported (--tiny runs in-process)

    torch.set_num_threads(cfg["threads"])
    isolated = reset_peak_rss()
    t0 = time.perf_counter()
    pipe = KinoraPipeline.from_pretrained(cfg["model"])
    load_s = time.perf_counter() - t0
    size, fps = cfg["size"], pipe.default_fps
    prompt = "a small red ball rolls left. a large blue cube falls. the camera is static."

    last: dict = {}  # the latest call's settings that the timings need

    def gen(seconds: float, steps: int | None, physics: bool = False) -> tuple[float, int]:
        n = max(1, int(round(seconds * fps)))
        t = time.perf_counter()
        out = pipe(prompt, num_frames=n, height=size, width=size, num_inference_steps=steps,
                   generator=torch.Generator().manual_seed(0), physics=physics)
        last["simulation_s"] = out.settings.get("simulation_s")
        assert out.frames[0].shape[0] == n
        return time.perf_counter() - t, n

    first_s, n = gen(cfg["realtime_s"], None)
    # Best of three warm calls: one call's time moves by 10-20 % with what else the machine does.
    warm_s = min(gen(cfg["realtime_s"], None)[0] for _ in range(WARM_CALLS))
    rt = {"video_s": cfg["realtime_s"], "fps": fps, "size": f"{size}x{size}", "frames": n,
          "steps": pipe.sample.steps, "import_s": round(import_s, 3), "load_s": round(load_s, 3),
          "first_call_s": round(first_s, 3),
          "wall_s": round(warm_s, 3), "frames_per_s": round(n / warm_s, 2),
          "realtime_factor": round(cfg["realtime_s"] / warm_s, 3), "window": pipe.window}
    base_rss = rss_mb()
    long = {}
    for s in cfg["long_s"]:
        reset_peak_rss()
        wall, n = gen(float(s), cfg["long_steps"])
        peak = peak_rss_mb()
        long[str(s)] = {"frames": n, "windows": len(window_spans(n, pipe.window)),
                        "steps": cfg["long_steps"] or pipe.sample.steps, "wall_s": round(wall, 3),
                        "peak_rss_mb": peak, "rss_growth_mb": round(peak - (base_rss or 0.0), 1)}
    # Simulator in the loop: the same clip guided by the physics signal, the simulation included.
    if pipe.has_physics:
        gen(cfg["realtime_s"], None, physics=True)  # warm, as the free clip's timing is after warm-up
        g_s, n = gen(cfg["realtime_s"], None, physics=True)
        rt.update(guided_wall_s=round(g_s, 3), guided_realtime_factor=round(cfg["realtime_s"] / g_s, 3),
                  guided_simulation_s=last["simulation_s"])
    else:
        rt.update(guided_wall_s=None, guided_realtime_factor=None, guided_simulation_s=None)
    # The default loads with bf16 blocks (and a bf16 VAE decoder) where the CPU has the units;
    # time the fp32 path beside it (a timing only: those weights were rounded to bf16 on load).
    rt["precision"] = "bf16" if pipe.dit.compute == torch.bfloat16 else "fp32"
    if rt["precision"] == "bf16":
        pipe.dit.set_compute_dtype(torch.float32)
        pipe.vae.set_decode_dtype(torch.float32)
        gen(cfg["realtime_s"], None)
        fp_s = min(gen(cfg["realtime_s"], None)[0] for _ in range(WARM_CALLS))
        rt.update(fp32_wall_s=round(fp_s, 3), fp32_realtime_factor=round(cfg["realtime_s"] / fp_s, 3))
        pipe.dit.set_compute_dtype(torch.bfloat16)  # back to the default for what follows
        pipe.vae.set_decode_dtype(torch.bfloat16)
    else:
        rt.update(fp32_wall_s=None, fp32_realtime_factor=None)
    # A distilled default: the guided teacher it came from, timed beside it on the same clips.
    rt.update(teacher_wall_s=None, teacher_realtime_factor=None, teacher_long_wall_s=None)
    if pipe.meta.get("distilled") and cfg.get("teacher"):
        student, pipe = pipe, KinoraPipeline.from_pretrained(cfg["teacher"])  # `gen` calls `pipe`
        gen(cfg["realtime_s"], None)
        t_s = min(gen(cfg["realtime_s"], None)[0] for _ in range(WARM_CALLS))
        longest = max(cfg["long_s"])
        rt.update(teacher_wall_s=round(t_s, 3), teacher_realtime_factor=round(cfg["realtime_s"] / t_s, 3),
                  teacher_steps=pipe.sample.steps, teacher_guidance=pipe.sample.guidance, teacher_long_s=longest,
                  teacher_long_wall_s=round(gen(float(longest), cfg["long_steps"])[0], 3),
                  student_steps=student.sample.steps, student_guidance=student.sample.guidance)
        pipe = student
    # The blocks compiled (DiT.compile_blocks, as `kinora generate --compile` does): the first call compiles (Inductor
    # keeps what it built on disk, so a later process compiles faster), the timings after it.
    rt.update(compiled_wall_s=None, compiled_realtime_factor=None, compiled_long_wall_s=None)
    if cfg.get("compile") and pipe.dit.compile_blocks():
        first, _ = gen(cfg["realtime_s"], None)
        c_s = min(gen(cfg["realtime_s"], None)[0] for _ in range(WARM_CALLS))
        longest = max(cfg["long_s"])
        long_first, _ = gen(float(longest), cfg["long_steps"])  # the later windows' shapes compile here
        rt.update(compiled_first_call_s=round(first, 3), compiled_wall_s=round(c_s, 3),
                  compiled_realtime_factor=round(cfg["realtime_s"] / c_s, 3), compiled_long_s=longest,
                  compiled_long_first_s=round(long_first, 3),
                  compiled_long_wall_s=round(gen(float(longest), cfg["long_steps"])[0], 3))
    return {"realtime": rt, "long_video": long, "rss_after_load_mb": base_rss, "memory_isolated": isolated}


def run_child(cfg: dict, timeout: float = 1800) -> dict:
    """generation_runs(cfg) in a fresh Python process; its last stdout line is the JSON."""
    cmd = [sys.executable, "-m", "kinora.eval.bench", "--child", json.dumps(cfg)]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise KinoraError(f"the generation benchmark took over {timeout:.0f} s; try --quick") from None
    if p.returncode != 0:
        last = (p.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise KinoraError(f"the generation benchmark failed: {last}")
    return json.loads(p.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------------
# 2. Our DiT against diffusers' Wan transformer
# ---------------------------------------------------------------------------------


def _best_ms(fns: list, reps: int, warmup: int = 2) -> list[float]:
    """Best wall time (ms) of each function, the functions taking turns so that a change
    in the machine's load hits them alike."""
    for fn in fns:
        for _ in range(warmup):
            fn()
    best = [float("inf")] * len(fns)
    for _ in range(reps):
        for i, fn in enumerate(fns):
            t = time.perf_counter()
            fn()
            best[i] = min(best[i], time.perf_counter() - t)
    return [round(b * 1000, 3) for b in best]


def wan_like(cfg):
    """diffusers' WanTransformer3DModel with our DiT's sizes (random weights)."""
    from diffusers import WanTransformer3DModel

    return WanTransformer3DModel(
        patch_size=tuple(cfg.patch), num_attention_heads=cfg.heads, attention_head_dim=cfg.head_dim,
        in_channels=cfg.in_channels, out_channels=cfg.latent_channels, text_dim=cfg.text_dim, freq_dim=256,
        ffn_dim=int(cfg.width * cfg.mlp_ratio), num_layers=cfg.depth, cross_attn_norm=True,
        qk_norm="rms_norm_across_heads", rope_max_seq_len=1024)


def _flops(fn) -> int:
    """FLOPs of one call (matrix products, convolutions, attention) by torch's counter."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    with torch.inference_mode(), FlopCounterMode(display=False) as fc:
        fn()
    return int(fc.get_total_flops())


def bench_dit(preset: str, size: int, seconds: float, reps: int) -> dict:
    import torch

    from kinora.models.dit import DiT
    from kinora.models.presets import get_preset
    from kinora.pipelines.kinora import latent_frames

    cfg = get_preset(preset).dit
    torch.manual_seed(0)
    ours = DiT(cfg).eval()
    F, h = latent_frames(int(round(seconds * 8))), size // 8
    pt, ph, pw = cfg.patch
    B = 2  # one classifier-free-guidance step
    x = torch.randn(B, cfg.latent_channels, F, h, h)
    text = torch.randn(B, TEXT_TOKENS, cfg.text_dim)
    cond = {"text": text, "text_mask": torch.ones(B, TEXT_TOKENS, dtype=torch.bool)}
    t = torch.rand(B)

    def ours_step():
        # the whole forward, prompt included, as Wan's is: sampling keeps the prompt's keys and
        # values across steps (DiT.prompt), which would flatter the comparison
        ours.forget_prompt()
        return ours(x, t, cond)

    out = {"preset": preset, "tokens": (F // pt) * (h // ph) * (h // pw), "latent": [cfg.latent_channels, F, h, h],
           "batch": B, "width": cfg.width, "depth": cfg.depth, "heads": cfg.heads,
           "ours_params_M": round(ours.num_params() / 1e6, 3), "ours_flops": _flops(ours_step)}
    try:
        import diffusers

        wan = wan_like(cfg).eval()
    except ImportError:
        with torch.inference_mode():
            out["ours_ms"] = _best_ms([ours_step], reps)[0]
        out["wan_ms"] = None
        out["note"] = "diffusers is not installed: pip install 'kinora[bench]'"
        out["ours_gflops"] = round(out["ours_flops"] / out["ours_ms"] / 1e6, 3)
        return out
    # Wan takes the noisy latents with the conditioning channels already stacked (the
    # same width as our [x, known * mask, mask]) and timesteps in [0, 1000].
    xw = torch.randn(B, cfg.in_channels, F, h, h)
    out["wan_params_M"] = round(sum(p.numel() for p in wan.parameters()) / 1e6, 3)
    out["diffusers"] = diffusers.__version__
    with torch.inference_mode():
        out["ours_ms"], out["wan_ms"] = _best_ms(
            [ours_step,
             lambda: wan(hidden_states=xw, timestep=t * 1000, encoder_hidden_states=text, return_dict=False)], reps)
    out["ours_gflops"] = round(out["ours_flops"] / out["ours_ms"] / 1e6, 3)  # FLOPs per ms / 1e6 = GFLOP/s
    from kinora.models.precision import bf16_units

    if bf16_units():  # the same step in bf16, each model as its own code runs it
        ours.set_compute_dtype(torch.bfloat16)  # our blocks in bf16
        keep = tuple(getattr(wan, "_keep_in_fp32_modules", None) or ())
        for name, p in wan.named_parameters():  # Wan as from_pretrained(torch_dtype=bf16) loads it
            p.data = p.data.to(torch.float32 if any(k in name.split(".") for k in keep) else torch.bfloat16)
        xb, textb = xw.to(torch.bfloat16), text.to(torch.bfloat16)
        with torch.inference_mode():
            out["ours_bf16_ms"], out["wan_bf16_ms"] = _best_ms(
                [ours_step,
                 lambda: wan(hidden_states=xb, timestep=t * 1000, encoder_hidden_states=textb, return_dict=False)],
                reps)
    return out


# ---------------------------------------------------------------------------------
# 3. Training throughput against the matrix-multiply peak
# ---------------------------------------------------------------------------------


def matmul_peak_gflops(n: int = 2048, reps: int = 5, dtype: str = "float32") -> float:
    """GFLOP/s of the best of `reps` n x n matrix products in `dtype` on this machine."""
    import torch

    dt = getattr(torch, dtype)
    a, b = torch.randn(n, n).to(dt), torch.randn(n, n).to(dt)
    ms = _best_ms([lambda: torch.mm(a, b)], reps, warmup=1)[0]
    return round(2 * n**3 / (ms / 1000) / 1e9, 2)


# Which oneDNN kernel a bf16 product runs on, asked of a child process (oneDNN reports its
# choice only on its own stdout, and only when ONEDNN_VERBOSE is set when it starts).
_KERNEL_PROBE = """
import torch
a = torch.randn(256, 256).bfloat16()
torch.mm(a, a)
"""


def matmul_kernels(threads: int) -> dict:
    """What the CPU offers (AMX, AVX-512 BF16) and which kernel torch's bf16 matmul used."""
    import subprocess

    import torch

    flags = set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                break
    except OSError:
        pass
    out = {"cpu_capability": torch.backends.cpu.get_cpu_capability(), "mkldnn": torch.backends.mkldnn.is_available(),
           "amx_bf16": "amx_bf16" in flags, "avx512_bf16": "avx512_bf16" in flags, "bf16_matmul_kernel": None}
    env = {**os.environ, "ONEDNN_VERBOSE": "1", "OMP_NUM_THREADS": str(threads)}
    try:
        r = subprocess.run([sys.executable, "-c", _KERNEL_PROBE], capture_output=True, text=True, env=env, timeout=120)
        for line in r.stdout.splitlines():
            parts = line.split(",")
            if len(parts) > 6 and parts[2] == "primitive" and parts[3] == "exec" and parts[5] == "matmul":
                out["bf16_matmul_kernel"] = parts[6]  # e.g. brg_matmul:avx10_1_512_amx
                break
    except (OSError, subprocess.SubprocessError):
        pass
    if out["bf16_matmul_kernel"] is None:
        out["bf16_matmul_kernel"] = "not oneDNN (no oneDNN matmul reported; torch's own bf16 kernel)"
    out["amx_used"] = "amx" in out["bf16_matmul_kernel"]
    return out


def bench_train(preset: str, size: int, seconds: float, batch: int, steps: int, folder: Path,
                precision: str = "fp32", compile: bool = False) -> dict:
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from kinora.diffusion.flow import flow_loss
    from kinora.models.dit import DiT
    from kinora.models.presets import get_preset
    from kinora.pipelines.kinora import latent_frames
    from kinora.train.common import read_log
    from kinora.train.data import Bucket, LatentData, TextBank
    from kinora.train.dit import TrainSettings, run

    p = get_preset(preset)
    cfg = p.dit
    g = torch.Generator().manual_seed(0)
    frames = int(round(seconds * 8)) + 1
    F, h = latent_frames(frames), size // 8
    n = max(batch, 8)
    caps = [[f"clip {i}"] for i in range(n)]
    texts = ["", *[c[0] for c in caps]]
    bank = TextBank.from_states(texts, [torch.randn(TEXT_TOKENS, cfg.text_dim, generator=g) for _ in texts])
    data = LatentData([Bucket(torch.randn(n, cfg.latent_channels, F, h, h, generator=g).half(), caps,
                              source="bench")], bank)
    s = TrainSettings.from_preset(preset, str(folder), synthetic=True, quiet=True, batch_size=batch, steps=steps,
                                  log_every=1, ckpt_every=10**9, warmup_steps=0, max_frames=1 + 4 * (F - 1),
                                  width=size, height=size, precision=precision, compile=compile)
    t0 = time.perf_counter()
    trained = run(s, data=data)
    total = time.perf_counter() - t0
    log = read_log(folder / "log.jsonl")
    per_step = sorted(r["sec_per_step"] for r in log[1:]) or [log[-1]["sec_per_step"]]
    sec = per_step[len(per_step) // 2]  # median, first (warm-up) step dropped
    # FLOPs of one step's forward and backward on the same shapes.
    torch.manual_seed(0)
    model = DiT(cfg).train()
    x0 = torch.randn(batch, cfg.latent_channels, F, h, h)
    cond = {"text": torch.randn(batch, TEXT_TOKENS, cfg.text_dim),
            "text_mask": torch.ones(batch, TEXT_TOKENS, dtype=torch.bool),
            "mask": torch.zeros(batch, 1, F, h, h)}
    with FlopCounterMode(display=False) as fc:
        loss = flow_loss(model, x0, cond, torch.rand(batch), torch.randn_like(x0))
        loss.backward()
    flops = fc.get_total_flops()
    pt, ph, pw = cfg.patch
    return {"preset": preset, "precision": trained.train_precision,  # what "auto" chose here
            "compile": compile, "batch": batch, "steps": steps,
            "tokens": (F // pt) * (h // ph) * (h // pw), "first_step_s": log[0]["sec_per_step"],
            "sec_per_step": round(sec, 4), "samples_per_s": round(batch / sec, 3),
            "flops_per_step": int(flops), "achieved_gflops": round(flops / sec / 1e9, 3),
            "run_s": round(total, 2)}


# ---------------------------------------------------------------------------------
# 4. The data engine
# ---------------------------------------------------------------------------------


def bench_timeline(model: str, folder: Path, shots: int, seconds: float, threads: int) -> dict:
    """Film projects (kinora.timeline): a region edit of one shot against making that shot
    fresh, and the render of a film of `shots` shots whose takes exist (join, labels, OTIO)."""
    import torch

    from kinora.timeline import edits
    from kinora.timeline.otio import export_otio
    from kinora.timeline.render import render

    torch.set_num_threads(threads)
    prompts = [f"a {c} ball rolls left" for c in ("red", "blue", "green", "yellow", "cyan", "purple")]
    t = time.perf_counter()
    edits.new_project(folder / "film", [prompts[k % 6] for k in range(shots)], seconds=seconds, model=model)
    made_s = time.perf_counter() - t
    gen = edits.Generator({**edits.DEFAULT_SETTINGS, "model": model})
    n = int(round(seconds * gen.pipe.default_fps))
    gen(prompts[0], 0, num_frames=n)  # warm
    t = time.perf_counter()
    gen(prompts[0], 0, num_frames=n)
    fresh_s = time.perf_counter() - t
    t = time.perf_counter()
    edits.inpaint(folder / "film", 1, (0.25, 0.25, 0.75, 0.75), span=(0.25 * seconds, 0.75 * seconds),
                  prompt="a blue cube")
    edit_s = time.perf_counter() - t
    reset_peak_rss()
    base = rss_mb() or 0.0
    t = time.perf_counter()
    render(folder / "film", folder / "film.mp4")
    export_otio(folder / "film", folder / "film.otio")
    render_s = time.perf_counter() - t
    return {"shots": shots, "seconds_per_shot": seconds, "film_s": shots * seconds,
            "project_new_s": round(made_s, 3), "fresh_shot_s": round(fresh_s, 3), "region_edit_s": round(edit_s, 3),
            "edit_vs_fresh": round(edit_s / fresh_s, 3), "render_and_otio_s": round(render_s, 3),
            "render_rss_growth_mb": round(peak_rss_mb() - base, 1)}


def bench_film(model: str, folder: Path, threads: int, tiny: bool) -> dict:
    """Story -> film (kinora.pipelines.film): planning alone, the --previs storyboard, and the
    whole film with verification, on the bundled ~10-shot story as a 60 s film (tiny: two 1 s shots)."""
    import torch

    from kinora.pipelines.film import BUNDLED_STORY, make_film, make_storyboard
    from kinora.plan.story import plan_story

    torch.set_num_threads(threads)
    text = "A red ball rolls left. Then a blue cube falls." if tiny else BUNDLED_STORY.read_text(encoding="utf-8")
    seconds = 1.0 if tiny else 6.0
    plan_s = min(_timed(lambda: plan_story(text, seconds_per_shot=seconds)) for _ in range(3))
    previs_s = _timed(lambda: make_storyboard(text, folder / "board.pdf", seconds_per_shot=seconds))
    t = time.perf_counter()
    r = make_film(text, folder / "film", seconds_per_shot=seconds, model=model, **({"steps": 1} if tiny else {}))
    film_s = time.perf_counter() - t
    return {"shots": len(r.shots), "film_s": r.plan.seconds, "plan_s": round(plan_s, 3),
            "previs_storyboard_s": round(previs_s, 3), "film_wall_s": round(film_s, 2),
            "steps_s": {k: round(v, 2) for k, v in r.timings.items()},
            "verified": sum(s["passed"] for s in r.shots), "flagged": sum(not s["passed"] for s in r.shots),
            "takes": sum(len(s["tries"]) for s in r.shots)}


def _timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def bench_world(n: int, folder: Path, workers: int | None = None) -> dict:
    from kinora.world.dataset import write_dataset
    from kinora.world.spec import SpecDistribution

    dist = SpecDistribution(duration=(DEFAULT_SECONDS, DEFAULT_SECONDS), fps=8, width=64, height=64)
    workers = workers or os.cpu_count() or 1
    index = write_dataset(folder, n, seed=0, dist=dist, workers=workers, clips=False, progress=False)
    return {"clips": n, "frames": int(DEFAULT_SECONDS * dist.fps),
            "size": "64x64", "workers": workers, "seconds": index["seconds"], "clips_per_s": index["clips_per_s"],
            "writes": "training shards only (no per-clip MP4)"}


# ---------------------------------------------------------------------------------
# The whole bench
# ---------------------------------------------------------------------------------


def run_bench(mode: str = "full", model: str | None = None, threads: int | None = None,
              progress: bool = True) -> dict:
    import torch
    from tqdm import tqdm

    if mode not in MODES:
        raise KinoraError(f"unknown bench mode {mode!r}; use one of {', '.join(MODES)}")
    m = MODES[mode]
    threads = threads or os.cpu_count() or 1
    torch.set_num_threads(threads)
    t_start = time.perf_counter()
    result: dict = {"mode": mode, "machine": machine(threads), "notes": []}
    load = result["machine"]["load_avg"]
    cores = result["machine"]["cores"] or 1
    if load and load[0] > 0.5 * cores:
        result["notes"].append(f"the machine was busy (load average {load[0]} on {cores} cores): every timing is "
                               f"pessimistic" + ("; with other work running, --threads 1 avoids oversubscribing "
                                                 "the cores" if threads > 1 else ""))
    stages = ["generation", "dit", "train", "timeline", "world"]
    bar = tqdm(total=len(stages), desc="bench", unit="stage", disable=None if progress else True)
    with tempfile.TemporaryDirectory(prefix="kinora-bench-") as tmp:
        tmp = Path(tmp)
        weights, what = prepare_model(m["preset"], model, tmp / "weights")
        result["model"] = {"name": f"kinora-{m['preset']}", "weights": what}
        from kinora.defaults import SHIPPED_TEACHER
        from kinora.models.dit import cxx_compiler

        cfg = {"model": str(weights), "threads": threads, "size": m["size"], "realtime_s": m["realtime_s"],
               "long_s": list(m["long_s"]), "long_steps": m["long_steps"],
               "teacher": str(SHIPPED_TEACHER) if what == "shipped" and SHIPPED_TEACHER.exists() else None,
               "compile": mode != "tiny" and cxx_compiler() is not None}
        bar.set_postfix_str("generation")
        if mode == "tiny":
            gen = generation_runs(cfg)  # seconds matter more than isolation here
            result["notes"].append("tiny: generation measured in the bench's own process")
        else:
            gen = run_child(cfg)
        if not gen["memory_isolated"]:
            result["notes"].append("peak RSS could not be reset between lengths: each peak is the process's so far")
        bar.update(1)
        rt = gen["realtime"]
        result["realtime"] = rt
        result["realtime_factor"] = rt["realtime_factor"]
        result["load_s"] = rt["load_s"]
        lv = dict(gen["long_video"])
        lo, hi = str(min(m["long_s"])), str(max(m["long_s"]))
        lv.update({"shortest": int(lo), "longest": int(hi),
                   "time_ratio": round(lv[hi]["wall_s"] / lv[lo]["wall_s"], 3),
                   # linear time with 10 % slack: 6.6 for 60 s against 10 s
                   "time_ratio_target": round(1.1 * int(hi) / int(lo), 2),
                   "memory_ratio": round(lv[hi]["peak_rss_mb"] / lv[lo]["peak_rss_mb"], 3),
                   "rss_after_load_mb": gen["rss_after_load_mb"]})
        result["long_video"] = lv
        if m["long_steps"]:
            result["notes"].append(f"{mode}: long videos of {', '.join(map(str, m['long_s']))} s sampled with "
                                   f"{m['long_steps']} step(s) instead of the default {rt['steps']}; the time ratio "
                                   f"target scales to {1.1 * max(m['long_s']) / min(m['long_s']):g}")
        bar.set_postfix_str("dit")
        result["dit"] = bench_dit(m["preset"], m["size"], m["realtime_s"], m["reps"])
        d = result["dit"]
        result["dit_step_ratio_vs_diffusers"] = round(d["ours_ms"] / d["wan_ms"], 3) if d.get("wan_ms") else None
        if d.get("wan_bf16_ms"):
            result["dit_step_ratio_vs_diffusers_bf16"] = round(d["ours_bf16_ms"] / d["wan_bf16_ms"], 3)
        bar.update(1)
        bar.set_postfix_str("train")
        tr = bench_train(m["preset"], m["size"], m["realtime_s"], m["train_batch"], m["train_steps"], tmp / "train")
        n = 512 if mode == "tiny" else 2048
        peak = {"fp32_gflops": matmul_peak_gflops(n), "bf16_gflops": matmul_peak_gflops(n, dtype="bfloat16"),
                "size": n, **matmul_kernels(threads)}
        result["matmul_peak"] = peak
        tr["matmul_gflops"] = peak["fp32_gflops"]
        result["train"] = tr
        result["train_fraction_of_matmul_peak"] = round(tr["achieved_gflops"] / peak["fp32_gflops"], 4)
        result["train_fraction_of_bf16_peak"] = round(tr["achieved_gflops"] / peak["bf16_gflops"], 4)
        result["sampling_fraction_of_fp32_peak"] = round(d["ours_gflops"] / peak["fp32_gflops"], 4)
        result["sampling_fraction_of_bf16_peak"] = round(d["ours_gflops"] / peak["bf16_gflops"], 4)
        from kinora.models.precision import bf16_units

        def beside_fp32(name: str, batch: int, **kw) -> None:
            """Training timed again another way, with its speed-up over fp32 and its share of the bf16 peak."""
            run = bench_train(m["preset"], m["size"], m["realtime_s"], batch, m["train_steps"], tmp / name, **kw)
            result[name] = run
            result[f"{name}_speedup"] = round(run["samples_per_s"] / tr["samples_per_s"], 3)
            result[f"{name}_fraction_of_bf16_peak"] = round(run["achieved_gflops"] / peak["bf16_gflops"], 4)

        if bf16_units():  # the same run with `kinora train --precision bf16`, beside fp32
            beside_fp32("train_bf16", m["train_batch"], precision="bf16")
        if mode != "tiny" and cxx_compiler():  # `kinora train --compile` (default precision): 20-35 s compiling
            beside_fp32("train_compiled", m["train_batch"], precision="auto", compile=True)
            # a larger batch per step: where the matrix units pay most (quality: docs/MODEL.md)
            beside_fp32("train_compiled_large", 4 * m["train_batch"], precision="auto", compile=True)
        bar.update(1)
        bar.set_postfix_str("timeline")
        tl_shots, tl_seconds = (2, 1.0) if mode == "tiny" else (12, 5.0)
        result["timeline"] = bench_timeline(str(weights), tmp / "timeline", tl_shots, tl_seconds, threads)
        bar.set_postfix_str("film")
        result["film"] = bench_film(str(weights), tmp / "story", threads, tiny=mode == "tiny")
        bar.set_postfix_str("studio")
        from kinora.eval.studio import bench_studio

        tiny = mode == "tiny"
        result["studio"] = bench_studio(tmp / "studio", model=str(weights), jobs=4 if tiny else 20,
                                        tabs=2 if tiny else 4, seconds=1.0 if tiny else 4.0,
                                        steps=1 if tiny else None, browser=not tiny)
        bar.set_postfix_str("world")
        result["world"] = bench_world(m["world_n"], tmp / "world", workers=1 if mode == "tiny" else None)
        result["world_clips_per_s"] = result["world"]["clips_per_s"]
        bar.update(1)
    bar.close()
    result["guided_realtime_factor"] = rt.get("guided_realtime_factor")
    result["targets"] = {"realtime_factor": ">= 2", "guided_realtime_factor": ">= 8", "load_s": "<= 3",
                         "long_video_time_ratio": "<= 6.6 (60 s / 10 s)",
                         "long_video_memory_ratio": "<= 1.15", "dit_step_ratio_vs_diffusers": "<= 0.8",
                         "dit_step_ratio_vs_diffusers_bf16": "<= 0.8",
                         "train_bf16_speedup": ">= 3 (or train_bf16_fraction_of_bf16_peak >= 0.25)",
                         "train_compiled_speedup": ">= 3 (or train_compiled_fraction_of_bf16_peak >= 0.25)",
                         "train_compiled_large_speedup": ">= 3 (or its fraction of the bf16 peak >= 0.25)",
                         "realtime_factor_issue17": ">= 30 (4 s 64x64)", "long_60s_wall_s": "< 3 (after load)",
                         "world_clips_per_s": ">= 20", "edit_vs_fresh": "<= 1.5",
                         "render_and_otio_s": "<= 5 (60 s film of 12 shots)",
                         "film_plan_s": "< 1", "film_previs_storyboard_s": "< 10",
                         "film_wall_s": "goal <= 60 (60 s film of ~10 shots, with verification)",
                         "studio_first_screen_after_address_s": "< 3", "studio_first_progress_s": "< 1",
                         "studio_soak": "20 jobs from 4 tabs: all intact, worker memory flat"}
    result["wall_s"] = round(time.perf_counter() - t_start, 2)
    return result


def bench_to_folder(mode: str = "full", model: str | None = None, threads: int | None = None,
                    out: str | Path | None = None) -> tuple[dict, str, Path]:
    """`kinora bench`: run the bench and write bench.md and bench.json into `out`
    (default out/bench); return (result, markdown, folder)."""
    from kinora.eval.report import bench_markdown
    from kinora.io.atomic import check_writable, write_json_atomic, write_text_atomic

    if threads is not None and threads < 1:
        raise KinoraError(f"--threads must be at least 1, got {threads}")
    folder = Path(out or "out/bench")
    if folder.exists() and not folder.is_dir():
        raise KinoraError(f"--out {folder} is a file; the bench writes a folder (bench.md, bench.json)")
    check_writable(folder / "bench.json")
    if model is not None and not Path(model).exists():
        raise KinoraError(f"no model weights at {model}")
    result = run_bench(mode, model=model, threads=threads)
    md = bench_markdown(result)
    write_text_atomic(folder / "bench.md", md)
    write_json_atomic(folder / "bench.json", result)
    return result, md, folder


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        print(json.dumps(generation_runs(json.loads(sys.argv[2]))), flush=True)
    else:
        print("usage: kinora bench [--quick | --tiny] [--json]", file=sys.stderr)
        sys.exit(2)
