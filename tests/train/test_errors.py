"""Errors at the boundary of `kinora train` and `kinora train-vae`: every wrong input is one line
`error: ...` (a KinoraError, or argparse for an option a command does not have), a non-zero exit,
no traceback, and no file or folder left behind: the run folder (and the folders above it that
the run would have made) does not exist afterwards."""

import json
import math

import numpy as np
import pytest
import torch

from kinora.cli import main
from kinora.errors import KinoraError

DIT = ["train", "--preset", "tiny", "--synthetic", "--steps", "1", "--threads", "1", "--quiet"]
DIT_NO_DATA = [a for a in DIT if a != "--synthetic"]
VAE = ["train-vae", "--preset", "tiny", "--steps", "1", "--pool", "3", "--eval-clips", "1", "--eval-every", "1",
       "--threads", "1"]


@pytest.fixture
def ctx(tmp_path, tiny_vae):
    """Paths the cases need: a file, a read-only folder, shards-less folders, wrong-preset weights."""
    from kinora.models.dit import DiT, save_dit
    from kinora.models.presets import get_preset
    from kinora.models.vae import VideoVAE, save_vae

    (tmp_path / "a-file").write_text("not a folder")
    (tmp_path / "empty").mkdir()
    (tmp_path / "ro").mkdir()
    wrong = tmp_path / "wrong-preset"
    wrong.mkdir()
    torch.manual_seed(0)
    save_dit(wrong / "dit-tiny.safetensors", DiT(get_preset("tiny").dit), {"preset": "small", "step": 1})
    save_vae(VideoVAE(get_preset("tiny").vae), tmp_path / "vae-tiny.safetensors")
    (tmp_path / "ro").chmod(0o555)
    yield {"t": tmp_path, "vae": str(tiny_vae)}
    (tmp_path / "ro").chmod(0o755)


def dit_real(c):  # a DiT run on real data (not --synthetic) needs a VAE
    return DIT_NO_DATA + ["--vae", c["vae"]]


