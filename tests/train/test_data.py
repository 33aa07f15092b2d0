"""Training data (kinora.train.data): frame counts and aspect buckets, world shards and real-video CSV
caches (encoded once, held-out clips skipped), synthetic latents, the VAE's clip pool and held-out clips."""

import json

import numpy as np
import pytest
import torch

from kinora.defaults import HELDOUT_SEED_BASE
from kinora.errors import KinoraError
from kinora.models.dit import read_dit_metadata
from kinora.train.data import bucket_size, to_video_tensor, valid_frames
from kinora.train.dit import TrainSettings, run


def settings(out, **kw):
    return TrainSettings.from_preset("tiny", str(out), quiet=True, threads=1, **kw)


def test_frames_and_buckets():
    assert [valid_frames(t, 33) for t in (1, 4, 5, 16, 17, 40)] == [1, 1, 5, 13, 17, 33]
    for h, w in [(720, 1280), (1080, 1920), (480, 480), (1280, 720), (600, 800)]:
        H, W = bucket_size(h, w, 64 * 64, 16)
        assert H % 16 == 0 and W % 16 == 0
        assert abs(np.log((W / H) / (w / h))) < 0.25  # aspect kept (roughly: whole patches)
        assert 0.7 < H * W / 4096 < 1.4
    assert bucket_size(720, 1280, 64 * 64, 16)[1] > bucket_size(720, 1280, 64 * 64, 16)[0]  # landscape stays landscape


