"""The film eval's texts and measures."""

from collections import Counter

from kinora.eval.film import load_texts, reading, registry_matches
from kinora.plan.story import Entity


def test_the_texts_are_what_the_eval_says():
    for lang in ("en", "zh"):
        rows = load_texts(lang, "all")
        assert len(rows) == 330 and len({r["id"] for r in rows}) == 330
        assert Counter(r["type"] for r in rows) == {"news": 110, "knowledge": 110, "story": 110}
        held = Counter(r["type"] for r in rows if r["split"] == "heldout")
        assert all(v >= 36 for v in held.values())


def test_registry_matching_is_exact():
    ents = [Entity("e1", "sphere", "red", "small"), Entity("e2", "cube", "blue", "large")]
    gold = [{"shape": "sphere", "color": "red", "size": None, "material": None},
            {"shape": "cube", "color": None, "size": "large", "material": None}]
    assert registry_matches(gold, ents)
    assert not registry_matches(gold[:1], ents)  # an extra entity
    assert not registry_matches(gold + [{"shape": "cylinder", "color": None, "size": None, "material": None}], ents)


def test_reading_measures_per_language():
    r = reading("heldout", ("en",))["en"]
    assert r["texts"] >= 108
    assert 0.8 < r["type_accuracy"] <= 1.0 and 0.5 < r["entity_exact"] <= 1.0
    assert sum(r["confusion"].values()) == r["texts"]
