"""The prompt parser: user prompts in English and Chinese, provenance, warnings."""

import pytest

from kinora.errors import KinoraError
from kinora.plan.parse import parse
from kinora.world.spec import resolve


def _objs(r):
    return [(o.shape, o.color, o.size, o.motion, o.direction) for o in r.spec.objects]


def _field(o, name):
    return o.source["fields"][name]


def test_bounce_means_a_rubber_fall():
    r = parse("a red ball bounces on the floor")
    (o,) = r.spec.objects
    assert (o.shape, o.color, o.motion, o.material) == ("sphere", "red", "fall", "rubber")
    assert _field(o, "motion") == {"start": 11, "end": 18, "text": "bounces"}
    assert _field(o, "size") == {"invented": True}
    assert r.language == "en" and r.warnings == []
    assert r.canonical == f"a {o.size} red ball falls and bounces. the camera is static."


def test_counts_directions_and_camera():
    text = "two blue cubes slide to the right while the camera pans left"
    r = parse(text)
    assert [(s, c, m, d) for s, c, _, m, d in _objs(r)] == [("cube", "blue", "slide", "right")] * 2
    a, b = r.spec.objects
    assert a.size == b.size
    assert _field(a, "count")["text"] == "two" and _field(a, "shape")["text"] == "cubes"
    assert _field(a, "direction")["text"] == "to the right"
    cam = r.spec.camera
    assert cam.motion == "pan_left"
    assert cam.source["text"] == "camera pans left"
    assert text[cam.source["start"]:cam.source["end"]] == "camera pans left"
    assert r.canonical == f"two {a.size} blue cubes slide right. the camera pans left."


def test_push_into_a_new_object():
    r = parse("a big yellow ball rolls into a small purple cube")
    assert _objs(r) == [("sphere", "yellow", "large", "push", None), ("cube", "purple", "small", "still", None)]
    p, t = r.spec.objects
    assert p.target == t.id
    assert _field(p, "target")["text"] == "into a small purple cube"
    assert _field(t, "motion") == {"invented": True}
    assert r.canonical == "a large yellow ball rolls into a small purple cube. the camera is static."
    resolve(r.spec)


def test_chinese_fall_and_bounce():
    text = "一个红色的球从空中落下并弹起"
    r = parse(text)
    (o,) = r.spec.objects
    assert r.language == "zh"
    assert (o.shape, o.color, o.motion, o.material) == ("sphere", "red", "fall", "rubber")
    assert o.source["text"] == "一个红色的球"
    assert _field(o, "color") == {"start": 2, "end": 4, "text": "红色"}
    assert _field(o, "motion")["text"] == "落下"
    assert r.canonical.endswith("red ball falls and bounces. the camera is static.")


def test_chinese_camera_first():
    r = parse("镜头向左平移，一个绿色的圆柱向右滚动")
    assert r.spec.camera.motion == "pan_left"
    assert r.spec.camera.source["text"] == "镜头向左平移"
    assert [(s, c, m, d) for s, c, _, m, d in _objs(r)] == [("cylinder", "green", "roll", "right")]
    assert _field(r.spec.objects[0], "direction")["text"] == "向右"


@pytest.mark.parametrize("text, want", [
    ("三个球", [("sphere", "still")] * 3),
    ("两个方块", [("cube", "still")] * 2),
    ("three balls fall", [("sphere", "fall")] * 3),
    ("a box and a tube fall", [("cube", "fall"), ("cylinder", "fall")]),
    ("一个红球和一个绿方块同时落下", [("sphere", "fall"), ("cube", "fall")]),
])
def test_counts(text, want):
    r = parse(text)
    assert [(o.shape, o.motion) for o in r.spec.objects] == want
    colors = [o.color for o in r.spec.objects]
    assert len(set(colors)) == len(colors)  # invented colours keep objects apart