# (case id, command line without --out, what the message names); `c` is the ctx fixture.
CASES = [
    ("dit-lr-nan", lambda c: DIT + ["--lr", "nan"], "--lr must be positive"),
    ("dit-lr-inf", lambda c: DIT + ["--lr", "inf"], "--lr must be positive"),
    ("dit-lr-zero", lambda c: DIT + ["--lr", "0"], "--lr must be positive"),
    ("dit-lr-negative", lambda c: DIT + ["--lr=-1e-3"], "--lr must be positive"),
    ("dit-threads-0", lambda c: DIT + ["--threads", "0"], "--threads must be at least 1"),
    ("dit-threads-negative", lambda c: DIT + ["--threads=-2"], "--threads must be at least 1"),
    ("dit-device-no-such-gpu", lambda c: DIT + ["--device", "cuda:99"], "--device cuda:99"),
    ("dit-device-not-a-device", lambda c: DIT + ["--device", "gpu"], "--device 'gpu' is not a device"),
    ("dit-steps-0", lambda c: DIT + ["--steps", "0"], "--steps must be at least 1"),
    ("dit-steps-negative", lambda c: DIT + ["--steps=-5"], "--steps must be at least 1"),
    ("dit-batch-size-negative", lambda c: DIT + ["--batch-size=-1"], "--batch-size must be at least 1"),
    ("dit-warmup-negative", lambda c: DIT + ["--warmup-steps=-1"], "--warmup-steps must be 0 or more"),
    ("dit-weight-decay-negative", lambda c: DIT + ["--weight-decay=-0.1"], "--weight-decay must be 0 or more"),
    ("dit-ema-decay-above-1", lambda c: DIT + ["--ema-decay", "1.5"], "--ema-decay must be in [0, 1]"),
    ("dit-decay-steps-negative", lambda c: DIT + ["--decay-steps=-1"], "--decay-steps must be 0 or more"),
    ("dit-decay-to-nan", lambda c: DIT + ["--decay-to", "nan"], "--decay-to must be in [0, 1]"),
    ("dit-generate-negative", lambda c: DIT_NO_DATA + ["--generate=-3"], "--generate must be 0 or more"),
    ("dit-seed-negative", lambda c: DIT + ["--seed=-1"], "--seed must be"),
    ("dit-seed-beyond-64-bits", lambda c: DIT + ["--seed", str(2 ** 64)], "--seed must be"),
    ("dit-resume-nothing", lambda c: DIT + ["--resume"], "nothing to resume"),
    ("dit-init-missing-folder", lambda c: DIT + ["--init", str(c["t"] / "none")], "--init"),
    ("dit-init-without-weights", lambda c: DIT + ["--init", str(c["t"] / "empty")], "no DiT checkpoint"),
    ("dit-init-a-file", lambda c: DIT + ["--init", str(c["t"] / "a-file")], "is a file, not a folder"),
    ("dit-init-wrong-preset", lambda c: DIT + ["--init", str(c["t"] / "wrong-preset")], "'small' model, not 'tiny'"),
    ("dit-data-missing", lambda c: dit_real(c) + ["--data", str(c["t"] / "none")], "--data"),
    ("dit-data-no-shards", lambda c: dit_real(c) + ["--data", str(c["t"] / "empty")], "no shards in"),
    ("dit-data-csv-missing", lambda c: dit_real(c) + ["--data-csv", str(c["t"] / "none.csv")], "--data-csv"),
    ("dit-vae-missing", lambda c: DIT_NO_DATA + ["--generate", "2", "--vae", str(c["t"] / "none.safetensors")],
     "no VAE weights"),
    ("dit-cache-under-a-file", lambda c: DIT + ["--cache", str(c["t"] / "a-file" / "cache")], "a-file"),
    ("vae-lr-nan", lambda c: VAE + ["--lr", "nan"], "--lr must be positive"),
    ("vae-lr-inf", lambda c: VAE + ["--lr", "inf"], "--lr must be positive"),
    ("vae-lr-zero", lambda c: VAE + ["--lr", "0"], "--lr must be positive"),
    ("vae-lr-negative", lambda c: VAE + ["--lr=-1"], "--lr must be positive"),
    ("vae-threads-0", lambda c: VAE + ["--threads", "0"], "--threads must be at least 1"),
    ("vae-has-no-device-option", lambda c: VAE + ["--device", "cuda"], "unrecognized arguments: --device"),
    ("vae-steps-0", lambda c: VAE + ["--steps", "0"], "--steps must be at least 1"),
    ("vae-steps-negative", lambda c: VAE + ["--steps=-1"], "--steps must be at least 1"),
    ("vae-pool-0", lambda c: VAE + ["--pool", "0"], "--pool must be at least 1"),
    ("vae-eval-clips-0", lambda c: VAE + ["--eval-clips", "0"], "--eval-clips must be at least 1"),
    ("vae-eval-every-negative", lambda c: VAE + ["--eval-every=-1"], "--eval-every must be at least 1"),
    ("vae-edge-weight-negative", lambda c: VAE + ["--edge-weight=-1"], "--edge-weight must be 0 or more"),
    ("vae-seed-negative", lambda c: VAE + ["--seed=-1"], "--seed must be"),
    ("vae-seed-beyond-64-bits", lambda c: VAE + ["--seed", str(2 ** 64)], "--seed must be"),
    ("vae-resume-nothing", lambda c: VAE + ["--resume"], "nothing to resume"),
    ("vae-init-missing", lambda c: VAE + ["--init", str(c["t"] / "none.safetensors")], "VAE checkpoint not found"),
    ("vae-init-a-folder", lambda c: VAE + ["--init", str(c["t"] / "empty")], "VAE checkpoint"),
    ("vae-init-wrong-preset", lambda c: [a if a != "tiny" else "small" for a in VAE]
     + ["--init", str(c["t"] / "vae-tiny.safetensors")], "is not a 'small' VAE; pass its --preset"),
    ("vae-decoder-only-without-init", lambda c: VAE + ["--decoder-only"], "--decoder-only fine-tunes"),
    ("vae-data-missing", lambda c: VAE + ["--data", str(c["t"] / "none")], "--data"),
    ("vae-data-no-shards", lambda c: VAE + ["--data", str(c["t"] / "empty")], "no shards in"),
]


def cli(argv: list[str]) -> int:
    """kinora.cli.main in-process; argparse's own errors exit (one line too, exit 2)."""
    try:
        return main(argv)
    except SystemExit as e:
        return e.code


def check_one_line_error(capsys, rc: int, expected: str) -> str:
    cap = capsys.readouterr()
    err = cap.err.strip()
    assert rc != 0
    assert err.startswith("error:") and "\n" not in err, err
    assert "Traceback" not in cap.err + cap.out
    assert expected in err, err
    return err


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_inputs_fail_in_one_line_and_leave_nothing(case, ctx, capsys):
    _, argv, expected = case
    out = ctx["t"] / "runs" / "run"  # neither folder exists yet
    rc = cli(argv(ctx) + ["--out", str(out)])
    check_one_line_error(capsys, rc, expected)
    assert not (ctx["t"] / "runs").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
