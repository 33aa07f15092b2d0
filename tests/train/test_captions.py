"""A folder of videos -> captions CSV -> `kinora train --data-csv` (kinora.train.captions): the
recipe of docs/SCALE.md, end to end on a few generated clips."""

import csv
import json

import numpy as np
import pytest

from kinora.defaults import SHIPPED_DIT
from kinora.errors import KinoraError
from kinora.io.video import write_mp4
from kinora.train.captions import caption_folder


def _rows(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


@pytest.mark.skipif(not SHIPPED_DIT.exists(), reason="no shipped weights")
def test_generated_clips_become_training_data(tmp_path, tiny_vae, capsys):
    from kinora.cli import main
    from kinora.pipelines.generate import GenerateRequest, generate

    clips = tmp_path / "clips"
    (clips / "more").mkdir(parents=True)
    # Two clips Kinora made with their prompts as captions, one "real" clip with a caption
    # file, one with none (left out), in a folder and a subfolder.
    for name, prompt, seed in (("a", "a red ball bounces", 1), ("more/b", "一个蓝色的方块向右滑动", 2)):
        generate(GenerateRequest(prompt, out=clips / f"{name}.mp4", seconds=1, steps=2, seed=seed))
        (clips / f"{name}.txt").write_text(prompt + "\n", encoding="utf-8")
    rng = np.random.default_rng(0)
    write_mp4(rng.integers(0, 255, (12, 64, 96, 3), dtype=np.uint8), clips / "street.mp4", fps=8)
    (clips / "street.txt").write_text("\n  a busy street,  at night \nsecond line ignored\n", encoding="utf-8")
    write_mp4(rng.integers(0, 255, (8, 64, 64, 3), dtype=np.uint8), clips / "untitled_clip-3.mp4", fps=8)

    assert main(["captions", str(clips), "-o", str(tmp_path / "videos.csv")]) == 0
    io = capsys.readouterr()
    assert "untitled_clip-3.mp4 has no caption" in io.err and "3 video(s) (3 from sidecar)" in io.out
    rows = _rows(tmp_path / "videos.csv")
    assert rows == [{"path": "clips/a.mp4", "text": "a red ball bounces"},
                    {"path": "clips/more/b.mp4", "text": "一个蓝色的方块向右滑动"},
                    {"path": "clips/street.mp4", "text": "a busy street, at night"}]

    out = tmp_path / "run"
    assert main(["train", "--preset", "tiny", "--data-csv", str(tmp_path / "videos.csv"), "--vae", str(tiny_vae),
                 "--out", str(out), "--steps", "2", "--width", "64", "--height", "64", "--max-frames", "9",
                 "--quiet"]) == 0
    assert (out / "dit-tiny-ema.safetensors").exists()
    log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert log[-1]["step"] == 2 and np.isfinite(log[-1]["loss"])
    assert len(list((out / "cache").rglob("csv-*x*.safetensors"))) == 2  # two aspect buckets: 1:1 and 3:2


def test_names_as_captions_and_refusals(tmp_path):
    rng = np.random.default_rng(0)
    write_mp4(rng.integers(0, 255, (4, 32, 32, 3), dtype=np.uint8), tmp_path / "red_ball-rolls.mp4", fps=8)
    with pytest.raises(KinoraError, match="none of the 1 video\\(s\\) has a caption; .* --name-captions"):
        caption_folder(tmp_path)
    assert not (tmp_path / "videos.csv").exists()
    r = caption_folder(tmp_path, name_captions=True)
    assert r.rows == 1 and r.by_source == {"name": 1}
    assert _rows(tmp_path / "videos.csv") == [{"path": "red_ball-rolls.mp4", "text": "red ball rolls"}]
    with pytest.raises(KinoraError, match="exists; choose another -o or pass --force"):
        caption_folder(tmp_path, name_captions=True)
    (tmp_path / "broken.mp4").write_bytes(b"not a video")
    with pytest.raises(KinoraError, match="1 video\\(s\\) do not decode: broken.mp4"):
        caption_folder(tmp_path, name_captions=True, force=True)
    assert _rows(tmp_path / "videos.csv")[0]["text"] == "red ball rolls"  # the old CSV is untouched
    (tmp_path / "empty").mkdir()
    with pytest.raises(KinoraError, match="holds no videos"):
        caption_folder(tmp_path / "empty")
    with pytest.raises(KinoraError, match="is not a folder"):
        caption_folder(tmp_path / "missing")


def test_a_cut_short_video_and_a_non_utf8_caption_are_caught(tmp_path):
    rng = np.random.default_rng(0)
    write_mp4(rng.integers(0, 255, (24, 64, 64, 3), dtype=np.uint8), tmp_path / "a.mp4", fps=8)
    (tmp_path / "a.txt").write_bytes("\ufeffa red ball bounces\n".encode("utf-8"))  # a byte-order mark
    r = caption_folder(tmp_path, tmp_path / "ok.csv")
    assert _rows(tmp_path / "ok.csv") == [{"path": "a.mp4", "text": "a red ball bounces"}] and r.rows == 1
    half = (tmp_path / "a.mp4").read_bytes()
    (tmp_path / "half.mp4").write_bytes(half[: len(half) // 2])
    (tmp_path / "half.txt").write_text("half a clip", encoding="utf-8")
    with pytest.raises(KinoraError, match="do not decode: half.mp4"):
        caption_folder(tmp_path, tmp_path / "x.csv")
    (tmp_path / "half.mp4").unlink()
    (tmp_path / "a.txt").write_bytes("红色的球".encode("gbk"))
    with pytest.raises(KinoraError, match="a.txt is not UTF-8 text"):
        caption_folder(tmp_path, tmp_path / "x.csv")
    assert not (tmp_path / "x.csv").exists()
