"""`make_film` on tiny random weights: every output, the checks and flags, the atomic folder."""

import json

import av
import numpy as np
import pytest

from kinora.errors import KinoraError
from kinora.pipelines.film import carry_state, make_film, verify
from kinora.plan.story import plan_story
from kinora.timeline.project import Project

TEXT = "BERLIN — A red ball rolled left in Hall B at 10:05 on Tuesday, officials said. Then it stopped by a blue cube."


@pytest.fixture(scope="module")
def film(tmp_path_factory, tiny_weights):
    out = tmp_path_factory.mktemp("film") / "news"
    return make_film(TEXT, out, seconds_per_shot=1, max_tries=2, model=str(tiny_weights), steps=1)


def test_every_output_is_written(film):
    names = sorted(p.name for p in film.folder.iterdir())
    assert names == ["film.mp4", "film.otio", "keyframes", "project", "provenance.json", "storyboard.html",
                     "storyboard.pdf"]
    assert not list(film.folder.parent.glob(".news.partial-*"))
    # first, middle and last frame of each of the 2 shots' active takes (8 frames at 1 s)
    assert sorted(p.name for p in (film.folder / "keyframes").iterdir()) == \
        [f"shot-0{n}-{k}.png" for n in (1, 2) for k in (1, 2, 3)]
    assert film.keyframes == [[f"keyframes/shot-0{n}-{k}.png" for k in (1, 2, 3)] for n in (1, 2)]


def test_progress_covers_the_film_in_order(tmp_path, tiny_weights):
    from kinora.progress import reporting

    seen = []
    with reporting(lambda f, m: seen.append((f, m))):
        make_film(TEXT, tmp_path / "f", seconds_per_shot=1, max_tries=1, model=str(tiny_weights), steps=2)
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] < 1.0  # never backwards; render is the last third
    assert abs(fractions[-1] - 2 / 3) < 1e-9 and seen[-1][1] == "render"
    assert any(m.startswith("shot 2/2 · take 1 · sampling") for _, m in seen)
    assert max(f for f, m in seen if m.startswith("shot 1/2")) <= 1 / 3 + 1e-9


def test_previs_folder(tmp_path):
    from kinora.pipelines.film import make_previs

    r = make_previs(TEXT, tmp_path / "board")
    assert sorted(p.name for p in r.folder.iterdir()) == ["keyframes", "plan.json", "storyboard.html",
                                                          "storyboard.pdf"]
    plan = json.loads(r.plan_json.read_text(encoding="utf-8"))
    assert plan["mode"]["mode"] == "news" and len(plan["shots"]) == 2 == len(r.keyframes)
    assert all((r.folder / k).exists() for keys in r.keyframes for k in keys)
    with pytest.raises(KinoraError, match="already exists"):
        make_previs(TEXT, tmp_path / "board")


def test_provenance_traces_every_element_and_every_take(film):
    prov = json.loads(film.provenance.read_text(encoding="utf-8"))
    assert prov["mode"]["mode"] == "news" and prov["mode"]["cues"]
    assert len(prov["shots"]) == 2
    for shot in prov["shots"]:
        assert shot["invented"] == []  # news: nothing invented
        v = shot["verification"]
        assert 1 <= len(v["tries"]) <= 2
        assert v["passed"] or v["flag"]  # verified or flagged, never silent
        assert all("scores" in t and "objects" in t for t in v["tries"])
        for o in shot["spec"]["objects"]:
            for f in o["source"]["fields"].values():
                # a span of the text, the news convention, carried from an earlier shot, derived from the
                # layout, or {} where the field does not apply (the direction of a still thing)
                assert "start" in f or f.get("unstated") or f.get("carried") or f.get("derived") or f == {}


def test_takes_are_kept_and_flagged_shots_carry_the_notice(film):
    p = Project.load(film.project)
    prov = json.loads(film.provenance.read_text(encoding="utf-8"))
    for shot, res in zip(p.doc.shots, prov["shots"]):
        assert len(shot.takes) == len(res["verification"]["tries"])  # a failing take is kept, not deleted
        assert shot.active == res["verification"]["active"]
        assert bool(shot.active_take().notice) == (not res["verification"]["passed"])  # news: the notice
    with av.open(str(film.film)) as c:
        label = json.loads(c.metadata["kinora_provenance"])["visible_label"]
    flagged = [s for s in prov["shots"] if not s["verification"]["passed"]]
    assert bool(label.get("notices")) == bool(flagged)


def test_an_existing_folder_is_not_overwritten(film, tiny_weights):
    with pytest.raises(KinoraError, match="not empty"):
        make_film(TEXT, film.folder, model=str(tiny_weights), steps=1)
    with pytest.raises(KinoraError, match="max-tries"):
        make_film(TEXT, film.folder.parent / "x", max_tries=0, model=str(tiny_weights))
    assert not (film.folder.parent / "x").exists()


def test_verification_by_mode_on_simulator_frames():
    from kinora.world.sim import simulate

    plan = plan_story("A red ball rolls left.", mode="story", seconds_per_shot=2)
    spec = plan.shots[0].spec
    clip = simulate(spec)
    for mode in ("news", "story", "knowledge"):
        check = verify(clip.frames, spec, mode, 8, clip.spec)
        assert check["passed"], check["failing"]
        assert check["objects"]["e1"]["color"] == "red"
    assert check["physics"]["trajectory_error_px"] < 1.0  # the simulator against itself
    wrong = verify(np.ascontiguousarray(clip.frames[..., ::-1]), spec, "news", 8)  # red drawn blue
    assert not wrong["passed"]


def test_a_continuing_shot_starts_where_the_last_ended():
    from kinora.world.sim import simulate

    plan = plan_story("A red ball rolls left. Then a blue cube falls.", seconds_per_shot=2)
    first = simulate(plan.shots[0].spec)
    nxt = carry_state(plan.shots[1].spec, first)
    end = first.truth["frames"][-1]["objects"][0]["position"]
    assert nxt.object("e1").position == pytest.approx(end)