@pytest.mark.parametrize("device", ["cuda", "cuda:0"])
def test_an_unavailable_gpu_is_refused(device, ctx, capsys):
    out = ctx["t"] / "runs" / "run"
    rc = cli(DIT + ["--device", device, "--out", str(out)])
    check_one_line_error(capsys, rc, "no usable CUDA GPU")
    assert not (ctx["t"] / "runs").exists()


@pytest.mark.parametrize("command", [DIT, VAE], ids=["dit", "vae"])
def test_out_that_is_a_file_or_under_one_or_read_only(command, ctx, capsys):
    t = ctx["t"]
    check_one_line_error(capsys, cli(command + ["--out", str(t / "a-file")]), "is a file")
    assert (t / "a-file").read_text() == "not a folder"
    check_one_line_error(capsys, cli(command + ["--out", str(t / "a-file" / "run")]), "which is a file")
    check_one_line_error(capsys, cli(command + ["--out", str(t / "ro" / "deep" / "run")]), "read-only")
    assert not (t / "ro" / "deep").exists()


@pytest.mark.parametrize("command", [DIT, VAE], ids=["dit", "vae"])
def test_resume_in_an_empty_folder_says_so_and_keeps_the_folder(command, ctx, capsys):
    empty = ctx["t"] / "empty"
    err = check_one_line_error(capsys, cli(command + ["--out", str(empty), "--resume"]), "nothing to resume")
    assert str(empty) in err and "drop --resume" in err
    assert empty.is_dir() and not any(empty.iterdir())  # not made by this run: left as it was


def test_a_failure_after_the_folder_was_made_still_leaves_no_empty_folder(ctx, capsys):
    # A CSV without the 'path,text' header is found out only once the cache folder is made.
    bad = ctx["t"] / "bad.csv"
    bad.write_text("file,caption\nx.mp4,a clip\n")
    out = ctx["t"] / "runs" / "run"
    rc = cli(dit_real(ctx) + ["--data-csv", str(bad), "--out", str(out)])
    check_one_line_error(capsys, rc, "needs a header 'path,text'")
    assert not (ctx["t"] / "runs").exists()


def test_the_library_raises_before_writing(ctx):
    """In code the same checks raise KinoraError (the CLI prints them)."""
    from kinora.train.dit import TrainSettings, run
    from kinora.train.vae import TrainConfig, train

    out = ctx["t"] / "runs" / "run"
    with pytest.raises(KinoraError, match="--lr"):
        TrainSettings.from_preset("tiny", str(out), synthetic=True, lr=math.nan)
    s = TrainSettings.from_preset("tiny", str(out), synthetic=True, quiet=True, steps=1, threads=1)
    s.threads = 0  # changed after it was checked: run checks again
    with pytest.raises(KinoraError, match="--threads"):
        run(s)
    s.threads, s.resume = 1, True
    with pytest.raises(KinoraError, match="nothing to resume"):
        run(s)
    cfg = TrainConfig.from_preset("tiny", pool=3, steps=1, eval_clips=1)
    cfg.lr = math.inf
    with pytest.raises(KinoraError, match="--lr"):
        train(cfg, out, quiet=True)
    cfg.lr = 1e-3
    with pytest.raises(KinoraError, match="no shards in"):
        train(cfg, out, data=str(ctx["t"] / "empty"), quiet=True)
    assert not (ctx["t"] / "runs").exists()


def test_vae_eval_and_export_errors_are_one_line(ctx, capsys):
    t = ctx["t"]
    check_one_line_error(capsys, cli(["train-vae", "--eval", str(t / "none.safetensors")]), "VAE checkpoint not found")
    check_one_line_error(capsys, cli(["train-vae", "--eval", str(t / "vae-tiny.safetensors"), "--eval-size", "64"]),
                         "--eval-size")
    check_one_line_error(capsys, cli(["train-vae", "--eval", str(t / "vae-tiny.safetensors"), "--eval-clips", "0"]),
                         "--eval-clips must be at least 1")
    check_one_line_error(capsys, cli(["train-vae", "--steps", "1"]), "--out is required")
    check_one_line_error(capsys, cli(["train-vae", "--out", str(t / "runs"), "--export"]), "to export from")
    assert not (t / "runs").exists()


def test_a_good_run_after_refusals_still_works(ctx):
    """The checks refuse bad inputs only: the same command with good ones trains."""
    out = ctx["t"] / "runs" / "ok"
    assert main(DIT + ["--out", str(out)]) == 0
    assert (out / "dit-tiny-ema.safetensors").exists()
    log = (out / "log.jsonl").read_text().splitlines()
    assert len(log) == 1 and np.isfinite(json.loads(log[0])["loss"])
