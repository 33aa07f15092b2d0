import numpy as np
import pytest

from kinora.errors import KinoraError
from kinora.label import LabelConfig, Provenance, inspect_video, write_generated_video


@pytest.mark.parametrize("task", ["t2v", "i2v", "extend", "edit", "loop", "storyboard"])
def test_every_task_writes_a_labeled_file(tmp_path, clip, prov, task):
    p = Provenance(**{**prov.__dict__, "task": task})
    path = write_generated_video(clip(20, 48, 64), tmp_path / f"{task}.mp4", 8, p)
    r = inspect_video(path)
    assert r["ok"], r["problems"]
    assert r["provenance"]["task"] == task
    assert r["visible_label"]["frames"] == [[0, 15]] and r["visible_label"]["seconds_from_start"] == 2.0


@pytest.mark.parametrize("cfg,frames", [
    (LabelConfig(duration="whole", english=False, corner="bottom-right"), [[0, 23]]),
    (LabelConfig(duration="start_end", corner="top-right"), [[0, 7], [16, 23]]),
    (LabelConfig(seconds=2.5, corner="bottom-left", text_height=0.1), [[0, 9]]),
])
def test_label_options_all_pass_inspect(tmp_path, clip, prov, cfg, frames):
    path = write_generated_video(clip(24, 64, 64), tmp_path / "v.mp4", 4, prov, cfg)
    r = inspect_video(path)
    assert r["ok"], r["problems"]
    assert r["visible_label"]["frames"] == frames
    assert r["visible_label"]["corner"] == cfg.corner
    assert ("AI-generated" in r["visible_label"]["text"]) == cfg.english


def test_1280x720_meets_5_percent_and_2_seconds(tmp_path, clip, prov):
    path = write_generated_video(clip(20, 720, 1280), tmp_path / "hd.mp4", 8, prov)
    r = inspect_video(path)
    v = r["visible_label"]
    assert r["ok"], r["problems"]
    assert v["frame_size"] == [1280, 720]
    assert v["text_height_px"] >= 36 and v["text_height_fraction"] >= 0.05
    assert v["seconds_from_start"] >= 2.0 and v["meets_height"] and v["meets_duration"]


def test_smallest_output_is_upscaled_and_meets_the_rules(tmp_path, clip, prov):
    path = write_generated_video(clip(17, 64, 64), tmp_path / "tiny.mp4", 8, prov)
    r = inspect_video(path)
    v = r["visible_label"]
    assert r["video"]["width"] == r["video"]["height"] == 256
    assert v["text_height_px"] >= 16 and v["text_height_fraction"] >= 0.05
    assert v["seconds_from_start"] >= 2.0


def test_video_shorter_than_2s_is_labeled_throughout(tmp_path, clip, prov):
    r = inspect_video(write_generated_video(clip(5, 64, 64), tmp_path / "short.mp4", 8, prov))
    assert r["ok"], r["problems"]
    assert r["visible_label"]["frames"] == [[0, 4]]


def test_bad_inputs_are_one_line_errors_and_write_nothing(tmp_path, clip, prov):
    frames = clip(4, 32, 32)
    with pytest.raises(KinoraError, match="MP4"):
        write_generated_video(frames, tmp_path / "a.webm", 8, prov)
    with pytest.raises(KinoraError, match="uint8"):
        write_generated_video(frames.astype(np.float32), tmp_path / "a.mp4", 8, prov)
    with pytest.raises(KinoraError, match="fps"):
        write_generated_video(frames, tmp_path / "a.mp4", 0, prov)
    with pytest.raises(KinoraError, match="provenance"):
        write_generated_video(frames, tmp_path / "a.mp4", 8, {"model": "x"})
    with pytest.raises(KinoraError, match="config"):
        write_generated_video(frames, tmp_path / "a.mp4", 8, prov, {"english": False})
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("bad", [dict(truth_mode="fiction"), dict(checkpoint_sha256="abc"), dict(seed="1"),
                                 dict(task="Text To Video"), dict(model="")])
def test_bad_provenance_is_an_error(prov, bad):
    with pytest.raises(KinoraError):
        Provenance(**{**prov.__dict__, **bad})


def test_simulator_renders_stay_unlabeled(tmp_path):
    """Computer-graphics renders are not AI-generated: no "AI生成", no AIGC key."""
    from kinora.world.sim import render_to_mp4
    from kinora.world.spec import SpecDistribution, random_spec

    spec = random_spec(1, SpecDistribution(duration=(1.0, 1.0), width=128, height=128))
    r = inspect_video(render_to_mp4(spec, tmp_path / "sim.mp4"))
    assert not r["ok"]
    assert r["visible_label"]["found"] is False and r["aigc"] is None
