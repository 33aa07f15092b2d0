"""FSDP2 training (kinora.train.dit with --fsdp, kinora.train.distributed) on two CPU ranks
(gloo, spawned once for the module): the loss of every step matches one process, a resume on
the same two ranks is bit-exact, and train_state.pt moves between rank counts (two ranks to
one process and back) with every tensor as saved, then trains on as an uninterrupted run.

What "resume across rank counts" means exactly: every rank count draws the same global batch
(one generator per (seed, step)), so N ranks and one process train on the same data and
differ only by float rounding (the gradient is summed over the ranks in another order). A
checkpoint loads into any rank count bit for bit; the run it continues is the uninterrupted
one up to that rounding (losses within 1e-4 here, weights within a few 1e-6).
"""

import json
import os
import shutil
import socket

import pytest
import torch
import torch.multiprocessing as mp

from kinora.train.dit import TrainSettings, run

STEPS, HALF = 6, 3
LOSS_TOL = 1e-4  # the bound; measured differences are below 1e-6 (the log's rounding)


def settings(out, **kw) -> TrainSettings:
    kw.setdefault("steps", STEPS)
    # fp32: the bounds are float rounding apart; bf16 autocast would round a rank's half-batch
    # differently from the whole batch's
    return TrainSettings.from_preset("tiny", str(out), synthetic=True, quiet=True, threads=1, device="cpu",
                                     ckpt_every=HALF, precision="fp32", **kw)


def losses(folder) -> list[float]:
    return [json.loads(line)["loss"] for line in (folder / "log.jsonl").read_text().splitlines()]


def tensors(state: dict) -> dict[str, torch.Tensor]:
    """Every tensor of a train_state.pt by a flat name: model, EMA, AdamW moments and steps."""
    flat = {f"{part}.{k}": v for part in ("model", "ema") for k, v in state[part].items()}
    flat.update({f"optimizer.{i}.{k}": v for i, s in state["optimizer"]["state"].items() for k, v in s.items()})
    return flat


def load(folder) -> dict:
    return torch.load(folder / "train_state.pt", weights_only=False)


def assert_same_state(a: dict, b: dict) -> None:
    ta, tb = tensors(a), tensors(b)
    assert ta.keys() == tb.keys()
    differ = [k for k in ta if not torch.equal(ta[k], tb[k])]
    assert not differ, f"{len(differ)} tensors differ, e.g. {differ[:3]}"
    assert a["step"] == b["step"] and a["optimizer"]["param_groups"] == b["optimizer"]["param_groups"]


def max_difference(a: dict, b: dict) -> float:
    ta, tb = tensors(a), tensors(b)
    return max((ta[k].float() - tb[k].float()).abs().max().item() for k in ta)


SPAWN_LIMIT_S = 240  # the two-rank runs take 8-20 s here