def test_world_shards_are_encoded_once_and_held_out_clips_skipped(tmp_path, tiny_vae, monkeypatch):
    shards = tmp_path / "world" / "shards"
    shards.mkdir(parents=True)
    rng = np.random.default_rng(0)
    np.savez(shards / "shard-00000.npz", frames=rng.integers(0, 255, (3, 10, 32, 32, 3), dtype=np.uint8))
    recs = [{"seed": 1,
             "captions": {"en": ["a red ball falls"], "zh": ["红色的球落下"], "canonical": "red ball falls"}},
            {"seed": 2,
             "captions": {"en": ["a blue cube slides left", "blue cube moving left"], "zh": [], "canonical": ""}},
            {"seed": 10_000_001, "captions": {"en": ["HELD OUT"], "zh": [], "canonical": "held out"}}]
    (shards / "shard-00000.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
    cache = tmp_path / "cache"
    run(settings(tmp_path / "run", synthetic=False, data=str(tmp_path / "world"), vae=str(tiny_vae),
                 cache=str(cache), steps=2))
    from kinora.train.data import TextBank, load_bucket

    b = load_bucket(cache / "world-shard-00000.safetensors")
    assert b.latents.shape == (2, 4, 3, 4, 4)  # 10 frames -> 9 -> 3 latent frames; held-out clip skipped
    assert b.latents.dtype == torch.float16
    assert b.captions == [["a red ball falls", "red ball falls"], ["a blue cube slides left", "blue cube moving left"]]
    bank = TextBank.load(cache / "text")
    assert "" in bank.texts and "HELD OUT" not in bank.texts and "a red ball falls" in bank.texts
    s, m = bank.lookup(["a red ball falls", ""])
    assert s.shape[2] == 384 and m.sum(1)[1] == 2
    meta = read_dit_metadata(tmp_path / "run" / "dit-tiny.safetensors")
    assert len(meta["vae_hash"]) == 16 and meta["vae_path"] == str(tiny_vae)
    assert meta["vae_config"]["latent_channels"] == 4

    # A second run finds the caches and encodes nothing.
    import kinora.train.data as data_mod

    monkeypatch.setattr(data_mod, "encode_videos", lambda *a, **k: pytest.fail("re-encoded a cached shard"))
    run(settings(tmp_path / "run2", synthetic=False, data=str(tmp_path / "world"), vae=str(tiny_vae),
                 cache=str(cache), steps=1))


def test_real_videos_from_csv_keep_their_aspect(tmp_path, tiny_vae):
    from kinora.io.video import write_mp4

    rng = np.random.default_rng(0)
    write_mp4(rng.integers(0, 255, (24, 72, 128, 3), dtype=np.uint8), tmp_path / "wide.mp4", fps=16)
    write_mp4(rng.integers(0, 255, (12, 64, 64, 3), dtype=np.uint8), tmp_path / "square.mp4", fps=8)
    (tmp_path / "videos.csv").write_text('path,text\nwide.mp4,"a wide shot, of a street"\nsquare.mp4,a square clip\n')
    run(settings(tmp_path / "run", synthetic=False, data_csv=str(tmp_path / "videos.csv"), vae=str(tiny_vae),
                 cache=str(tmp_path / "cache"), steps=2, width=64, height=64, max_frames=17))
    from kinora.train.data import load_bucket

    shapes = {}
    for f in sorted((tmp_path / "cache").glob("csv-*x*.safetensors")):
        b = load_bucket(f)
        shapes[b.captions[0][0]] = tuple(b.latents.shape[1:])
    # 24 frames at 16 fps -> every 2nd frame -> 12 -> 9 frames -> 3 latent frames; 16:9 bucket is wider than tall
    C, Fr, h, w = shapes["a wide shot, of a street"]
    assert (C, Fr) == (4, 3) and w > h
    assert shapes["a square clip"] == (4, 3, 8, 8)


def test_video_tensor_layout_and_range():
    frames = np.random.default_rng(0).integers(0, 256, (2, 5, 8, 16, 3), dtype=np.uint8)
    x = to_video_tensor(frames)
    assert x.shape == (2, 3, 5, 8, 16) and x.dtype == torch.float32
    assert x.min() >= -1 and x.max() <= 1
    assert torch.equal(x[1, 2, 3], torch.from_numpy(frames[1, 3, ..., 2]).float() / 127.5 - 1.0)


def test_world_shards_need_a_folder_with_shards(tmp_path):
    from kinora.train.data import world_shards

    with pytest.raises(KinoraError, match="no such folder"):
        world_shards(tmp_path / "none")
    with pytest.raises(KinoraError, match="no shards in"):
        world_shards(tmp_path)
    (tmp_path / "shards").mkdir()
    np.savez(tmp_path / "shards" / "shard-00000.npz", frames=np.zeros((1, 1, 8, 8, 3), np.uint8))
    assert world_shards(tmp_path) == (tmp_path / "shards", ["shard-00000"])


def test_synthetic_data_has_two_aspects_and_the_empty_caption():
    from kinora.models.presets import get_preset
    from kinora.train.data import synthetic_data

    s = settings("/tmp/x", synthetic=True)
    data = synthetic_data(get_preset("tiny"), s, seed=0)
    assert len(data) == 16 and len({tuple(b.latents.shape[3:]) for b in data.buckets}) == 2
    assert "" in data.text.texts
    x0, text, mask, caps, _ = data.batch(3, torch.Generator().manual_seed(0), text_dropout=0.0, signal_dropout=1.0)
    assert x0.shape[0] == 3 and text.shape[:2] == mask.shape and all(caps)


def test_clip_pool_batches_are_one_shape_and_count_pixels():
    import random

    from kinora.train.data import ClipPool
    from kinora.train.vae import TrainConfig

    cfg = TrainConfig.from_preset("tiny", pool=3, steps=3)
    pool = ClipPool(cfg, random.Random(0))
    pool.add_simulated(3)
    assert pool.size() == 3 and pool.simulated
    for _ in range(4):
        x = pool.batch()
        B, C, T, H, W = x.shape
        assert C == 3 and T in (1, cfg.window) and -1 <= x.min() and x.max() <= 1
        assert B == max(1, round((cfg.image_pixels_per_step if T == 1 else cfg.pixels_per_step) / (T * H * W)))
    assert sorted(s for v in pool.state()["seeds"].values() for s in v) == [0, 1, 2]


def test_heldout_clips_are_the_heldout_seeds_and_cached(tmp_path):
    from kinora.train.data import heldout_clips, simulate_clip

    clips = heldout_clips(2, tmp_path / "h.npz", width=32, height=32, frames=5)
    assert clips.shape == (2, 5, 32, 32, 3) and (tmp_path / "h.npz").exists()
    assert np.array_equal(clips[1], simulate_clip(HELDOUT_SEED_BASE + 1, 32, 32, 5))
    assert np.array_equal(heldout_clips(1, tmp_path / "h.npz", width=32, height=32, frames=5), clips[:1])
