import json

import pytest

from kinora.errors import KinoraError
from kinora.world.spec import (
    COLORS,
    SHAPES,
    ObjectSpec,
    ShotSpec,
    SpecDistribution,
    json_schema,
    random_spec,
    resolve,
    validate,
)


def test_random_spec_is_deterministic_and_valid():
    for seed in range(50):
        a, b = random_spec(seed), random_spec(seed)
        assert a.to_json() == b.to_json()
        validate(a)
        assert 1 <= len(a.objects) <= 3
        assert all(o.position is not None and o.velocity is not None for o in a.objects)


def test_random_specs_cover_the_vocabulary():
    specs = [random_spec(s) for s in range(400)]
    shapes = {o.shape for s in specs for o in s.objects}
    colors = {o.color for s in specs for o in s.objects}
    motions = {o.motion for s in specs for o in s.objects}
    cams = {s.camera.motion for s in specs}
    assert shapes == set(SHAPES) and colors == set(COLORS)
    assert motions == {"still", "fall", "roll", "slide", "push", "topple"}
    assert len(cams) == 7


def test_json_round_trip():
    spec = random_spec(3)
    again = ShotSpec.from_json(spec.to_json())
    assert again.to_dict() == spec.to_dict()


def test_resolve_places_objects_apart_and_lines_up_pushes():
    spec = ShotSpec(objects=[ObjectSpec(id="t", shape="cube", color="blue"),
                             ObjectSpec(id="p", shape="sphere", color="red", motion="push", target="t",
                                        direction="right")])
    r = resolve(spec)
    t, p = r.object("t"), r.object("p")
    assert p.position[0] < t.position[0] and abs(p.position[1] - t.position[1]) < 1e-9
    assert p.velocity[0] > 0 and p.velocity[1] == 0


@pytest.mark.parametrize("patch, message", [
    ({"duration": -1}, "duration"),
    ({"duration": 1e6}, "duration"),
    ({"width": 100}, "width"),
    ({"width": 4096}, "width"),
    ({"fps": 0}, "fps"),
    ({"colour": "red"}, "unknown field"),
])
def test_bad_shot_fields(patch, message):
    d = random_spec(1).to_dict() | patch
    with pytest.raises(KinoraError, match=message):
        ShotSpec.from_dict(d)


@pytest.mark.parametrize("patch, message", [
    ({"color": "mauve"}, "unknown colour 'mauve'"),
    ({"shape": "pyramid"}, "unknown shape 'pyramid'"),
    ({"motion": "fly"}, "unknown motion"),
    ({"shape": "cube", "motion": "roll", "direction": "left"}, "cannot roll"),
    ({"motion": "push", "target": "nobody"}, "target"),
])
def test_bad_object_fields(patch, message):
    d = random_spec(1).to_dict()
    d["objects"][0] |= patch
    with pytest.raises(KinoraError, match=message):
        ShotSpec.from_dict(d)


def test_malformed_json():
    with pytest.raises(KinoraError, match="malformed JSON at line 1"):
        ShotSpec.from_json("{not json")


def test_schema_lists_vocabulary():
    s = json_schema()
    assert s["properties"]["objects"]["items"]["properties"]["color"]["enum"] == list(COLORS)
    json.dumps(s)


def test_distribution_options():
    spec = random_spec(7, SpecDistribution(min_objects=4, max_objects=4, width=128, height=64, fps=12,
                                           duration=(1.0, 1.0)))
    assert len(spec.objects) == 4 and (spec.width, spec.height, spec.fps) == (128, 64, 12)
    assert spec.num_frames == 12
