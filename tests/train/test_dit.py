"""DiT training (kinora.train.dit): synthetic smoke run, fitting a two-clip world, exact resume, warm
starts, the learning-rate schedule of a run, its settings and one-line CLI errors, DDP on two CPU
ranks, bf16 and compiled blocks. The data and its caches are tests/train/test_data.py; the boundary
errors test_errors.py."""

import json
import os
import socket

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp

from kinora.errors import KinoraError
from kinora.models.dit import cxx_compiler, load_dit, read_dit_metadata, save_dit
from kinora.train.dit import TrainSettings, run


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
    from kinora.train.data import Bucket, LatentData, TextBank

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
    assert s.lr_at(0) == pytest.approx(1e-4) and s.lr_at(9) == pytest.approx(1e-3)
    assert s.lr_at(50) == s.lr_at(79) == pytest.approx(1e-3)  # stable until the cool-down starts
    assert s.lr_at(80) < 1e-3 and s.lr_at(99) == pytest.approx(1e-4)
    assert all(s.lr_at(k + 1) <= s.lr_at(k) for k in range(80, 99))
    assert settings("/tmp/x", steps=100, lr=1e-3, warmup_steps=10).lr_at(99) == pytest.approx(1e-3)
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


def test_bf16_training_run_trains_fp32_weights_and_records_its_precision(tmp_path, monkeypatch):
    from kinora.models import precision

    monkeypatch.setattr(precision, "bf16_units", lambda: True)  # the autocast path on any CPU
    fp32 = run(settings(tmp_path / "a", steps=2, precision="fp32"))
    bf16 = run(settings(tmp_path / "b", steps=2))  # auto: bf16 where the units are
    assert bf16.train_compute == torch.bfloat16 and fp32.train_compute == torch.float32
    assert all(p.dtype == torch.float32 for p in bf16.parameters())
    meta = read_dit_metadata(tmp_path / "b" / "dit-tiny-ema.safetensors")
    assert meta["train_args"]["precision"] == "bf16"
    la, lb = ([json.loads(line)["loss"] for line in (tmp_path / r / "log.jsonl").read_text().splitlines()]
              for r in "ab")
    assert lb != la and all(abs(x - y) / x < 0.02 for x, y in zip(la, lb))  # same batches, bf16 rounding apart
    with pytest.raises(KinoraError, match="--precision must be one of auto, fp32, bf16"):
        settings(tmp_path / "c", precision="fp16")


def losses_of(folder) -> list[float]:
    return [json.loads(line)["loss"] for line in (folder / "log.jsonl").read_text().splitlines()]


@pytest.mark.skipif(not cxx_compiler(), reason="torch.compile on CPU needs a C++ compiler")
def test_compiled_blocks_train_like_eager_ones_and_keep_the_checkpoint_names(tmp_path):
    eager = run(settings(tmp_path / "a", steps=3, precision="fp32"))
    compiled = run(settings(tmp_path / "b", steps=3, precision="fp32", compile=True))
    assert compiled.blocks[0]._compiled_call_impl is not None and eager.blocks[0]._compiled_call_impl is None
    la, lb = losses_of(tmp_path / "a"), losses_of(tmp_path / "b")
    assert len(la) == 3 and all(abs(x - y) / x < 1e-3 for x, y in zip(la, lb))  # the same run, fused kernels
    sa = load_dit(tmp_path / "a" / "dit-tiny-ema.safetensors")[0].state_dict()
    sb = load_dit(tmp_path / "b" / "dit-tiny-ema.safetensors")[0].state_dict()
    assert sa.keys() == sb.keys()
    assert max((sa[k].float() - sb[k].float()).abs().max().item() for k in sa) < 1e-3


def test_compile_without_a_cxx_compiler_warns_once_and_trains_eagerly(tmp_path, monkeypatch):
    import warnings

    from kinora.models import dit as dit_module
    from kinora.models.precision import warn_once

    monkeypatch.setattr(dit_module, "cxx_compiler", lambda: None)
    warn_once.cache_clear()
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        model = run(settings(tmp_path / "a", steps=1, compile=True))
    assert model.blocks[0]._compiled_call_impl is None
    assert len([x for x in w if "needs a C++ compiler" in str(x.message)]) == 1
    assert len(losses_of(tmp_path / "a")) == 1
    with pytest.raises(KinoraError, match="--compile with --fsdp is not supported"):
        settings(tmp_path / "c", compile=True, fsdp=True)
