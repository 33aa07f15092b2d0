"""DiT training: synthetic smoke run, exact resume, world shards and real-video CSV caches, DDP on two CPU ranks."""

import json
import os
import socket

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp

from kinora.models.dit import load_dit, read_dit_metadata, save_dit
from kinora.errors import KinoraError
from kinora.train.dit import TrainSettings, bucket_size, lr_at, run, valid_frames




def settings(out, **kw):
    kw.setdefault("synthetic", True)
    return TrainSettings.from_preset("tiny", str(out), quiet=True, threads=1, **kw)


def states_equal(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_synthetic_run_writes_checkpoints_log_and_plot(tmp_path):
    model = run(settings(tmp_path, steps=3))
    for name in ("dit-tiny.safetensors", "dit-tiny-ema.safetensors", "train_state.pt", "log.jsonl", "loss.png"):
        assert (tmp_path / name).exists(), name
    log = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [1, 2, 3]
    assert all(np.isfinite(r["loss"]) and r["by_task"] for r in log)
    meta = read_dit_metadata(tmp_path / "dit-tiny-ema.safetensors")
    assert meta["preset"] == "tiny" and meta["ema"] is True and meta["step"] == 3
    assert meta["dit_config"] == model.cfg and meta["train_args"]["steps"] == 3
    assert meta["vae_config"]["latent_channels"] == model.cfg.latent_channels
    raw, _ = load_dit(tmp_path / "dit-tiny.safetensors")
    assert states_equal(raw.state_dict(), model.state_dict())


def test_training_fits_a_two_clip_world(tmp_path):
    # Two constant clips told apart only by their captions: the loss must fall far below
    # its starting value of about 2 (|eps - x0|^2 with unit-variance latents).
    from kinora.train.dit import Bucket, LatentData, TextBank

    C = 4
    lat = torch.stack([torch.ones(C, 3, 4, 4), -torch.ones(C, 3, 4, 4)]).half()
    g = torch.Generator().manual_seed(0)
    bank = TextBank.from_states(["", "up", "down"], [torch.randn(n, 384, generator=g) for n in (2, 3, 3)])
    data = LatentData([Bucket(lat, [["up"], ["down"]])], bank)
    s = settings(tmp_path, steps=120, lr=3e-3, batch_size=8, text_dropout=0.0, log_every=20)
    s.task_probs = {"t2v": 1.0}
    model = run(s, data=data)
    log = [json.loads(line)["loss"] for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert log[-1] < 0.3 * log[0]

    # ...and sampling the trained model with each caption gives that caption's clip.
    from kinora.diffusion.sampling import CFG, get_sigmas, sample_euler

    model = model.eval()
    text, mask = bank.lookup(["up", "down"])
    null, null_mask = bank.lookup(["", ""])
    z = torch.randn(2, C, 3, 4, 4, generator=torch.Generator().manual_seed(1))
    x = sample_euler(CFG(model, 2.0), z, get_sigmas(10),
                     {"cond": {"text": text, "text_mask": mask}, "uncond": {"text": null, "text_mask": null_mask}})
    assert x[0].mean() > 0.7 and x[1].mean() < -0.7


def test_resume_continues_exactly(tmp_path):
    straight = run(settings(tmp_path / "a", steps=4))
    run(settings(tmp_path / "b", steps=2))
    with open(tmp_path / "b" / "log.jsonl", "a") as f:  # as if it died after logging step 3, before saving it
        f.write(json.dumps({"step": 3, "loss": 9.0}) + "\n")
    resumed = run(settings(tmp_path / "b", steps=4, resume=True))
    assert states_equal(straight.state_dict(), resumed.state_dict())
    ema_a, _ = load_dit(tmp_path / "a" / "dit-tiny-ema.safetensors")
    ema_b, _ = load_dit(tmp_path / "b" / "dit-tiny-ema.safetensors")
    assert states_equal(ema_a.state_dict(), ema_b.state_dict())
    steps = [json.loads(line)["step"] for line in (tmp_path / "b" / "log.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4]  # step 3 logged once, by the resumed run


def test_warm_start_from_exported_weights(tmp_path):
    first = run(settings(tmp_path / "a", steps=3))
    warm = run(settings(tmp_path / "b", steps=3, init=str(tmp_path / "a")))  # already at step 3: no step taken
    for (k, v), (_, w) in zip(first.state_dict().items(), warm.state_dict().items()):
        assert torch.equal(v, w), k
    log = [json.loads(line) for line in (tmp_path / "b" / "log.jsonl").read_text().splitlines() if line] \
        if (tmp_path / "b" / "log.jsonl").exists() else []
    assert all(r["step"] > 3 for r in log)
    longer = run(settings(tmp_path / "c", steps=5, init=str(tmp_path / "a")))
    assert not torch.equal(next(iter(longer.state_dict().values())), next(iter(first.state_dict().values())))


def test_warm_start_from_another_vae_needs_allow_new_vae(tmp_path):
    run(settings(tmp_path / "a", steps=2))
    for name in ("dit-tiny.safetensors", "dit-tiny-ema.safetensors"):  # as if trained on another VAE
        model, meta = load_dit(tmp_path / "a" / name)
        meta.pop("dit_config")
        save_dit(tmp_path / "a" / name, model, {**meta, "vae_hash": "0123456789abcdef"})
    with pytest.raises(KinoraError, match="--allow-new-vae"):
        run(settings(tmp_path / "b", steps=3, init=str(tmp_path / "a")))
    tuned = run(settings(tmp_path / "c", steps=3, init=str(tmp_path / "a"), allow_new_vae=True))
    assert read_dit_metadata(tmp_path / "c" / "dit-tiny.safetensors")["vae_hash"] == "none"  # now this run's VAE
    assert not states_equal(tuned.state_dict(), load_dit(tmp_path / "a" / "dit-tiny.safetensors")[0].state_dict())


def test_learning_rate_warms_up_holds_and_cools_down():
    s = settings("/tmp/x", steps=100, lr=1e-3, warmup_steps=10, decay_steps=20, decay_to=0.1)
    assert lr_at(0, s) == pytest.approx(1e-4) and lr_at(9, s) == pytest.approx(1e-3)
    assert lr_at(50, s) == lr_at(79, s) == pytest.approx(1e-3)  # stable until the cool-down starts
    assert lr_at(80, s) < 1e-3 and lr_at(99, s) == pytest.approx(1e-4)
    assert all(lr_at(k + 1, s) <= lr_at(k, s) for k in range(80, 99))
    assert lr_at(99, settings("/tmp/x", steps=100, lr=1e-3, warmup_steps=10)) == pytest.approx(1e-3)
    with pytest.raises(KinoraError, match="--decay-steps"):
        settings("/tmp/x", steps=10, decay_steps=11)


def test_existing_run_is_not_overwritten(tmp_path):
    run(settings(tmp_path, steps=1))
    with pytest.raises(KinoraError, match="--resume"):
        run(settings(tmp_path, steps=1))


def test_settings_are_checked():
    with pytest.raises(KinoraError, match="exactly one data source"):
        TrainSettings.from_preset("tiny", "/tmp/x")
    with pytest.raises(KinoraError, match="1 \\+ 4k"):
        settings("/tmp/x", max_frames=8)
    with pytest.raises(KinoraError, match="unknown preset"):
        TrainSettings.from_preset("nope", "/tmp/x", synthetic=True)


def test_cli_errors_are_one_line(tmp_path, capsys):
    from kinora.cli import main

    assert main(["train", "--preset", "tiny", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "\n" not in err
    assert main(["train", "--preset", "tiny", "--out", str(tmp_path / "r"), "--data", str(tmp_path / "none"),
                 "--vae", str(tmp_path / "none.safetensors")]) == 2


def test_frames_and_buckets():
    assert [valid_frames(t, 33) for t in (1, 4, 5, 16, 17, 40)] == [1, 1, 5, 13, 17, 33]
    for h, w in [(720, 1280), (1080, 1920), (480, 480), (1280, 720), (600, 800)]:
        H, W = bucket_size(h, w, 64 * 64, 16)
        assert H % 16 == 0 and W % 16 == 0
        assert abs(np.log((W / H) / (w / h))) < 0.25  # aspect kept (roughly: whole patches)
        assert 0.7 < H * W / 4096 < 1.4
    assert bucket_size(720, 1280, 64 * 64, 16)[1] > bucket_size(720, 1280, 64 * 64, 16)[0]  # landscape stays landscape


@pytest.fixture(scope="module")
def tiny_vae(tmp_path_factory):
    from kinora.models.presets import VAE_PRESETS
    from kinora.models.vae import VideoVAE, save_vae

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("vae") / "vae-tiny.safetensors"
    save_vae(VideoVAE(VAE_PRESETS["tiny"]), path)
    return path


def test_world_shards_are_encoded_once_and_held_out_clips_skipped(tmp_path, tiny_vae, monkeypatch):
    shards = tmp_path / "world" / "shards"
    shards.mkdir(parents=True)
    rng = np.random.default_rng(0)
    np.savez(shards / "shard-00000.npz", frames=rng.integers(0, 255, (3, 10, 32, 32, 3), dtype=np.uint8))
    recs = [{"seed": 1, "captions": {"en": ["a red ball falls"], "zh": ["红色的球落下"], "canonical": "red ball falls"}},
            {"seed": 2, "captions": {"en": ["a blue cube slides left", "blue cube moving left"], "zh": [], "canonical": ""}},
            {"seed": 10_000_001, "captions": {"en": ["HELD OUT"], "zh": [], "canonical": "held out"}}]
    (shards / "shard-00000.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
    cache = tmp_path / "cache"
    run(settings(tmp_path / "run", synthetic=False, data=str(tmp_path / "world"), vae=str(tiny_vae),
                 cache=str(cache), steps=2))
    from kinora.train.dit import TextBank, load_bucket

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
    import kinora.train.dit as train_mod

    monkeypatch.setattr(train_mod, "encode_videos", lambda *a, **k: pytest.fail("re-encoded a cached shard"))
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
    from kinora.train.dit import load_bucket

    shapes = {}
    for f in sorted((tmp_path / "cache").glob("csv-*x*.safetensors")):
        b = load_bucket(f)
        shapes[b.captions[0][0]] = tuple(b.latents.shape[1:])
    # 24 frames at 16 fps -> every 2nd frame -> 12 -> 9 frames -> 3 latent frames; 16:9 bucket is wider than tall
    C, Fr, h, w = shapes["a wide shot, of a street"]
    assert (C, Fr) == (4, 3) and w > h
    assert shapes["a square clip"] == (4, 3, 8, 8)


def _ddp_worker(rank: int, world: int, port: int, out: str) -> None:
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    model = run(TrainSettings.from_preset("tiny", out, synthetic=True, steps=2, quiet=True, threads=1, device="cpu"))
    torch.save(model.state_dict(), os.path.join(out, f"rank{rank}.pt"))


def test_ddp_two_cpu_ranks_end_with_identical_weights(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp.spawn(_ddp_worker, args=(2, port, str(tmp_path)), nprocs=2, join=True)
    a = torch.load(tmp_path / "rank0.pt")
    b = torch.load(tmp_path / "rank1.pt")
    assert states_equal(a, b)
    from kinora.models.dit import DiT
    from kinora.models.presets import get_preset

    torch.manual_seed(0)
    init = DiT(get_preset("tiny").dit).state_dict()
    assert not states_equal(a, init)  # two steps really changed the weights
    assert len((tmp_path / "log.jsonl").read_text().splitlines()) == 2  # only rank 0 writes
