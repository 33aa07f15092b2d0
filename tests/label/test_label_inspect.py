import json

import pytest

from kinora.cli import main
from kinora.errors import KinoraError
from kinora.io.video import write_mp4
from kinora.label import format_report, inspect_video, write_generated_video


@pytest.fixture
def labeled(tmp_path, clip, prov):
    return write_generated_video(clip(18, 64, 64), tmp_path / "labeled.mp4", 8, prov)


def test_cli_json_report_of_a_labeled_file(labeled, capsys):
    assert main(["inspect", str(labeled), "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["ok"] is True and r["problems"] == []
    assert r["visible_label"]["found"] and r["visible_label"]["corner"] == "top-left"
    assert r["aigc"]["Label"] == "1" and r["aigc"]["ContentProducer"] == "Kinora"
    assert r["provenance"]["model"] == "kinora-test"
    assert "c2pa" in r


def test_cli_text_report(labeled, capsys):
    assert main(["inspect", str(labeled)]) == 0
    out = capsys.readouterr().out
    assert "visible label: \"AI生成 / AI-generated\" top-left, text 16 px" in out
    assert "Label=1 (AI-generated) ContentProducer=Kinora" in out
    assert out.strip().endswith("result: properly labeled as AI-generated")


def test_unlabeled_video_exits_1_and_says_why(tmp_path, clip, capsys):
    path = write_mp4(clip(10, 64, 64), tmp_path / "plain.mp4", 8)
    assert main(["inspect", str(path)]) == 1
    out = capsys.readouterr().out
    assert "NOT properly labeled" in out
    assert "no visible \"AI生成\" label" in out and "no AIGC metadata label" in out


def test_metadata_without_visible_label_fails(tmp_path, clip, labeled):
    from kinora.io.video import read_video

    _, _, meta = read_video(labeled)
    path = write_mp4(clip(10, 64, 64), tmp_path / "meta_only.mp4", 8, metadata=meta)
    r = inspect_video(path)
    assert not r["ok"] and r["aigc"]["Label"] == "1"
    assert r["problems"] == ["no visible \"AI生成\" label found in any corner of the 10 frames"]


def test_tampered_provenance_is_flagged(tmp_path, clip, labeled):
    from kinora.io.video import read_video

    frames, _, meta = read_video(labeled)
    meta["kinora_provenance"] = meta["kinora_provenance"].replace('"seed":7', '"seed":8')
    r = inspect_video(write_mp4(frames, tmp_path / "t.mp4", 8, metadata=meta))
    assert any("ReservedCode1" in w for w in r["warnings"])


def test_visible_label_too_short_fails(tmp_path, labeled):
    from kinora.io.video import read_video

    frames, _, meta = read_video(labeled)
    r = inspect_video(write_mp4(frames, tmp_path / "fast.mp4", 16, metadata=meta))  # 16 frames at 16 fps = 1 s
    assert not r["ok"] and "only 1.00 s" in r["problems"][0]


@pytest.mark.parametrize("make,message", [
    (lambda p, good: p.write_bytes(b""), "is empty"),
    (lambda p, good: p.write_text("hello, this is not a video\n" * 20), "not an MP4"),
    (lambda p, good: p.write_bytes(good.read_bytes()[: len(good.read_bytes()) // 2]), "truncated"),
    (lambda p, good: p.write_bytes(good.read_bytes()[:20]), "truncated"),
    (lambda p, good: p.write_bytes(b"\x00\x00\x00\x08free" * 4), "no 'moov' box"),
])
def test_broken_files_give_a_clear_error(tmp_path, labeled, capsys, make, message):
    bad = tmp_path / "bad.mp4"
    make(bad, labeled)
    with pytest.raises(KinoraError, match=message):
        inspect_video(bad)
    assert main(["inspect", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1


def test_missing_file(tmp_path, capsys):
    assert main(["inspect", str(tmp_path / "nope.mp4")]) == 2
    assert "file not found" in capsys.readouterr().err


def test_format_report_lists_problems(tmp_path, clip):
    r = inspect_video(write_mp4(clip(4, 32, 32), tmp_path / "p.mp4", 8))
    text = format_report(r)
    assert "visible label: none found" in text and "metadata label: none" in text
