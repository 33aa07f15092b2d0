import json

import numpy as np
import pytest

from kinora.errors import KinoraError
from kinora.io.video import read_video
from kinora.world.dataset import HELDOUT_SEED_BASE, read_shards, write_dataset
from kinora.world.spec import ShotSpec, SpecDistribution

TINY = SpecDistribution(duration=(0.5, 0.5), max_objects=2)


def test_writes_clips_shards_and_index(tmp_path):
    index = write_dataset(tmp_path, 5, seed=3, dist=TINY, workers=1, shard_size=2, progress=False)
    assert index["n"] == 5 and index["seeds"] == [3, 7] and len(index["shards"]) == 3
    frames, records = zip(*read_shards(tmp_path))
    assert sum(len(r) for r in records) == 5
    assert frames[0].shape == (2, 4, 64, 64, 3) and frames[0].dtype == np.uint8
    rec = records[0][0]
    assert rec["seed"] == 3 and rec["captions"]["en"] and rec["captions"]["zh"] and rec["captions"]["canonical"]
    ShotSpec.from_dict(rec["spec"])
    clip_json = json.loads((tmp_path / "clips" / "00000003.json").read_text())
    assert len(clip_json["truth"]["frames"]) == 4
    video, fps, meta = read_video(tmp_path / "clips" / "00000003.mp4")
    assert video.shape == (4, 64, 64, 3) and fps == 8 and "AIGC" not in meta
    # H.264 at high quality keeps the simulator's frames close.
    assert np.abs(video.astype(int) - frames[0][0].astype(int)).mean() < 4
    assert not list(tmp_path.rglob("*.tmp*"))


def test_parallel_equals_serial(tmp_path):
    write_dataset(tmp_path / "a", 4, seed=0, dist=TINY, workers=1, clips=False, progress=False)
    write_dataset(tmp_path / "b", 4, seed=0, dist=TINY, workers=2, clips=False, progress=False)
    (fa, ra), = read_shards(tmp_path / "a")
    (fb, rb), = read_shards(tmp_path / "b")
    assert np.array_equal(fa, fb) and ra == rb


def test_two_runs_share_a_folder(tmp_path):
    write_dataset(tmp_path, 2, seed=0, dist=TINY, workers=1, clips=False, progress=False)
    longer = SpecDistribution(duration=(1.0, 1.0), max_objects=1)
    index = write_dataset(tmp_path, 2, seed=2, dist=longer, workers=1, clips=False, progress=False)
    shapes = sorted(f.shape[1] for f, _ in read_shards(tmp_path))
    assert shapes == [4, 8] and len(index["runs"]) == 2


def test_heldout_seeds_are_refused(tmp_path):
    with pytest.raises(KinoraError, match="held-out"):
        write_dataset(tmp_path, 10, seed=HELDOUT_SEED_BASE - 5, dist=TINY, progress=False)
    with pytest.raises(KinoraError, match="at least 1"):
        write_dataset(tmp_path, 0, dist=TINY, progress=False)


def test_no_shards_is_a_clear_error(tmp_path):
    with pytest.raises(KinoraError, match="no shards"):
        next(read_shards(tmp_path))
