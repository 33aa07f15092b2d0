import numpy as np
import pytest

from kinora.errors import KinoraError
from kinora.io.atomic import atomic_path, write_json_atomic
from kinora.io.video import metadata_json, read_video, write_mp4


def _frames(t=6, h=32, w=48):
    # Smooth gradients that move: what H.264 in yuv420p reproduces closely.
    y, x = np.mgrid[0:h, 0:w]
    f = [np.stack([(x * 4 + 8 * i) % 256, (y * 6) % 256, np.full_like(x, 100 + 10 * i)], -1) for i in range(t)]
    return np.asarray(f, dtype=np.uint8)


def test_round_trip_with_metadata(tmp_path):
    f = _frames()
    p = write_mp4(f, tmp_path / "a.mp4", fps=8, metadata={"AIGC": '{"AIGC": {"Label": "1"}}'})
    out, fps, meta = read_video(p)
    assert out.shape == f.shape and fps == 8
    assert metadata_json(meta, "aigc") == {"AIGC": {"Label": "1"}}
    assert np.abs(out.astype(int) - f.astype(int)).mean() < 6
    assert [x.name for x in tmp_path.iterdir()] == ["a.mp4"]


def test_odd_sizes_are_padded_to_even(tmp_path):
    out, _, _ = read_video(write_mp4(_frames(h=33, w=47), tmp_path / "odd.mp4", fps=4))
    assert out.shape[1:3] == (34, 48)


@pytest.mark.parametrize("frames, message", [
    (np.zeros((4, 8, 8), np.uint8), "shape"),
    (np.zeros((4, 8, 8, 3), np.float32), "uint8"),
    (np.zeros((0, 8, 8, 3), np.uint8), "shape"),
])
def test_bad_frames(tmp_path, frames, message):
    with pytest.raises(KinoraError, match=message):
        write_mp4(frames, tmp_path / "x.mp4", fps=8)
    assert not list(tmp_path.iterdir())


def test_unreadable_files(tmp_path):
    with pytest.raises(KinoraError, match="not found"):
        read_video(tmp_path / "missing.mp4")
    (tmp_path / "empty.mp4").write_bytes(b"")
    with pytest.raises(KinoraError, match="empty"):
        read_video(tmp_path / "empty.mp4")
    (tmp_path / "text.mp4").write_text("this is not a video")
    with pytest.raises(KinoraError, match="cannot read video|no decodable"):
        read_video(tmp_path / "text.mp4")
    good = write_mp4(_frames(t=16), tmp_path / "good.mp4", fps=8).read_bytes()
    (tmp_path / "cut.mp4").write_bytes(good[: len(good) // 3])
    with pytest.raises(KinoraError):
        read_video(tmp_path / "cut.mp4")


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.json"
    write_json_atomic(target, {"a": 1})
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("crash")
    assert target.read_text().strip().startswith("{") and '"a": 1' in target.read_text()
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]