def free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def _worker(rank: int, world: int, ports: list[int], root: str) -> None:
    """Every two-rank run of the module, one port each (a rank count of 2 via torchrun's variables)."""
    import torch.distributed as dist

    from kinora.models.dit import DiT
    from kinora.models.presets import get_preset
    from kinora.train.distributed import full_state, load_full_state, shard

    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank), MASTER_ADDR="127.0.0.1")
    torch.set_num_threads(1)
    root = os.path.abspath(root)

    def launch(k: int, name: str, fsdp: bool = True, **kw) -> torch.nn.Module:
        os.environ["MASTER_PORT"] = str(ports[k])
        return run(settings(os.path.join(root, name), fsdp=fsdp, **kw))

    # 1. Six steps straight; each rank keeps the model run() returned.
    model = launch(0, "fsdp6")
    torch.save(model.state_dict(), os.path.join(root, f"returned-rank{rank}.pt"))
    # 2. Three steps (the checkpoint is kept for the one-process resume), then three more.
    launch(1, "fsdp3", steps=HALF)
    if rank == 0:  # before rank 0 joins the next run, so rank 1 waits for it
        shutil.copytree(os.path.join(root, "fsdp3"), os.path.join(root, "fsdp3-kept"))
    launch(2, "fsdp3", resume=True)
    # 3. A one-process run's checkpoint (step 3), resumed on two ranks.
    launch(3, "plain3", resume=True)
    # 4. DDP, which draws and weighs the batch as FSDP does.
    launch(4, "ddp6", fsdp=False)
    # 5. The one-process checkpoint loaded into two shards and gathered back, nothing trained.
    os.environ["MASTER_PORT"] = str(ports[5])
    dist.init_process_group("gloo")
    try:
        preset = get_preset("tiny")
        net = DiT(preset.dit)
        ema = DiT(preset.dit).requires_grad_(False)
        shard([net, ema], torch.device("cpu"), world)
        opt = torch.optim.AdamW(net.parameters(), lr=1.0)
        state = torch.load(os.path.join(root, "plain3-kept", "train_state.pt"), weights_only=False)
        load_full_state(net, ema, opt, state)
        m, e, o = full_state(net, ema, opt)
        if rank == 0:
            torch.save({**state, "model": m, "ema": e, "optimizer": o}, os.path.join(root, "roundtrip.pt"))
    finally:
        dist.destroy_process_group()


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The folders of every run: one process (plain6, plain3-kept) and two ranks (the rest);
    plain3 is resumed on two ranks to step 6."""
    import time

    root = tmp_path_factory.mktemp("fsdp")
    run(settings(root / "plain6"))
    run(settings(root / "plain3", steps=HALF))
    shutil.copytree(root / "plain3", root / "plain3-kept")
    t0 = time.perf_counter()
    ranks = mp.spawn(_worker, args=(2, free_ports(6), str(root)), nprocs=2, join=False)
    while not ranks.join(timeout=5):  # a hung collective fails the test instead of stalling the suite
        if time.perf_counter() - t0 > SPAWN_LIMIT_S:
            for p in ranks.processes:
                p.kill()
            pytest.fail(f"the two-rank runs did not finish in {SPAWN_LIMIT_S} s (a hung collective)")
    print(f"two-rank runs: {time.perf_counter() - t0:.1f} s")
    return root


def test_two_ranks_match_one_process_at_every_step(runs):
    one, two = losses(runs / "plain6"), losses(runs / "fsdp6")
    assert len(one) == len(two) == STEPS
    assert two == pytest.approx(one, abs=LOSS_TOL)
    assert max_difference(load(runs / "plain6"), load(runs / "fsdp6")) < 1e-4  # weights, EMA, moments
    # The log by task is over the whole batch too, not rank 0's half.
    by_task = [json.loads(line)["by_task"] for line in (runs / "fsdp6" / "log.jsonl").read_text().splitlines()]
    plain = [json.loads(line)["by_task"] for line in (runs / "plain6" / "log.jsonl").read_text().splitlines()]
    assert [sorted(b) for b in by_task] == [sorted(b) for b in plain]
    for b, p in zip(by_task, plain):
        assert b == pytest.approx(p, abs=LOSS_TOL)


def test_ddp_matches_one_process_too(runs):
    assert losses(runs / "ddp6") == pytest.approx(losses(runs / "plain6"), abs=LOSS_TOL)
    assert max_difference(load(runs / "ddp6"), load(runs / "fsdp6")) < 1e-4


def test_every_rank_returns_the_full_trained_model(runs):
    from kinora.models.dit import load_dit

    a, b = (torch.load(runs / f"returned-rank{r}.pt") for r in (0, 1))
    saved = load_dit(runs / "fsdp6" / "dit-tiny.safetensors")[0].state_dict()
    assert a.keys() == b.keys() == saved.keys()
    assert all(torch.equal(a[k], b[k]) and torch.equal(a[k], saved[k]) for k in a)
    assert all(torch.equal(a[k], v) for k, v in load(runs / "fsdp6")["model"].items())


def test_resume_on_the_same_two_ranks_is_bit_exact(runs):
    assert_same_state(load(runs / "fsdp3"), load(runs / "fsdp6"))
    assert losses(runs / "fsdp3") == losses(runs / "fsdp6")


def test_two_rank_checkpoint_resumes_in_one_process(runs, tmp_path):
    from kinora.models.dit import DiT
    from kinora.models.presets import get_preset

    kept = load(runs / "fsdp3-kept")
    assert kept["step"] == HALF
    # The plain format: a plain model, EMA and AdamW take it strictly and give back every tensor.
    model, ema = DiT(get_preset("tiny").dit), DiT(get_preset("tiny").dit)
    opt = torch.optim.AdamW(model.parameters())
    model.load_state_dict(kept["model"])
    ema.load_state_dict(kept["ema"])
    opt.load_state_dict(kept["optimizer"])
    assert_same_state(kept, {**kept, "model": model.state_dict(), "ema": ema.state_dict(),
                             "optimizer": opt.state_dict()})
    # ...and training goes on in one process, plain or --fsdp on a one-rank group, alike.
    for fsdp in (False, True):
        folder = tmp_path / f"fsdp{fsdp}"
        shutil.copytree(runs / "fsdp3-kept", folder)
        run(settings(folder, resume=True, fsdp=fsdp))
        assert losses(folder) == pytest.approx(losses(runs / "fsdp6"), abs=LOSS_TOL)
        assert losses(folder) == pytest.approx(losses(runs / "plain6"), abs=LOSS_TOL)
        assert max_difference(load(folder), load(runs / "fsdp6")) < 1e-4
    assert_same_state(load(tmp_path / "fsdpFalse"), load(tmp_path / "fsdpTrue"))


def test_one_process_checkpoint_loads_into_two_ranks_exactly(runs):
    assert_same_state(torch.load(runs / "roundtrip.pt", weights_only=False), load(runs / "plain3-kept"))
    # ...and two ranks train on from it as the one process did.
    assert losses(runs / "plain3") == pytest.approx(losses(runs / "plain6"), abs=LOSS_TOL)
    assert max_difference(load(runs / "plain3"), load(runs / "plain6")) < 1e-4


def test_fsdp_in_one_process_is_the_plain_run(runs, tmp_path):
    run(settings(tmp_path, fsdp=True))
    assert losses(tmp_path) == losses(runs / "plain6")
    assert_same_state(load(tmp_path), load(runs / "plain6"))


def test_fsdp_on_a_device_without_gloo_or_nccl_is_one_line(tmp_path, capsys):
    from kinora.cli import main

    out = tmp_path / "runs" / "run"
    rc = main(["train", "--preset", "tiny", "--synthetic", "--steps", "1", "--fsdp", "--device", "mps",
               "--out", str(out)])
    cap = capsys.readouterr()
    err = cap.err.strip()
    assert rc != 0 and err.startswith("error: --fsdp") and "\n" not in err, err
    assert "Traceback" not in cap.err + cap.out
    assert not (tmp_path / "runs").exists()
