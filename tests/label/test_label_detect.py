import av
import numpy as np
import pytest

from kinora.io.video import write_mp4
from kinora.label import LabelConfig, detect
from kinora.label.visible import stamp


def luma(rgb: np.ndarray) -> np.ndarray:
    return (0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]).astype(np.uint8)


def reencode(frames, tmp_path, crf: int, scale: float = 1.0) -> list[np.ndarray]:
    """Write, then decode the luma of every frame, optionally rescaled (as a re-upload would)."""
    path = write_mp4(frames, tmp_path / f"re_{crf}_{scale}.mp4", 8, crf=crf)
    out = []
    with av.open(str(path)) as c:
        for f in c.decode(video=0):
            if scale != 1.0:
                f = f.reformat(width=int(f.width * scale) // 2 * 2, height=int(f.height * scale) // 2 * 2)
            out.append(f.to_ndarray(format="gray"))
    return out


@pytest.mark.parametrize("corner", ["top-left", "top-right", "bottom-left", "bottom-right"])
def test_finds_label_in_every_corner_at_its_height(scene, corner):
    out, lay = stamp(scene(720, 1280)[None], 8, LabelConfig(corner=corner))
    m = detect.search(luma(out[0]))
    assert m is not None and m.score > 0.95
    assert m.height == lay.text_height == 44
    assert detect.corner_of(m, 720, 1280) == corner


@pytest.mark.parametrize("h,w,crf,scale", [(64, 64, 40, 1.0), (64, 64, 28, 0.5), (720, 1280, 40, 1.0),
                                           (720, 1280, 28, 0.5)])
def test_found_after_lossy_reencode_and_rescale(scene, tmp_path, h, w, crf, scale):
    frames = np.repeat(scene(h, w, seed=3)[None], 2, axis=0)
    out, lay = stamp(frames, 8, LabelConfig(corner="bottom-left"))
    gray = reencode(out, tmp_path, crf, scale)[0]
    m = detect.search(gray)
    assert m is not None and m.score >= detect.MATCH_THRESHOLD
    assert abs(m.height - lay.text_height * scale) <= 1
    assert m.height / min(gray.shape) >= 0.05


def test_no_label_seen_in_synthetic_micro_world_scenes(scene):
    for seed in range(5):
        for h, w in [(64, 64), (256, 256), (360, 640)]:
            assert detect.search(luma(scene(h, w, seed))) is None, (seed, h, w)


def test_no_label_seen_in_simulator_renders():
    from kinora.world.sim import simulate
    from kinora.world.spec import SpecDistribution, random_spec

    for seed in range(3):
        spec = random_spec(seed, SpecDistribution(duration=(0.5, 0.5), width=256, height=256))
        for frame in simulate(spec).frames[::2]:
            assert detect.search(luma(frame)) is None, seed


def test_flat_and_noise_frames_are_not_labels():
    rng = np.random.default_rng(0)
    assert detect.search(np.full((240, 320), 128, np.uint8)) is None
    assert detect.search(rng.integers(0, 256, (240, 320), dtype=np.uint8)) is None


def test_tracking_follows_the_label_and_drops_when_it_ends(scene):
    frames = np.repeat(scene(256, 256)[None], 20, axis=0)
    out, _ = stamp(frames, 8, LabelConfig())
    first = detect.search(luma(out[0]))
    assert detect.track(luma(out[15]), first) is not None
    assert detect.track(luma(out[16]), first) is None


def test_find_visible_label_takes_rgb_frames(scene):
    from kinora.label import find_visible_label

    out, _ = stamp(scene(128, 128)[None], 8, LabelConfig())
    assert find_visible_label(out[0]).height == 16
    assert find_visible_label(scene(128, 128)) is None