@pytest.mark.parametrize("text, want", [
    ("a violet sphere rolls left", ("sphere", "purple", "roll", "left")),
    ("a magenta block slides towards the camera", ("cube", "purple", "slide", "backward")),
    ("a turquoise tube rolls away from the camera", ("cylinder", "cyan", "roll", "forward")),
    ("a teal box drops", ("cube", "cyan", "fall", None)),
    ("一个紫色的立方体向远处滑去", ("cube", "purple", "slide", "forward")),
    ("一个蓝绿色的圆筒朝镜头滚来", ("cylinder", "cyan", "roll", "backward")),
])
def test_synonyms(text, want):
    r = parse(text)
    (o,) = r.spec.objects
    assert (o.shape, o.color, o.motion, o.direction) == want
    assert r.warnings == []


def test_relations_stack_topple_and_passive():
    r = parse("A small green cube sits on top of a large red cube.")
    top, bottom = r.spec.objects
    assert (top.motion, top.on, bottom.color) == ("still", bottom.id, "red")
    r = parse("红色的方块从蓝色的圆柱上掉下来")
    top, bottom = r.spec.objects
    assert (top.motion, top.on, bottom.shape) == ("topple", bottom.id, "cylinder")
    r = parse("A teal box is pushed by a magenta ball.")
    box, ball = r.spec.objects
    assert (ball.motion, ball.target, box.motion) == ("push", box.id, "still")
    r = parse("a red ball falls. the red ball bounces.")
    assert len(r.spec.objects) == 1 and r.spec.objects[0].material == "rubber"


def test_unknown_words_warn_with_the_nearest_known_word():
    r = parse("a red pyramid falls")
    assert r.warnings == ["'pyramid' is not a shape the world has; using a cube"]
    assert r.spec.objects[0].shape == "cube"
    assert r.spec.objects[0].source["fields"]["shape"] == {"start": 6, "end": 13, "text": "pyramid",
                                                           "asked": "pyramid", "used": "cube"}
    (o,) = r.spec.objects
    assert o.color == "red" and o.motion == "fall"
    r = parse("a red balll falls")
    assert r.warnings == ["reading 'balll' as 'ball'"] and r.spec.objects[0].shape == "sphere"
    assert parse("一个红色的金字塔落下").warnings == ["'金字塔' is not a shape the world has; using a cube"]
    r = parse("an orange ball rolls left")
    assert r.warnings == ["'orange' is not a colour in the world's palette; using yellow (the nearest hue)"]
    assert r.spec.objects[0].color == "yellow"
    assert parse("a chartreuse cube").spec.objects[0].color == "green"  # by hue, not by spelling
    assert parse("一个粉色的球").spec.objects[0].color == "red"
    assert parse("an unknownish cube").warnings[0].startswith("unknown word 'unknownish'")
    assert "colours are red" in parse("a white ball").warnings[0]


def test_impossible_or_vague_requests_are_warned_not_dropped():
    r = parse("a red cube rolls left")
    assert r.spec.objects[0].motion == "slide" and "cannot roll" in r.warnings[0]
    r = parse("balls roll to the right")
    assert len(r.spec.objects) == 2 and "how many" in r.warnings[0]
    r = parse("the camera pans")
    assert r.spec.camera.motion == "pan_left" and "left or right" in r.warnings[0]
    with pytest.raises(KinoraError, match="at most 6"):
        parse("seven balls fall")


def test_invented_marks_and_defaults():
    r = parse("a ball")
    (o,) = r.spec.objects
    fields = o.source["fields"]
    assert fields["shape"]["text"] == "ball"
    for name in ("color", "size", "material", "motion", "speed"):
        assert fields[name] == {"invented": True}, name
    assert r.spec.camera.source["invented"] is True
    assert r.spec.camera.source["fields"]["motion"] == {"invented": True}


def test_spans_point_at_their_words():
    text = "While the camera slowly zooms in, a tiny scarlet barrel quickly rolls leftward."
    r = parse(text)
    (o,) = r.spec.objects
    for name, want in (("shape", "barrel"), ("color", "scarlet"), ("size", "tiny"), ("motion", "rolls"),
                       ("direction", "leftward"), ("speed", "quickly")):
        f = _field(o, name)
        assert f["text"] == want and text[f["start"]:f["end"]] == want
    cam = r.spec.camera
    assert (cam.motion, cam.speed) == ("zoom_in", "slow")
    assert cam.source["fields"]["speed"]["text"] == "slowly"


