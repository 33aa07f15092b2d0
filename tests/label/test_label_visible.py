import dataclasses

import numpy as np
import pytest

from kinora.errors import KinoraError
from kinora.label import LabelConfig
from kinora.label.visible import labeled_frames, layout, stamp


def measured_text_height(frame: np.ndarray, lay) -> int:
    """Ink height of the first line ("AI生成"), measured from the pixels: inside the
    darkened box only the text is bright."""
    box = frame[lay.y:lay.y + lay.pad + lay.text_height + lay.gap // 2, lay.x:lay.x + lay.box_w]
    rows = np.nonzero((box.min(axis=2) >= 170).any(axis=1))[0]
    return int(rows.max() - rows.min() + 1)


@pytest.mark.parametrize("h,w,out_short", [(64, 64, 256), (720, 1280, 720), (96, 160, 288)])
def test_text_height_is_at_least_5_percent_and_legible(scene, h, w, out_short):
    frames = scene(h, w)[None]
    out, lay = stamp(frames, 8, LabelConfig())
    assert min(out.shape[1:3]) == out_short  # tiny frames were upscaled to >= 256
    measured = measured_text_height(out[0], lay)
    assert measured >= 0.05 * out_short
    assert measured >= 16  # legible Chinese at the smallest size
    assert abs(measured - lay.text_height) <= 1
    # White text on a dark box: strong contrast whatever is behind it.
    crop = out[0, lay.y:lay.y + lay.box_h, lay.x:lay.x + lay.box_w].astype(int).sum(axis=2) / 3
    assert crop.max() - np.median(crop) > 120


def test_720p_label_numbers():
    lay = layout(LabelConfig(), 1280, 720)
    assert lay.text_height == 44  # ceil(0.06 * 720)
    assert lay.x == lay.y == round(0.03 * 720)


@pytest.mark.parametrize("corner", ["top-left", "top-right", "bottom-left", "bottom-right"])
def test_label_sits_in_its_corner(scene, corner):
    base = scene(300, 400)[None]
    out, lay = stamp(base, 8, LabelConfig(corner=corner))
    ys, xs = np.nonzero((out[0] != base[0]).any(axis=2))  # the pixels the label changed
    H, W = base.shape[1:3]
    assert (ys.max() < H / 2) if corner.startswith("top") else (ys.min() > H / 2)
    assert (xs.max() < W / 2) if corner.endswith("left") else (xs.min() > W / 2)
    margin = round(0.03 * 300)
    assert min(ys.min(), H - 1 - ys.max()) == margin and min(xs.min(), W - 1 - xs.max()) == margin


def test_duration_policies():
    cfg = LabelConfig()
    assert list(labeled_frames(cfg, 40, 8)) == list(range(16))  # first 2 s at 8 fps
    assert list(labeled_frames(LabelConfig(duration="whole"), 40, 8)) == list(range(40))
    assert list(labeled_frames(LabelConfig(duration="start_end"), 40, 8)) == list(range(16)) + list(range(24, 40))
    assert list(labeled_frames(LabelConfig(seconds=3.5), 100, 8)) == list(range(28))
    assert list(labeled_frames(cfg, 10, 8)) == list(range(10))  # shorter than 2 s: all of it
    assert list(labeled_frames(cfg, 50, 24)) == list(range(48))


def test_frames_outside_the_policy_are_untouched(scene):
    frames = np.repeat(scene(256, 256)[None], 20, axis=0)
    out, _ = stamp(frames, 8, LabelConfig())
    assert not np.array_equal(out[15], frames[15])
    assert np.array_equal(out[16:], frames[16:])


@pytest.mark.parametrize("h,w", [(256, 256), (480, 270), (128, 1024)])
def test_largest_label_fits_portrait_square_and_wide_frames(scene, h, w):
    cfg = LabelConfig(text_height=0.15, corner="bottom-right")
    out, lay = stamp(scene(h, w)[None], 8, cfg)
    H, W = out.shape[1:3]
    assert lay.text_height == int(np.ceil(0.15 * min(H, W)))
    assert lay.x > 0 and lay.y > 0 and lay.x + lay.box_w < W and lay.y + lay.box_h < H


def test_no_option_turns_the_label_off():
    names = {f.name for f in dataclasses.fields(LabelConfig)}
    assert names == {"content_producer", "english", "corner", "duration", "seconds", "text_height",
                     "min_text_px", "min_display_size", "c2pa_cert", "c2pa_key"}
    with pytest.raises(KinoraError, match="unknown label option"):
        LabelConfig.from_dict({"enabled": False})


@pytest.mark.parametrize("bad", [
    {"text_height": 0.04}, {"text_height": 0.5}, {"seconds": 1.0}, {"corner": "center"},
    {"duration": "none"}, {"min_text_px": 4}, {"min_display_size": 32}, {"english": "yes"},
    {"content_producer": "My Studio"}, {"content_producer": ""}, {"content_producer": 'a"b'},
    {"c2pa_cert": "cert.pem"},
])
def test_bad_config_values_are_errors(bad):
    with pytest.raises(KinoraError):
        LabelConfig(**bad)
