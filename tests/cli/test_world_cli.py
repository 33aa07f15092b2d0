import json
import subprocess
import sys

import pytest

from kinora.cli import main
from kinora.world.spec import random_spec


def _run(argv, capsys):
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def _spec_file(tmp_path, patch=None, obj_patch=None, text=None):
    path = tmp_path / "spec.json"
    if text is None:
        d = random_spec(1).to_dict()
        d |= patch or {}
        if obj_patch:
            d["objects"][0] |= obj_patch
        text = json.dumps(d)
    path.write_text(text)
    return path


@pytest.mark.parametrize("kw, message", [
    (dict(obj_patch={"color": "mauve"}), "unknown colour 'mauve'"),
    (dict(obj_patch={"shape": "pyramid"}), "unknown shape 'pyramid'"),
    (dict(patch={"duration": -2}), "duration -2"),
    (dict(patch={"duration": 99999}), "duration 99999"),
    (dict(patch={"width": 50}), "width 50 is not supported"),
    (dict(text="{\"objects\": [}"), "malformed JSON"),
])
def test_bad_spec_file_clear_error_nothing_written(tmp_path, capsys, kw, message):
    spec = _spec_file(tmp_path, **kw)
    out = tmp_path / "out.mp4"
    code, _, err = _run(["world", "render", str(spec), "-o", str(out)], capsys)
    assert code == 2
    assert message in err and err.startswith("error: ") and err.count("\n") == 1
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["spec.json"]


def test_missing_spec_file(tmp_path, capsys):
    code, _, err = _run(["world", "render", str(tmp_path / "nope.json"), "-o", str(tmp_path / "o.mp4")], capsys)
    assert code == 2 and "spec file not found" in err


def test_bad_size_option(capsys):
    assert main(["world", "random", "--size", "big"]) == 2
    assert "not WIDTHxHEIGHT" in capsys.readouterr().err


def test_unsupported_size_value(capsys):
    code, _, err = _run(["world", "random", "--size", "1000"], capsys)
    assert code == 2 and "width 1000 is not supported" in err


def test_render_random_spec_and_truth(tmp_path, capsys):
    out, truth = tmp_path / "a.mp4", tmp_path / "a.json"
    code, stdout, _ = _run(["world", "render", "-o", str(out), "--truth", str(truth), "--duration", "1"], capsys)
    assert code == 0 and out.stat().st_size > 0
    from kinora.io.video import read_video

    frames, fps, meta = read_video(out)
    assert frames.shape == (8, 64, 64, 3) and fps == 8
    assert "AIGC" not in meta  # simulator output is computer graphics, not AI-generated
    t = json.loads(truth.read_text())
    assert len(t["truth"]["frames"]) == 8


def test_render_spec_file_round_trip(tmp_path, capsys):
    spec = _spec_file(tmp_path)
    code, _, _ = _run(["world", "render", str(spec), "-o", str(tmp_path / "b.mp4")], capsys)
    assert code == 0


def test_no_traceback_in_a_real_process(tmp_path):
    spec = _spec_file(tmp_path, obj_patch={"color": "mauve"})
    r = subprocess.run([sys.executable, "-m", "kinora", "world", "render", str(spec), "-o", str(tmp_path / "o.mp4")],
                       capture_output=True, text=True)
    assert r.returncode == 2
    assert "Traceback" not in r.stderr and r.stderr.startswith("error: ")


def test_schema_command(capsys):
    code, out, _ = _run(["world", "schema"], capsys)
    assert code == 0 and json.loads(out)["title"] == "Kinora ShotSpec"


def test_validate_json_is_one_object(capsys):
    from kinora.defaults import HELDOUT_SEED_BASE

    code, out, _ = _run(["world", "validate", "--n", "1", "--seed", "3", "--workers", "1", "--json"], capsys)
    assert code == 0
    m = json.loads(out)
    assert out.count("\n") == 1 and m["n_clips"] == 1 and m["seed0"] == HELDOUT_SEED_BASE + 3
    assert {"color_accuracy", "shape_accuracy", "count_accuracy", "centroid_error_px"} <= set(m)


def test_validate_table(capsys):
    code, out, _ = _run(["world", "validate", "--n", "1", "--seed", "3", "--workers", "1"], capsys)
    assert code == 0 and out.startswith("analyzer vs ground truth: 1 held-out clips") and "color_accuracy" in out


def test_validate_nothing_to_validate_is_one_line_error(capsys):
    code, out, err = _run(["world", "validate", "--n", "0"], capsys)
    assert code != 0 and out == ""
    assert err.startswith("error: ") and err.count("\n") == 1 and "--n" in err
