"""The paraphrase suite's format and the understanding scorer, on tiny suites written here."""

import json

import pytest

from kinora.errors import KinoraError
from kinora.eval.paraphrase import load_suite, read_file
from kinora.eval.understanding import (
    UnderstandingSettings,
    labelled_spec,
    match_objects,
    run_understanding,
    score_item,
    summarize,
    warned,
)
from kinora.plan import parse


def _suite(tmp_path, split, rows):
    path = tmp_path / f"{split}-x.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    return read_file(path, split)


def _row(text, objects, lang="en", classes=("basic",), **kw):
    return {"id": f"{lang}-{abs(hash(text)) % 10**8}", "lang": lang, "text": text, "classes": list(classes),
            "objects": objects, **kw}


def test_the_committed_suite_is_well_formed_and_big_enough():
    for split in ("dev", "heldout"):
        items = load_suite(split)
        assert sum(it.lang == "en" for it in items) >= 500 and sum(it.lang == "zh" for it in items) >= 500
    ids = [it.id for it in load_suite("all")]
    assert len(ids) == len(set(ids))
    texts = {it.text for it in load_suite("dev")}
    shared = texts & {it.text for it in load_suite("heldout")}
    assert len(shared) == 0  # the parts share no prompt (the count only: held-out prompts are not shown)


@pytest.mark.parametrize("row, msg", [
    ({"id": "a", "lang": "fr", "text": "x", "classes": ["basic"]}, "lang"),
    ({"id": "a", "lang": "en", "text": "a ball", "classes": ["nope"]}, "classes"),
    (_row("a ball", [{"shape": "pyramid"}]), "shape"),
    (_row("a ball", [{"shape": "sphere", "target": 0}]), "target"),
    (_row("a ball", [{"shape": "sphere"}], warn=["cube"]), "does not occur"),
    (_row("a ball", [{"shape": "sphere"}], camera={"motion": "tilt"}), "camera"),
])
def test_a_bad_line_is_refused_with_its_line_number(tmp_path, row, msg):
    with pytest.raises(KinoraError, match=f"line 1: .*{msg}"):
        _suite(tmp_path, "dev", [row])


def test_warned_counts_only_the_words_a_warning_quotes():
    assert warned("rolls", ["a cube cannot roll ('roll'); ..."]) and warned("orange", ["'orange' is not ..."])
    assert warned("several", ["'several balls' does not say how many"]) and warned("滚", ["a cube cannot roll ('滚')"])
    assert not warned("orange", ["'pink' is not ..."])
    # the fixed wording around the quoted words does not count
    assert not warned("pushes", ["'flies' is not a motion the micro-world has (it has still, fall, push, topple)"])
    assert not warned("bal", ["'dog' cannot be shown (the micro-world has balls, cubes and cylinders)"])
    assert not warned("滚", ["unknown word '旋转'; nearest known word is '滚动'"])  # a hint names no prompt word
    assert warned("旋转", ["unknown word '旋转'; nearest known word is '滚动'"])


def test_an_exact_reading_scores_every_field():
    (it,) = _suite_rows([_row("a red ball rolls left", [{"shape": "sphere", "color": "red", "motion": "roll",
                                                            "direction": "left"}], camera={"motion": "static"})])
    s = score_item(it, simulate=True)
    assert s.exact and s.sim_pass and s.problems == []
    assert sorted(f for f, _ in s.fields) == sorted(["shape", "color", "motion", "direction", "count", "camera.motion"])


def _suite_rows(rows, split="dev"):
    import tempfile
    from pathlib import Path

    return _suite(Path(tempfile.mkdtemp()), split, rows)


def test_objects_are_matched_in_the_order_that_fits_best():
    spec = parse("a blue cube and a red ball").spec
    m, fields = match_objects([{"shape": "sphere", "color": "red"}, {"shape": "cube", "color": "blue"}], spec)
    assert m == (1, 0) and all(ok for _, ok in fields)


def test_a_wrong_field_a_missing_warning_and_a_wrong_count_are_problems():
    items = _suite_rows([
        _row("a red ball rolls left", [{"shape": "sphere", "color": "red", "motion": "roll", "direction": "right"}]),
        _row("an orange ball", [{"shape": "sphere", "color": "yellow"}], warn=["orange"]),
        _row("a ball and a cube", [{"shape": "sphere"}]),
        _row("seven balls", [], error=True),
        _row("some balls", None, warn=["some"]),
    ])
    s = [score_item(it, simulate=False) for it in items]
    assert s[0].problems == ["direction"] and not s[0].exact
    assert s[1].exact and s[1].silent == []
    assert "count" in s[2].problems
    assert s[3].exact  # refused as labelled
    assert s[4].exact and s[4].fields == []
    summary = summarize(s)
    assert summary["en"]["n"] == 5 and summary["en"]["exact"] == 0.6 and summary["en"]["silent"] == 0


def test_a_misread_that_the_simulator_shows_fails_the_simulator_check():
    (it,) = _suite_rows([_row("a red ball rolls left", [{"shape": "sphere", "color": "blue", "motion": "roll",
                                                            "direction": "left"}])])
    s = score_item(it, simulate=True)
    assert s.sim_pass is False and "sim" in s.problems
    want = labelled_spec(it, parse(it.text, duration=None).spec, (0,))
    assert want.objects[0].color == "blue" and want.objects[0].direction == "left"


def test_held_out_failures_show_no_words(tmp_path, monkeypatch):
    rows = [_row("an orange ball", [{"shape": "sphere", "color": "red"}], warn=["orange"])]
    _suite(tmp_path, "heldout", rows)
    monkeypatch.setattr("kinora.eval.understanding.load_suite", lambda split: load_suite(split, tmp_path))
    run = run_understanding(UnderstandingSettings(split="heldout", simulate=False, out=str(tmp_path / "out")))
    assert run.failures == [{"id": rows[0]["id"], "problems": ["color"]}]
    assert "orange" not in run.report and "orange" not in (tmp_path / "out" / "understanding.json").read_text()
    assert (tmp_path / "out" / "report.md").read_text() == run.report
