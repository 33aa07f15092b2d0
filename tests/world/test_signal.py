"""The physics signal: silhouettes of the simulator's segmentation, per cell and in latent time."""

import numpy as np
import pytest

from kinora.errors import KinoraError
from kinora.world.signal import CELL, CHANNELS, SIGNAL_CHANNELS, clip_signal, frame_features, latent_signal
from kinora.world.spec import COLORS, ObjectSpec, ShotSpec


def two_objects():
    return ShotSpec(objects=[ObjectSpec(id="a", shape="sphere", color="red"),
                             ObjectSpec(id="b", shape="cube", color="blue")], width=16, height=8)


def test_channels_of_one_cell():
    spec = two_objects()
    seg = np.full((1, 8, 16), -1, np.int8)
    seg[0, :4, :2] = 0  # half of cell (0, 0): the red ball
    seg[0, :4, 4:8] = 1  # all of cell (0, 1): the blue cube
    f = frame_features(seg, spec)
    assert f.shape == (1, SIGNAL_CHANNELS, 8 // CELL, 16 // CELL)
    ch = {name: f[0, i] for i, name in enumerate(CHANNELS)}
    assert np.all(ch["present"] == 1.0)
    assert ch["cover"][0, 0] == 0.5 and ch["cover"][0, 1] == 1.0 and ch["cover"][1, 0] == 0.0
    assert np.allclose([ch[c][0, 0] for c in "rgb"], np.array(COLORS["red"]["rgb"]) * 0.5)
    assert np.allclose([ch[c][0, 1] for c in "rgb"], COLORS["blue"]["rgb"])
    assert (ch["sphere"][0, 0], ch["cube"][0, 0]) == (0.5, 0.0)
    assert (ch["sphere"][0, 1], ch["cube"][0, 1], ch["cylinder"][0, 1]) == (0.0, 1.0, 0.0)


def test_latent_time_follows_the_vae():
    # Frame 0 alone, then groups of four; a clip that is not 1 + 4k is padded with its last frame.
    feats = np.arange(6, dtype=np.float32).reshape(6, 1, 1, 1) * np.ones((6, SIGNAL_CHANNELS, 2, 2), np.float32)
    lat = latent_signal(feats)
    assert lat.shape == (SIGNAL_CHANNELS, 3, 2, 2)
    assert lat[0, :, 0, 0].tolist() == [0.0, 2.5, 5.0]  # mean(1..4), then mean(5, 5, 5, 5)
    assert latent_signal(feats[:1]).shape == (SIGNAL_CHANNELS, 1, 2, 2)


def test_signal_of_a_simulated_clip_matches_its_pixels():
    from kinora.world.sim import simulate

    spec = ShotSpec(objects=[ObjectSpec(id="a", shape="cube", color="green", size="large")], duration=1.125)
    clip = simulate(spec)
    sig = clip_signal(clip.seg, clip.spec)
    assert sig.shape == (SIGNAL_CHANNELS, 1 + (clip.frames.shape[0] - 1) // 4, 16, 16)
    cover = sig[CHANNELS.index("cover"), 0]
    assert cover.sum() * CELL * CELL == pytest.approx((clip.seg[0] == 0).sum())
    assert sig[CHANNELS.index("cube")].sum() == pytest.approx(sig[CHANNELS.index("cover")].sum())


def test_bad_segmentation_is_one_clear_error():
    with pytest.raises(KinoraError, match="multiple of the signal cell"):
        frame_features(np.zeros((1, 6, 8), np.int8), two_objects())
    with pytest.raises(KinoraError, match="names object 2, but the spec has 2"):  # one past the last object
        frame_features(np.full((1, 8, 8), 2, np.int8), two_objects())
