"""Objects that start later ("one after another") wait in their initial pose."""

import pytest

from kinora.errors import KinoraError
from kinora.world.sim import simulate
from kinora.world.spec import ObjectSpec, ShotSpec, validate


def _spec(start: float) -> ShotSpec:
    return ShotSpec(objects=[ObjectSpec(id="a", color="red", motion="fall"),
                             ObjectSpec(id="b", color="blue", motion="fall", start=start)],
                    duration=2.0, fps=8, seed=3)


def _z(clip, oid, frame):
    return next(o for o in clip.truth["frames"][frame]["objects"] if o["id"] == oid)["position"][2]


def test_a_later_start_holds_the_object_then_releases_it():
    clip = simulate(_spec(1.0))
    z0 = _z(clip, "b", 0)
    assert _z(clip, "b", 7) == pytest.approx(z0, abs=1e-6)  # t = 0.875 s: still waiting
    assert _z(clip, "a", 7) < z0 - 0.2  # the first one has fallen meanwhile
    assert _z(clip, "b", 15) < z0 - 0.2  # then the second falls too


def test_start_zero_is_the_old_world():
    a, b = simulate(_spec(0.0)), simulate(ShotSpec(objects=[ObjectSpec(id="a", color="red", motion="fall"),
                                                           ObjectSpec(id="b", color="blue", motion="fall")],
                                                  duration=2.0, fps=8, seed=3))
    assert (a.frames == b.frames).all()


@pytest.mark.parametrize("start", [-0.5, 2.0, "soon"])
def test_a_start_outside_the_shot_is_refused(start):
    with pytest.raises(KinoraError, match="start"):
        validate(_spec(start))
