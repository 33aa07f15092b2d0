"""Edits that regenerate part of a take: the rest stays bit for bit."""

import numpy as np
import pytest

from kinora.errors import KinoraError
from kinora.timeline import edits
from kinora.timeline.project import Project


@pytest.fixture()
def film(tmp_path, tiny_weights):
    edits.new_project(tmp_path / "film", ["a red ball rolls left"], seconds=1.0, model=str(tiny_weights), steps=1)
    return tmp_path / "film"


def frames_of(folder, shot=1, take=None):
    p = Project.load(folder)
    s = p.shot(shot)
    return edits.take_frames(p, s.take(take) if take else s.active_take())


def simulated_take(folder):
    """Replace shot 1's take by a simulator render of its own spec (so objects can be found in it)."""
    from kinora.label import Provenance
    from kinora.world.sim import simulate
    from kinora.world.spec import ShotSpec

    with Project.open(folder, write=True) as p:
        s = p.shot(1)
        spec = ShotSpec.from_dict(s.spec)
        spec.width, spec.height, spec.duration = 32, 32, 1.0
        frames = simulate(spec).frames
        t = s.active_take()
        prov = Provenance(model=t.model, checkpoint_sha256=t.checkpoint_sha256, seed=0, prompt=s.prompt,
                          truth_mode="story", task="t2v", settings={"fps": 8})
        edits.store_take(p, s, frames, prov, {"fps": 8}, {"kind": "simulated"}, parent=t.id)
        p.save("simulated take")
    return frames


def test_inpaint_keeps_every_pixel_outside_the_region(film):
    before = frames_of(film).copy()
    t = edits.inpaint(film, 1, (0.5, 0.0, 1.0, 1.0), span=(0.25, 0.75), prompt="a blue cube")
    after = frames_of(film)
    inside = np.zeros(before.shape[:3], bool)
    inside[2:6, :, 16:] = True
    assert np.array_equal(after[~inside], before[~inside])  # bit-exact outside
    assert not np.array_equal(after[inside], before[inside])
    assert t.edit["kind"] == "inpaint" and t.parent == "t1" and t.task == "inpaint"
    with pytest.raises(KinoraError, match="runs past the take"):
        edits.inpaint(film, 1, (0, 0, 1, 1), span=(0.5, 3.0))
    with pytest.raises(KinoraError, match="is not X0,Y0,X1,Y1"):
        edits.inpaint(film, 1, (0.5, 0, 0.2, 1))


def test_changing_one_object_regenerates_only_its_pixels(film):
    frames = simulated_take(film)
    mask = edits.object_mask(frames, "red")
    assert mask.any() and mask.mean() < 0.3
    t = edits.change_object(film, 1, 1, "color", "green")
    after = frames_of(film)
    assert np.array_equal(after[~mask], frames[~mask])
    assert t.edit == {"kind": "change", "object": Project.load(film).shot(1).spec["objects"][0]["id"],
                      "field": "color", "from": "red", "to": "green", "seed": 0, "pixels": int(mask.sum())}
    p = Project.load(film)
    assert p.shot(1).spec["objects"][0]["color"] == "green" and "green" in p.shot(1).prompt
    with pytest.raises(KinoraError, match="is not a color of the world"):
        edits.change_object(film, 1, 1, "color", "orange")
    with pytest.raises(KinoraError, match="has no object 7"):
        edits.change_object(film, 1, 7, "color", "blue")

    from kinora.label import Provenance

    with Project.open(film, write=True) as p:  # a take of an empty grey stage
        t = p.shot(1).active_take()
        prov = Provenance(model=t.model, checkpoint_sha256=t.checkpoint_sha256, seed=0, prompt="", truth_mode="story",
                          task="t2v", settings={"fps": 8})
        edits.store_take(p, p.shot(1), np.full((8, 32, 32, 3), 128, np.uint8), prov, {"fps": 8}, {"kind": "x"}, t.id)
        p.save("an empty take")
    with pytest.raises(KinoraError, match="does not show in take t4"):
        edits.change_object(film, 1, 1, "color", "blue")


