"""Training with the physics signal: the zero start, warm starts, dropout, and the signal cache."""

import dataclasses
import json

import numpy as np
import pytest
import torch

from kinora.errors import KinoraError
from kinora.models.dit import DiT
from kinora.models.presets import get_preset
from kinora.train.dit import TrainSettings, load_warm, run


def _inputs(cfg, B=2, F=3, h=4, w=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(B, cfg.latent_channels, F, h, w, generator=g)
    cond = {"text": torch.randn(B, 5, 384, generator=g), "text_mask": torch.ones(B, 5, dtype=torch.bool)}
    k = cfg.signal_scale
    signal = torch.rand(B, cfg.signal_channels, F, k * h, k * w, generator=g)
    return x, torch.rand(B, generator=g), cond, signal


def test_a_warm_start_from_a_model_without_the_signal_predicts_the_same():
    cfg = get_preset("tiny").dit
    torch.manual_seed(0)
    old = DiT(dataclasses.replace(cfg, signal_channels=0))
    torch.nn.init.normal_(old.final_proj.weight, std=0.1)  # a trained model predicts something
    new = DiT(cfg)
    load_warm(new, old)
    x, t, cond, signal = _inputs(cfg)
    with torch.no_grad():
        before = old(x, t, cond)
        assert torch.equal(new(x, t, cond), before)  # no signal: the old model
        assert torch.equal(new(x, t, {**cond, "signal": signal}), before)  # the zero start ignores it
        torch.nn.init.normal_(new.signal_embed.weight, std=0.1)
        assert not torch.equal(new(x, t, {**cond, "signal": signal}), before)  # once learned, it is read
        assert torch.equal(new(x, t, {**cond, "signal": torch.zeros_like(signal)}), before)  # zeros = free


def test_a_warm_start_from_another_model_is_one_line():
    cfg = get_preset("tiny").dit
    with pytest.raises(KinoraError, match="different model .*width 96 vs 64"):
        load_warm(DiT(cfg), DiT(dataclasses.replace(cfg, width=96)))
    with pytest.raises(KinoraError, match="signal_channels 4 vs 8"):
        load_warm(DiT(cfg), DiT(dataclasses.replace(cfg, signal_channels=4)))


def test_signal_dropout_zeroes_whole_clips():
    from kinora.models.presets import get_preset as gp
    from kinora.train.data import synthetic_data

    s = TrainSettings.from_preset("tiny", "/tmp/unused", synthetic=True)
    data = synthetic_data(gp("tiny"), s, seed=0, n=64)
    g = torch.Generator().manual_seed(0)
    seen = []
    for _ in range(20):
        *_, signal = data.batch(16, g, 0.0, 0.5)
        per_clip = signal.flatten(1).abs().sum(1)  # (B,)
        seen += (per_clip > 0).tolist()
    assert 0.4 < np.mean(seen) < 0.6
    *_, signal = data.batch(4, g, 0.0, 1.0)
    assert signal.abs().sum() == 0
    *_, signal = data.batch(4, g, 0.0, 0.0)
    assert (signal.flatten(1).abs().sum(1) > 0).all()


def test_the_cache_adds_signals_to_old_latents_without_encoding_again(tmp_path, tiny_vae, monkeypatch):
    from kinora.train.data import cache_world_shards, has_signals, load_bucket, save_bucket
    from kinora.world.dataset import write_dataset
    from kinora.world.signal import clip_signal
    from kinora.world.spec import ShotSpec, SpecDistribution

    write_dataset(tmp_path / "w", 3, seed=0, clips=False, progress=False, workers=1,
                  dist=SpecDistribution(duration=(1.125, 1.125), width=32, height=32))
    shards = sorted((tmp_path / "w" / "shards").glob("*.npz"))
    with np.load(shards[0]) as z:
        assert z["seg"].shape == z["frames"].shape[:4] and z["seg"].dtype == np.int8
    from kinora.models.vae import load_vae

    vae = load_vae(tiny_vae)
    cache = tmp_path / "cache"
    cache.mkdir()
    files = cache_world_shards(tmp_path / "w", vae, cache, max_frames=9)
    b = load_bucket(files[0])
    assert has_signals(files[0]) and b.signals.shape == (3, 8, 3, 8, 8)
    rec = json.loads((shards[0].with_suffix(".jsonl")).read_text().splitlines()[0])
    with np.load(shards[0]) as z:
        want = clip_signal(z["seg"][0, :9], ShotSpec.from_dict(rec["spec"]))
    assert torch.equal(b.signals[0], torch.from_numpy(want).half())
    # A cache written before the signal existed keeps its latents; only the signal is added.
    save_bucket(files[0], b.latents, b.captions)
    assert not has_signals(files[0])
    import kinora.train.data as data_mod

    monkeypatch.setattr(data_mod, "encode_videos", lambda *a, **k: pytest.fail("re-encoded a cached shard"))
    cache_world_shards(tmp_path / "w", vae, cache, max_frames=9)
    again = load_bucket(files[0])
    assert has_signals(files[0]) and torch.equal(again.latents, b.latents) and torch.equal(again.signals, b.signals)


def test_a_run_from_before_the_signal_cannot_resume_it(tmp_path):
    out = tmp_path / "run"
    s = TrainSettings.from_preset("tiny", str(out), synthetic=True, steps=1, quiet=True, threads=1)
    run(s)
    state = torch.load(out / "train_state.pt", weights_only=False)
    state["model"] = {k: v for k, v in state["model"].items() if not k.startswith("signal_embed.")}
    torch.save(state, out / "train_state.pt")
    with pytest.raises(KinoraError, match="from before the physics signal"):
        run(TrainSettings.from_preset("tiny", str(out), synthetic=True, steps=2, quiet=True, threads=1, resume=True))
