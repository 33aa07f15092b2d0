import pytest

from kinora.defaults import HELDOUT_SEED_BASE
from kinora.verify.validate import RATIOS, evaluate_clip, format_table, validate


@pytest.fixture(scope="module")
def metrics():
    return validate(n=8, seed=500, workers=1, progress=False)


def test_every_metric_with_sane_values(metrics):
    for key in ("color_accuracy", "shape_accuracy", "count_accuracy", "centroid_error_px", *RATIOS):
        assert key in metrics
    assert metrics["n_clips"] + metrics["skipped"] == 8 and metrics["object_frames"] > 50
    for key, v in metrics.items():
        if key in RATIOS and v is not None and key not in ("centroid_error_px", "stop_frame_error", "seconds_per_clip"):
            assert 0.0 <= v <= 1.0, key
    # Simulator frames are exact: the analyzer should be close to perfect on them.
    assert metrics["color_accuracy"] >= 0.98 and metrics["count_accuracy"] >= 0.9
    assert metrics["shape_accuracy"] >= 0.85 and 0.0 <= metrics["centroid_error_px"] <= 1.5
    assert metrics["camera_accuracy"] >= 0.75 and metrics["detection_recall"] >= 0.95


def test_held_out_seeds_and_h264():
    c = evaluate_clip(HELDOUT_SEED_BASE + 7, h264_crf=23)
    assert c["clips"] == 1 and c["matched"] > 0 and c["color_ok"] == c["matched"]


def test_table_has_every_metric(metrics):
    table = format_table(metrics)
    lines = table.split("\n")
    assert isinstance(table, str) and len(lines) == 2 + len(RATIOS)
    assert [line.split()[0] for line in lines[2:]] == list(RATIOS)
    assert lines[0].startswith(f"analyzer vs ground truth: {metrics['n_clips']} held-out clips at 64x64")


def test_bad_arguments():
    from kinora.errors import KinoraError

    with pytest.raises(KinoraError, match="--n"):
        validate(n=0)
