"""`kinora generate` / `kinora demo` with the shipped model: labeled output, clear errors."""

import json

import numpy as np
import pytest
from PIL import Image

from kinora.cli import main


def _run(argv, capsys):
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_demo_output_passes_inspect(tmp_path, capsys):
    out = tmp_path / "demo.mp4"
    code, stdout, _ = _run(["demo", "-o", str(out), "--seconds", "1"], capsys)
    assert code == 0 and out.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["demo.mp4"]  # every MP4 it writes is labeled
    code, stdout, _ = _run(["inspect", str(out), "--json"], capsys)
    report = json.loads(stdout)
    assert code == 0 and report["ok"] and report["aigc"]["Label"] == "1"
    assert report["provenance"]["task"] == "t2v"


def test_image_to_video_from_the_cli(tmp_path, capsys):
    img = np.zeros((64, 64, 3), np.uint8) + 128
    Image.fromarray(img).save(tmp_path / "first.png")
    out = tmp_path / "i2v.mp4"
    code, _, _ = _run(["generate", "a red ball rolls left", "--image", str(tmp_path / "first.png"),
                       "--seconds", "1", "-o", str(out)], capsys)
    assert code == 0 and out.exists()


def test_inpaint_a_region_from_the_cli(tmp_path, capsys):
    from kinora.io.video import read_video, write_mp4

    # A magenta clip (nothing the model would draw): the edited box turns into the
    # micro-world, the rest stays magenta.
    src, out = tmp_path / "src.mp4", tmp_path / "edit.mp4"
    write_mp4(np.zeros((8, 64, 64, 3), np.uint8) + np.array([255, 0, 255], np.uint8), src, fps=8)
    code, _, _ = _run(["generate", "a blue cube stays still", "--video", str(src), "--edit-region", "0,0,0.5,1",
                       "--edit-time", "0:0.5", "-o", str(out)], capsys)
    assert code == 0
    b = read_video(out)[0].astype(float)  # (8, 256, 256, 3): upscaled for the visible label
    magenta = np.array([255, 0, 255], float)
    W = b.shape[2]
    kept = np.abs(b[:, 64:, W // 2 + 8:] - magenta).mean()  # off the box's edge and the label
    assert kept < 6, kept
    assert np.abs(b[:4, 64:, : W // 2 - 8] - magenta).mean() > 60  # frames 0-3: regenerated
    assert np.abs(b[4:, 64:, : W // 2 - 8] - magenta).mean() < 6  # frames 4-7: outside --edit-time
    code, stdout, _ = _run(["inspect", str(out), "--json"], capsys)
    assert code == 0 and json.loads(stdout)["provenance"]["task"] == "inpaint"


@pytest.mark.parametrize("argv, message", [
    (["generate", "a red ball", "--edit-region", "0,0,1,1"], "an edit region needs the video"),
    (["generate", "a red ball", "--edit-time", "0:1"], "--edit-time needs --edit-region"),
    (["generate", "   "], "prompt is empty"),
    (["generate", "a red ball", "--seconds", "0"], "--seconds 0"),
    (["generate", "a red ball", "--seconds", "100000"], "--seconds"),
    (["generate", "a red ball", "--size", "50"], "--size 50x50 is not supported"),
    (["generate", "a red ball", "--image", "{tmp}/missing.png"], "image not found"),
    (["generate", "a red ball", "--image", "{tmp}/bad.png"], "cannot read image"),
    (["generate", "a red ball", "--video", "{tmp}/bad.mp4"], "cannot read video"),
    (["generate", "a red ball", "-o", "{tmp}/x.avi"], "must end in .mp4"),
])
def test_bad_input_one_line_no_output(tmp_path, capsys, argv, message):
    (tmp_path / "bad.png").write_text("not an image")
    (tmp_path / "bad.mp4").write_text("not a video")
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    if "-o" not in argv:
        argv += ["-o", str(tmp_path / "out.mp4")]
    code, _, err = _run(argv, capsys)
    assert code == 2 and message in err and err.startswith("error: ") and err.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.mp4", "bad.png"]


def test_settings_and_threads_are_recorded_and_outputs_are_not_overwritten(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    argv = ["generate", "a red ball rolls left", "--seconds", "1", "--steps", "2", "--threads", "1", "--seed", "7"]
    code, stdout, _ = _run(argv, capsys)
    first = tmp_path / "out" / "generated.mp4"
    assert code == 0 and first.exists() and "task t2v" in stdout
    code, stdout, _ = _run(["inspect", str(first), "--json"], capsys)
    prov = json.loads(stdout)["provenance"]
    assert prov["seed"] == 7 and prov["settings"]["threads"] == 1 and prov["settings"]["steps"] == 2
    assert prov["settings"]["frames"] == 8 and prov["settings"]["fps"] == 8
    # The default name moves on; an explicit existing name needs --force.
    before = first.read_bytes()
    assert _run(argv, capsys)[0] == 0 and (tmp_path / "out" / "generated-2.mp4").exists()
    code, _, err = _run(argv + ["-o", str(first)], capsys)
    assert code == 2 and "already exists; add --force" in err and first.read_bytes() == before
    assert _run(argv + ["-o", str(first), "--force"], capsys)[0] == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["generated-2.mp4", "generated.mp4"]


def test_generate_restores_the_callers_thread_count(tmp_path):
    import torch

    from kinora.pipelines.generate import GenerateRequest, generate

    torch.set_num_threads(2)
    try:
        r = generate(GenerateRequest("a red ball", out=tmp_path / "a.mp4", seconds=0.5, steps=1, threads=1))
        assert r.output.settings["threads"] == 1 and torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(1)
