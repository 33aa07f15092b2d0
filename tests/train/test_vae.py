"""VAE training (kinora.train.vae, `kinora train-vae`): an end-to-end run with resume and export, the
edge weighting, the decoder fine-tune that keeps the latent space, the training config from the
registry, the cosine schedule. The boundary errors are tests/train/test_errors.py."""

import json

import pytest
import torch

from kinora.cli import main
from kinora.errors import KinoraError
from kinora.models.vae import load_vae
from kinora.train.common import read_log


def test_train_main_smoke(tmp_path):
    """The training CLI runs end to end on the tiny preset and writes what it promises."""
    out = tmp_path / "vae"
    assert main(["train-vae", "--preset", "tiny", "--out", str(out), "--steps", "4", "--pool", "3",
                 "--eval-clips", "1", "--eval-every", "4"]) == 0
    for name in ("vae-tiny.safetensors", "train_state.pt", "log.jsonl", "loss.png"):
        assert (out / name).exists(), name
    log = read_log(out / "log.jsonl")
    assert log[0]["event"] == "start" and any("psnr" in r for r in log)
    m = load_vae(out / "vae-tiny.safetensors")
    assert m.cfg.scaling_factor > 0 and m.cfg.scaling_factor != 1.0
    # resume continues from step 4
    assert main(["train-vae", "--preset", "tiny", "--out", str(out), "--steps", "5", "--pool", "3",
                 "--eval-clips", "1", "--eval-every", "5", "--resume"]) == 0
    assert read_log(out / "log.jsonl")[-1]["step"] == 5
    assert json.loads((out / "log.jsonl").read_text().splitlines()[0])["params"] > 0
    # export: ship the EMA of the saved state without training
    (out / "vae-tiny.safetensors").unlink()
    assert main(["train-vae", "--out", str(out), "--export", "--eval-clips", "1"]) == 0
    assert load_vae(out / "vae-tiny.safetensors").cfg.scaling_factor > 0


def test_edge_map_marks_both_sides_of_an_outline():
    from kinora.train.vae import edge_map

    x = -torch.ones(1, 3, 1, 8, 8)
    x[..., 2:5, 2:5] = 1.0  # a 3x3 white square on black
    g = edge_map(x)[0, 0, 0]
    assert g.shape == (8, 8)
    assert g[3, 3] == 0 and g[0, 0] == 0  # inside and far outside: flat
    assert g[3, 1] == 2 and g[3, 2] == 2 and g[1, 3] == 2 and g[4, 4] == 2  # the outline, both sides


def test_decoder_fine_tune_keeps_the_latent_space(tmp_path, tiny_weights):
    """--init --decoder-only trains the decoder alone: same encoder and normalisation, and
    the file carries its parent's latent identity, so a DiT trained on the parent accepts it."""
    from kinora.io.hashing import file_hash
    from kinora.models.vae import latent_id
    from kinora.pipelines.kinora import check_vae

    parent = tiny_weights / "vae-tiny.safetensors"
    out = tmp_path / "dec"
    assert main(["train-vae", "--preset", "tiny", "--init", str(parent), "--decoder-only", "--edge-weight", "4",
                 "--out", str(out), "--steps", "3", "--pool", "3", "--eval-clips", "1", "--eval-every", "3",
                 "--lr", "1e-2"]) == 0
    a, b = load_vae(parent), load_vae(out / "vae-tiny.safetensors")
    enc_a, enc_b = a.encoder.state_dict(), b.encoder.state_dict()
    # (the shipped file is float16; the parent here is float32)
    assert all(torch.equal(enc_a[k].half(), enc_b[k].half()) for k in enc_a)
    dec_a, dec_b = a.decoder.state_dict(), b.decoder.state_dict()
    assert any(not torch.equal(dec_a[k], dec_b[k]) for k in dec_a)
    assert (a.cfg.scaling_factor, a.cfg.shift_factor) == (b.cfg.scaling_factor, b.cfg.shift_factor)
    assert latent_id(out / "vae-tiny.safetensors") == latent_id(parent) == file_hash(parent)
    assert file_hash(out / "vae-tiny.safetensors") != file_hash(parent)
    check_vae(out / "vae-tiny.safetensors", {"vae_hash": file_hash(parent)}, tmp_path / "dit.safetensors")
    with pytest.raises(KinoraError, match="has the latents of VAE"):
        check_vae(out / "vae-tiny.safetensors", {"vae_hash": "0123456789abcdef"}, tmp_path / "dit.safetensors")
    assert read_log(out / "log.jsonl")[0]["train_config"]["decoder_only"] is True


def test_decoder_fine_tune_bad_options(tmp_path, tiny_weights, capsys):
    out = str(tmp_path / "x")
    assert main(["train-vae", "--preset", "tiny", "--decoder-only", "--out", out, "--steps", "1"]) == 2
    assert "--decoder-only fine-tunes a trained VAE" in capsys.readouterr().err
    assert main(["train-vae", "--init", str(tiny_weights / "vae-tiny.safetensors"), "--out", out, "--steps", "1"]) == 2
    assert "is not a 'small' VAE; pass its --preset" in capsys.readouterr().err
    assert main(["train-vae", "--init", str(tmp_path / "none.safetensors"), "--out", out, "--steps", "1"]) == 2
    assert "VAE checkpoint not found" in capsys.readouterr().err
    assert main(["train-vae", "--preset", "tiny", "--edge-weight", "-1", "--out", out, "--steps", "1"]) == 2
    assert not (tmp_path / "x").exists()


def test_config_is_the_registrys_defaults_with_the_runs_choices():
    from dataclasses import asdict

    from kinora.models.presets import VAE_TRAIN_DEFAULTS
    from kinora.train.vae import TrainConfig

    cfg = TrainConfig.from_preset("tiny")
    d = asdict(VAE_TRAIN_DEFAULTS["tiny"])
    same = {k: v for k, v in d.items() if k != "warmup"}
    assert {k: v for k, v in asdict(cfg).items() if k in same} == same
    assert cfg.preset == "tiny" and cfg.warmup == min(d["warmup"], d["steps"] // 10)
    cfg = TrainConfig.from_preset("small", pool=131, steps=50, lr=2e-4, seed=3)
    assert (cfg.steps, cfg.lr, cfg.seed, cfg.warmup) == (50, 2e-4, 3, 5)
    assert [b.pool for b in cfg.buckets] == [100, 15, 6, 6, 4] and cfg.min_pool == 24 and cfg.stat_clips == 32
    assert VAE_TRAIN_DEFAULTS["small"].buckets[0].pool == 1000  # the registry is left as it was


def test_cosine_schedule_warms_up_then_falls_to_its_floor():
    from kinora.train.vae import TrainConfig, cosine_lr_at

    cfg = TrainConfig.from_preset("tiny", steps=100, lr=1e-3)  # warm-up: 10 steps
    assert cosine_lr_at(0, cfg) == pytest.approx(1e-4) and cosine_lr_at(9, cfg) == pytest.approx(1e-3)
    assert cosine_lr_at(10, cfg) == pytest.approx(1e-3)
    assert all(cosine_lr_at(k + 1, cfg) < cosine_lr_at(k, cfg) for k in range(10, 99))
    assert cosine_lr_at(100, cfg) == pytest.approx(1e-3 * cfg.lr_min_ratio)