def test_options_empty_and_determinism():
    r = parse("a red ball rolls left", duration=3.0, fps=12, width=128, height=96, seed=7)
    s = r.spec
    assert (s.duration, s.fps, s.width, s.height, s.seed, s.text) == (3.0, 12, 128, 96, 7, "a red ball rolls left")
    assert parse("two balls", seed=3).spec.to_dict() == parse("two balls", seed=3).spec.to_dict()
    for bad in ("", "   \n\t"):
        with pytest.raises(KinoraError, match="prompt is empty"):
            parse(bad)
    with pytest.raises(KinoraError, match="width"):
        parse("a ball", width=65)


def test_each_other_and_fall_onto():
    r = parse("A red ball and a blue ball roll towards each other.")
    assert [(o.color, o.motion, o.direction) for o in r.spec.objects] == [("red", "roll", "right"),
                                                                        ("blue", "roll", "left")]
    assert _field(r.spec.objects[0], "direction")["text"] == "towards each other"
    r = parse("A cube falls onto a cylinder.")
    cube, cyl = r.spec.objects
    assert (cube.motion, cube.on, cyl.motion) == ("fall", None, "still") and "falls beside it" in r.warnings[0]


@pytest.mark.parametrize("text", [
    "a red ball bounces on the floor", "three cubes: a red one, a green one and a blue one",
    "镜头拉远，三个立方体静止不动", "A small green cube sits on top of a large red cube.",
    "a big yellow ball rolls into a small purple cube", "红色的方块从蓝色的圆柱上掉下来",
])
def test_parsed_specs_resolve(text):
    spec = resolve(parse(text).spec)
    assert all(o.position is not None for o in spec.objects)


NOT_READ = ("the prompt is not in a language Kinora reads (it reads English and Chinese); "
            "the shot shows an empty floor")


@pytest.mark.parametrize("text", [
    "Красный мяч прыгает",  # Russian
    "ボールが跳ねる",  # Japanese: kana and one kanji
    "ぼーるがはねる",  # Japanese: kana only
    "كرة حمراء تقفز",  # Arabic
    "빨간 공이 튄다",  # Korean
    "Ο κόκκινος μπάλα πέφτει",  # Greek
])
def test_a_language_kinora_does_not_read_gets_one_warning(text):
    r = parse(text)
    assert r.warnings == [NOT_READ]  # one warning, not one per letter or word it does not know
    assert "English and Chinese" in r.warnings[0] and "not in a language Kinora reads" in r.warnings[0]
    assert r.spec.objects == [] and r.spec.camera.motion == "static"
    assert r.spec.camera.source == {"invented": True, "fields": {"motion": {"invented": True},
                                                                 "speed": {"invented": True}}}
    assert r.canonical == "the camera is static."


def test_one_foreign_word_in_a_prompt_kinora_reads_is_warned_about_on_its_own():
    r = parse("a red ball rolls left ボール")
    assert [(o.shape, o.color, o.motion, o.direction) for o in r.spec.objects] == [("sphere", "red", "roll", "left")]
    assert r.warnings == [f"unknown word '{c}'; nearest known word is 'advance'" for c in "ボール"]
    r = parse("a red ball bounces, 빨간")
    assert len(r.warnings) == 2 and NOT_READ not in r.warnings
    assert [(o.shape, o.motion) for o in r.spec.objects] == [("sphere", "fall")]
    r = parse("一个红球 прыгает")
    assert r.language == "zh" and r.warnings == [] and [o.shape for o in r.spec.objects] == ["sphere"]
    # Latin letters are also French, Spanish, German: told apart by their common words.
    assert parse("une balle rouge tombe à gauche").warnings == [NOT_READ]
    assert parse("una pelota roja rueda hacia la izquierda").warnings == [NOT_READ]
    r = parse("a red ball rolls left, très vite")
    assert NOT_READ not in r.warnings and r.spec.objects[0].direction == "left"