def test_extend_keeps_the_take_and_adds_frames(film):
    before = frames_of(film).copy()
    t = edits.extend(film, 1, 0.5)
    after = frames_of(film)
    assert len(after) == 12 and np.array_equal(after[:8], before) and t.edit["kind"] == "extend"
    t = edits.extend(film, 1, 0.25, backward=True)
    again = frames_of(film)
    assert len(again) == 14 and np.array_equal(again[2:], after)
    assert Project.load(film).shot(1).seconds == 14 / 8


def test_cli_region_edits(film, capsys):
    from kinora.cli import main

    f = str(film)
    assert main(["project", "edit", f, "--shot", "1", "--edit-region", "0,0,0.5,1", "--edit-time", "0:0.5",
                 "--with", "a blue cube"]) == 0
    assert main(["project", "edit", f, "--shot", "1", "--extend", "0.5"]) == 0
    assert "new take t3 (extend" in capsys.readouterr().out
    assert main(["project", "edit", f, "--shot", "1", "--change", "1-color"]) == 2
    assert "is not OBJECT:FIELD=VALUE" in capsys.readouterr().err
    assert main(["project", "edit", f, "--shot", "1", "--regenerate", "--backward"]) == 2
    assert "--backward belongs to --extend" in capsys.readouterr().err


def test_restyle_starts_from_the_take_noised(tmp_path):
    from tests.pipelines.test_physics import _weights

    (tmp_path / "w").mkdir()
    film = tmp_path / "film"  # a random model whose velocity is not zero, so denoising moves the frames
    edits.new_project(film, ["a red ball rolls left"], seconds=1.0, model=str(_weights(tmp_path / "w", True)),
                      steps=4)
    before = frames_of(film).copy()
    low = edits.restyle(film, 1, "a purple ball rolls left", strength=0.25)
    low_frames = frames_of(film).copy()
    edits.use(film, 1, 1)
    edits.restyle(film, 1, "a purple ball rolls left", strength=1.0, seed=3)
    high_frames = frames_of(film)
    assert low.edit["kind"] == "restyle" and low.task == "restyle" and len(low_frames) == len(before)
    near = np.abs(low_frames.astype(int) - before).mean()
    far = np.abs(high_frames.astype(int) - before).mean()
    assert 0 < near < far  # a light restyle keeps nearer to the take than a full one
    assert Project.load(film).shot(1).prompt == "a purple ball rolls left"
    with pytest.raises(KinoraError, match="out of range"):
        edits.restyle(film, 1, strength=1.5)


def test_cli_loop_bridge_crossfade(tmp_path, tiny_weights, capsys):
    from kinora.cli import main

    f = str(tmp_path / "f")
    assert main(["project", "new", f, "--prompt", "a red ball", "--prompt", "a blue cube", "--seconds", "0.5",
                 "--model", str(tiny_weights), "--steps", "1"]) == 0
    assert main(["project", "edit", f, "--shot", "1", "--loop", "0.5"]) == 0
    assert main(["project", "edit", f, "--shot", "1", "--bridge", "0.5"]) == 0
    assert main(["project", "edit", f, "--shot", "2", "--crossfade", "0.25"]) == 0
    p = Project.load(f)
    assert [s.id for s in p.doc.shots] == ["s1", "s3", "s2"] and p.shot(3).transition["frames"] == 2
    assert p.shot(1).active_take().num_frames == 8 and p.shot(2).active_take().num_frames == 4
    assert main(["project", "edit", f, "--shot", "3", "--crossfade", "0.25"]) == 2
    assert "is the last one" in capsys.readouterr().err


def test_a_bigger_object_gets_room_to_grow(film):
    frames = simulated_take(film)
    small = edits.object_mask(frames, "red").sum()
    t = edits.change_object(film, 1, 1, "size", "large")
    assert t.edit["pixels"] > 1.5 * small  # small -> large is 1.7x the radius: the mask grows with it
    after = frames_of(film)
    far = ~edits.object_mask(frames, "red", grow=12)  # well away from the ball: never regenerated
    assert far.any() and np.array_equal(after[far], frames[far])
