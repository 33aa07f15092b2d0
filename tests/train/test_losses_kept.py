"""Training behaves as before the train-package move: the same seed gives the same losses.

The VAE's numbers were recorded at commit 0d0388b (before kinora/train was split into data,
common, dit and vae); the DiT's were recorded again when the DiT gained its physics-signal
input (session 6: a new embedding and the signal-dropout draws change the seeded run), one
torch thread, fp32 (the default `auto` trains bf16 on CPUs with bf16 units), from the runs'
log.jsonl:

    kinora train --preset tiny --synthetic --steps 3 --seed 0 --threads 1 --precision fp32 --out DIR
    python -m kinora.train.vae --preset tiny --steps 3 --pool 3 --eval-clips 1 --eval-every 3 \\
        --seed 0 --threads 1 --out DIR
"""

import json

import pytest
import torch

# The DiT log rounds the loss to 6 decimals and the per-task means to 5.
DIT_LOSS = [2.008628, 2.161653, 2.044437]
DIT_T2V = [2.00863, 2.20601, 2.04444]  # step 2 also trained an extension
DIT_LR = [0.001, 0.001, 0.001]

# The VAE logs the mean over the 3 steps (log_every 25 > steps) and the held-out evaluation.
VAE_TRAIN = {"loss": 0.6119018197059631, "l1": 0.36184664567311603, "mse": 0.25005437433719635,
             "kl": 0.0799460696677367, "gnorm": 0.8160135547320048, "lr": 0.00055, "pool": 6}
# The training config a VAE run records (log start line and train_state.pt): same fields, same values.
VAE_TRAIN_CONFIG = {
    "preset": "tiny", "steps": 3, "lr": 0.001, "lr_min_ratio": 0.1, "warmup": 1, "weight_decay": 0.0,
    "grad_clip": 1.0, "ema_decay": 0.999, "kl_weight": 1e-05, "pixels_per_step": 278528,
    "image_pixels_per_step": 65536, "image_prob": 0.25, "window": 17,
    "buckets": [{"width": 64, "height": 64, "frames": 33, "pool": 2, "weight": 0.62},
                {"width": 128, "height": 128, "frames": 17, "pool": 1, "weight": 0.16},
                {"width": 128, "height": 64, "frames": 17, "pool": 1, "weight": 0.08},
                {"width": 96, "height": 64, "frames": 17, "pool": 1, "weight": 0.08},
                {"width": 64, "height": 96, "frames": 17, "pool": 1, "weight": 0.06}],
    "fill_per_step": 2, "min_pool": 3, "refresh_every": 8, "log_every": 25, "eval_every": 3, "save_every": 250,
    "eval_clips": 1, "stat_clips": 3, "seed": 0, "threads": 1, "edge_weight": 0.0, "init": None,
    "decoder_only": False}
VAE_EVAL = {"psnr": 13.264444172232544, "psnr_min": 13.264444172232544, "psnr_image": 13.227693725643551}


def read_log(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_dit_tiny_synthetic_losses_are_unchanged(tmp_path):
    from kinora.cli import main

    out = tmp_path / "dit"
    assert main(["train", "--preset", "tiny", "--synthetic", "--steps", "3", "--seed", "0", "--threads", "1",
                 "--precision", "fp32", "--quiet", "--out", str(out)]) == 0
    log = read_log(out / "log.jsonl")
    assert [r["step"] for r in log] == [1, 2, 3]
    assert [r["loss"] for r in log] == pytest.approx(DIT_LOSS, abs=1e-6)
    assert [r["lr"] for r in log] == pytest.approx(DIT_LR, abs=1e-12)
    assert [r["by_task"]["t2v"] for r in log] == pytest.approx(DIT_T2V, abs=1e-5)


def test_vae_tiny_losses_are_unchanged(tmp_path):
    from kinora.cli import main

    out = tmp_path / "vae"
    assert main(["train-vae", "--preset", "tiny", "--steps", "3", "--pool", "3", "--eval-clips", "1",
                 "--eval-every", "3",
                 "--seed", "0", "--threads", "1", "--out", str(out)]) == 0
    log = read_log(out / "log.jsonl")
    assert log[0]["event"] == "start" and log[0]["params"] == 49380
    assert log[0]["train_config"] == VAE_TRAIN_CONFIG
    assert torch.load(out / "train_state.pt", weights_only=False)["train_config"] == VAE_TRAIN_CONFIG
    train = next(r for r in log if "loss" in r)
    evals = next(r for r in log if "psnr" in r)
    assert train["step"] == evals["step"] == 3
    for k, v in VAE_TRAIN.items():
        assert train[k] == pytest.approx(v, rel=1e-6, abs=1e-9), k
    for k, v in VAE_EVAL.items():
        assert evals[k] == pytest.approx(v, rel=1e-6), k
