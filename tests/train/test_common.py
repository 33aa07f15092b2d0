"""What the two training loops share (kinora.train.common): EMA, the learning-rate schedule, per-step
seeding, log.jsonl and its plot, the input checks and the run folder that a failed run removes."""

import math

import pytest
import torch

from kinora.errors import KinoraError
from kinora.train import common


def test_ema_moves_towards_the_model_and_warms_up():
    ema, model = torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)
    before = [p.detach().clone() for p in ema.parameters()]
    common.ema_update(ema, model, 0.75)
    for b, e, m in zip(before, ema.parameters(), model.parameters()):
        assert torch.allclose(e, 0.75 * b + 0.25 * m)
    assert common.ema_decay_at(0, 0.999) == pytest.approx(0.1)  # early weights fade fast
    assert common.ema_decay_at(10**6, 0.999) == 0.999
    assert all(common.ema_decay_at(k + 1, 0.999) >= common.ema_decay_at(k, 0.999) for k in range(100))


def test_learning_rate_schedule():
    lr = lambda k, **kw: common.lr_at(k, 1e-3, **{"warmup_steps": 10, "steps": 100, **kw})  # noqa: E731
    assert lr(0) == pytest.approx(1e-4) and lr(9) == lr(50) == lr(99) == 1e-3  # no cool-down asked for
    assert common.lr_at(0, 1e-3, 0, 100) == 1e-3  # no warm-up
    assert lr(79, decay_steps=20) == 1e-3 and lr(99, decay_steps=20, decay_to=0.5) == pytest.approx(5e-4)
    # exactly the DiT's arithmetic before the move (the recorded losses depend on it)
    assert lr(3) == 1e-3 * min(1.0, 4 / 10)


def test_step_generators_depend_on_seed_rank_and_step():
    draw = lambda *a: torch.rand(3, generator=common.step_generator(*a))  # noqa: E731
    assert torch.equal(draw(0, 0, 5), draw(0, 0, 5))
    assert not torch.equal(draw(0, 0, 5), draw(0, 0, 6))
    assert not torch.equal(draw(0, 0, 5), draw(0, 1, 5)) and not torch.equal(draw(0, 0, 5), draw(1, 0, 5))
    draw(2**63 - 1, 7, 10**9)  # the largest seed still makes a generator


def test_log_append_read_keep_and_plot(tmp_path):
    path = tmp_path / "log.jsonl"
    assert common.read_log(path) == []
    for k in range(1, 5):
        common.append_log(path, {"step": k, "loss": 1.0 / k})
    common.append_log(path, {"step": 4, "psnr": 20.0})
    assert [r["step"] for r in common.read_log(path)] == [1, 2, 3, 4, 4]
    common.keep_log_until(path, 2)
    assert common.read_log(path) == [{"step": 1, "loss": 1.0}, {"step": 2, "loss": 0.5}]
    from PIL import Image

    panels = [common.Panel("loss", "loss", log_scale=True), common.Panel("psnr", "psnr", marks=True)]
    common.plot_log(common.read_log(path) + [{"step": 3, "psnr": 21.0}, {"step": 3, "loss": math.nan}],
                    tmp_path / "loss.png", panels)
    assert Image.open(tmp_path / "loss.png").size == (900, 720)
    common.plot_log([], tmp_path / "empty.png", panels[:1])  # an empty log still draws the frame
    assert Image.open(tmp_path / "empty.png").size == (900, 360)


@pytest.mark.parametrize("value, ok", [(1e-3, True), (0.0, False), (-1.0, False), (math.nan, False),
                                       (math.inf, False), ("1", False), (True, False)])
def test_check_number_positive(value, ok):
    if ok:
        common.check_number("--lr", value, 0, lo_open=True)
    else:
        with pytest.raises(KinoraError, match="--lr must be positive"):
            common.check_number("--lr", value, 0, lo_open=True)


def test_check_number_messages():
    with pytest.raises(KinoraError, match=r"--x must be in \[0, 1\), got 1"):
        common.check_number("--x", 1, 0, 1, hi_open=True)
    with pytest.raises(KinoraError, match="--x must be at least 1, got 0"):
        common.check_number("--x", 0, 1)
    with pytest.raises(KinoraError, match="--x must be 0 or more, got -1"):
        common.check_number("--x", -1, 0)
    common.check_number("--x", 0, 0)


def test_seed_threads_and_device_checks():
    common.check_seed(0)
    common.check_seed(2**63 - 1)
    for bad in (-1, 2**63, 2**64, 1.5):
        with pytest.raises(KinoraError, match="--seed"):
            common.check_seed(bad)
    common.check_threads(None)
    common.check_threads(1)
    with pytest.raises(KinoraError, match="--threads"):
        common.check_threads(0)
    common.check_device(None)
    common.check_device("cpu")
    for bad in ("gpu", "cuda:999", "meta"):
        with pytest.raises(KinoraError, match="--device"):
            common.check_device(bad)


def test_check_out(tmp_path):
    common.check_out(tmp_path / "new" / "run", resume=False)
    assert not (tmp_path / "new").exists()  # a check makes nothing
    (tmp_path / "f").write_text("x")
    with pytest.raises(KinoraError, match="is a file"):
        common.check_out(tmp_path / "f", resume=False)
    with pytest.raises(KinoraError, match="which is a file"):
        common.check_out(tmp_path / "f" / "run", resume=False)
    with pytest.raises(KinoraError, match="nothing to resume"):
        common.check_out(tmp_path, resume=True)
    (tmp_path / "train_state.pt").write_bytes(b"")
    common.check_out(tmp_path, resume=True)
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        with pytest.raises(KinoraError, match="read-only"):
            common.check_out(ro / "run", resume=False)
    finally:
        ro.chmod(0o755)
