"""Captions: true to their spec, varied, deterministic, and readable by the parser."""

from kinora.plan.parse import parse
from kinora.world.captions import (
    ZH_COLORS,
    ZH_SHAPES,
    canonical_caption,
    caption,
    captions,
    describe,
    effect,
    make_captions,
)
from kinora.world.spec import CameraSpec, ObjectSpec, ShotSpec, SpecDistribution, random_spec

N_SPECS = 300


def _specs(n=N_SPECS):
    dist = SpecDistribution(max_objects=4)
    return [random_spec(seed, dist if seed % 2 else None) for seed in range(n)]


def _objects(spec):
    return sorted(describe(o)[:5] for o in spec.objects)  # shape, colour, size, motion, direction


def test_every_caption_parses_back_to_its_spec():
    bad = []
    for seed, spec in enumerate(_specs()):
        want = canonical_caption(spec)
        for lang in ("en", "zh"):
            text = caption(spec, lang, seed)
            r = parse(text)
            if (_objects(r.spec) != _objects(spec) or r.spec.camera.motion != spec.camera.motion
                    or r.canonical != want):
                bad.append((lang, text, r.canonical, want))
    assert not bad, f"{len(bad)} of {2 * N_SPECS} captions do not round-trip, e.g. {bad[0]}"


def test_canonical_caption_values():
    spec = ShotSpec(objects=[
        ObjectSpec(id="a", shape="cube", color="blue", size="large", material="wood", motion="slide",
                   direction="left", speed="fast"),
        ObjectSpec(id="b", shape="sphere", color="red", size="small", material="rubber", motion="fall"),
    ], camera=CameraSpec(motion="pan_right", speed="slow"))
    assert canonical_caption(spec) == ("a small red ball falls and bounces. a large blue cube slides left fast. "
                                       "the camera pans right slowly.")
    # Independent of the order of spec.objects.
    spec.objects.reverse()
    assert canonical_caption(spec).startswith("a small red ball falls and bounces.")


def test_canonical_relations_and_counts():
    spec = ShotSpec(objects=[
        ObjectSpec(id="p", shape="sphere", color="yellow", size="large", motion="push", target="t", direction="right"),
        ObjectSpec(id="t", shape="cube", color="purple", size="small"),
        ObjectSpec(id="s1", shape="cylinder", color="green", size="small", motion="roll", direction="left"),
        ObjectSpec(id="s2", shape="cylinder", color="green", size="small", motion="roll", direction="left"),
    ])
    assert canonical_caption(spec) == ("a large yellow ball rolls right into a small purple cube. "
                                       "two small green cylinders roll left. the camera is static.")


def test_material_named_only_through_its_visible_effect():
    def fall(material):
        return ShotSpec(objects=[ObjectSpec(id="a", shape="cube", color="red", material=material, motion="fall")])

    assert effect(fall("rubber").objects[0]) == "bounce"
    assert effect(fall("ice").objects[0]) == "no_bounce"
    assert effect(fall("metal").objects[0]) is None
    for seed in range(40):
        for text in (caption(fall("ice"), "en", seed), caption(fall("metal"), "en", seed)):
            assert "bounces" not in text and "bouncy" not in text and "rubber" not in text
        metal = caption(fall("metal"), "en", seed) + caption(fall("metal"), "zh", seed)
        for word in ("metal", "steel", "wood", "ice", "金属", "木", "冰", "弹"):
            assert word not in metal, metal
    glide = ShotSpec(objects=[ObjectSpec(id="a", shape="cube", color="red", material="ice", motion="slide",
                                         direction="left")])
    assert "glides left" in canonical_caption(glide)


def test_variety_and_determinism():
    spec = random_spec(5)
    c1, c2 = make_captions(spec, seed=3), make_captions(spec, seed=3)
    assert c1 == c2
    assert len(set(c1.en)) == 3 and len(set(c1.zh)) == 3
    assert make_captions(spec, seed=4).en != c1.en
    # Across many specs captions differ in wording, not just in content.
    specs = _specs(60)
    firsts = {caption(s, "en", 0).split()[1] for s in specs}
    assert len(firsts) > 5
    assert len({c for s in specs[:10] for c in captions(s, 0, n=5)}) >= 45


def test_chinese_captions_name_colours_and_shapes_in_chinese():
    for seed, spec in enumerate(_specs(80)):
        text = caption(spec, "zh", seed)
        assert not any(ch.isascii() and ch.isalpha() for ch in text), text
        for o in spec.objects:
            assert any(w in text for w in ZH_COLORS[o.color]), (o.color, text)
            assert any(w in text for w in ZH_SHAPES[o.shape]), (o.shape, text)


def test_counts_when_shapes_repeat():
    spec = ShotSpec(objects=[
        ObjectSpec(id="a", shape="sphere", color="red", motion="fall", material="wood"),
        ObjectSpec(id="b", shape="sphere", color="blue", motion="roll", direction="left", material="wood"),
    ])
    texts = captions(spec, 0, n=12)
    assert any(t.lower().startswith(("two balls", "two spheres", "there are two")) for t in texts), texts
    zh = captions(spec, 0, n=12, lang="zh")
    assert any(t.startswith("两个") for t in zh), zh
    for t in texts + zh:
        assert parse(t).canonical == canonical_caption(spec), t
