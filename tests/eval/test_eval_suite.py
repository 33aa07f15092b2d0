"""The held-out prompt suite: reproducible, held out, balanced, and strict about bad files."""

import json

import pytest

from kinora.errors import KinoraError
from kinora.eval.suite import FIELDS, SUITE_PATH, build_suite, read_suite, subset
from kinora.world.dataset import HELDOUT_SEED_BASE


def test_committed_suite_is_what_build_suite_makes():
    lines = SUITE_PATH.read_text(encoding="utf-8").splitlines()
    assert len(lines) >= 100
    want = [json.dumps(c.to_dict(), ensure_ascii=False) for c in build_suite(len(lines))]
    assert lines == want


def test_suite_is_held_out_and_half_chinese():
    cases = read_suite()
    assert all(c.seed >= HELDOUT_SEED_BASE for c in cases)
    langs = [c.language for c in cases]
    assert langs.count("en") == langs.count("zh") == len(cases) // 2
    assert len({c.id for c in cases}) == len(cases)
    first = json.loads(SUITE_PATH.read_text(encoding="utf-8").splitlines()[0])
    assert set(FIELDS) <= set(first)
    assert all(o.position is not None for c in cases for o in c.spec.objects)  # resolved: the simulator can run it


def test_subset_alternates_languages():
    cases = read_suite()
    assert [c.language for c in subset(cases, 4)] == ["en", "zh", "en", "zh"]
    assert len(subset(cases, None)) == len(cases)
    with pytest.raises(KinoraError, match="at least 1"):
        subset(cases, 0)


@pytest.mark.parametrize("line, message", [
    ("{not json", "malformed JSON"),
    ('{"id": "a"}', "missing field"),
    ('{"id": "a", "prompt": "x", "language": "fr", "spec": {}, "seed": 1, "canonical": ""}', "language 'fr'"),
])
def test_bad_suite_lines_are_one_line_errors(tmp_path, line, message):
    path = tmp_path / "suite.jsonl"
    path.write_text(line + "\n", encoding="utf-8")
    with pytest.raises(KinoraError, match=message):
        read_suite(path)


def test_missing_suite_file(tmp_path):
    with pytest.raises(KinoraError, match="not found"):
        read_suite(tmp_path / "nope.jsonl")


def test_results_table_with_and_without_the_vae_column():
    from kinora.eval.results import comparison_table

    def summ(v):
        return {"alignment": {k: v for k in ("color", "shape", "count", "motion", "camera", "overall")},
                "permanence": v, "physics": {"score": v}, "consistency": v, "smoothness": v, "smoothness_pixel": v,
                "dynamic_degree": v, "drift": {"score": v}, "readable": 1.0, "overall": v}

    with_vae = comparison_table(summ(0.5), summ(1.0), summ(0.9), summ(0.7)).splitlines()
    assert "simulator through the VAE (ceiling)" in with_vae[0]
    assert with_vae[0].count("|") == with_vae[1].count("|") == with_vae[2].count("|") == 7
    assert "| 50.0 % | 100.0 % | 70.0 % | 90.0 % |" in with_vae[2]
    plain = comparison_table(None, summ(1.0), summ(0.9)).splitlines()
    assert "VAE" not in plain[0] and plain[2].count("|") == 6 and "not shipped yet" in plain[2]
    guided = comparison_table(summ(0.5), summ(1.0), summ(0.9), summ(0.7), guided=summ(0.8)).splitlines()
    assert "shipped model, free | shipped model, guided (`--physics`) |" in guided[0]
    assert guided[0].count("|") == guided[1].count("|") == guided[2].count("|") == 8
    assert "| 50.0 % | 80.0 % | 100.0 % | 70.0 % | 90.0 % |" in guided[2]
