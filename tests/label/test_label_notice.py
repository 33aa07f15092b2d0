"""The visible NOT VERIFIED notice on the frames of a flagged shot."""

import json

import av
import numpy as np

from kinora.label import Provenance, write_generated_video
from kinora.label.visible import stamp_notice


def test_the_notice_is_drawn_on_the_frames_it_names_only():
    frames = np.full((4, 256, 256, 3), 120, np.uint8)
    out = stamp_notice(frames, [1, 2])
    changed = (out != frames).any(axis=(1, 2, 3))
    assert changed.tolist() == [False, True, True, False]
    band = out[1, 200:250].reshape(-1, 3).astype(int)
    assert ((band[:, 0] > 140) & (band[:, 1] < 60)).mean() > 0.2  # red box
    assert (band.min(1) > 220).mean() > 0.01  # white text


def test_the_writer_records_the_notices(tmp_path):
    frames = np.zeros((8, 64, 64, 3), np.uint8)
    prov = Provenance(model="m", checkpoint_sha256="0" * 64, seed=0, prompt="p", truth_mode="news", task="film")
    path = write_generated_video(frames, tmp_path / "f.mp4", 8, prov, notices=[(4, 7)])
    with av.open(str(path)) as c:
        label = json.loads(c.metadata["kinora_provenance"])["visible_label"]
    assert label["notices"]["frames"] == [[4, 7]] and "NOT VERIFIED" in label["notices"]["text"]
