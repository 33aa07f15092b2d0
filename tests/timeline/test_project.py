"""Film projects on tiny random weights: takes, revisions, edits that never destroy, the film."""

import json

import numpy as np
import pytest

from kinora.errors import KinoraError
from kinora.timeline import edits
from kinora.timeline.project import Project
from kinora.timeline.render import render

SETTINGS = {"steps": 1}


@pytest.fixture()
def film(tmp_path, tiny_weights):
    edits.new_project(tmp_path / "film", ["a red ball rolls left", "一个蓝色的方块掉下来"], seconds=1.0,
                      model=str(tiny_weights), **SETTINGS)
    return tmp_path / "film"


def frames_of(folder, shot):
    p = Project.load(folder)
    return edits.take_frames(p, p.shot(shot).active_take())


def test_a_new_project_has_one_take_per_shot(film):
    p = Project.load(film)
    assert [s.prompt for s in p.doc.shots] == ["a red ball rolls left", "一个蓝色的方块掉下来"]
    assert [s.active for s in p.doc.shots] == ["t1", "t1"]
    t = p.shot(2).take(1)
    assert (t.seed, t.task, t.num_frames, t.model) == (1, "t2v", 8, "kinora-tiny")
    assert t.settings["steps"] == 1 and t.settings["fps"] == 8
    assert p.shot(2).spec["objects"][0]["color"] == "blue"
    assert (film / t.frames).exists() and (film / t.preview).exists()
    assert p.doc.revision == 2 and p.revisions() == [1, 2]


def test_edits_make_new_takes_and_keep_the_old_ones(film):
    before = frames_of(film, 1).copy()
    t2 = edits.regenerate(film, 1)
    assert (t2.id, t2.parent, t2.seed, t2.edit["kind"]) == ("t2", "t1", 1, "regenerate")
    assert not np.array_equal(frames_of(film, 1), before)
    t3 = edits.reprompt(film, 1, "a green cube slides right")
    p = Project.load(film)
    assert p.shot(1).prompt == "a green cube slides right" and p.shot(1).spec["objects"][0]["color"] == "green"
    assert t3.edit == {"kind": "reprompt", "prompt": "a green cube slides right", "from": "a red ball rolls left"}
    edits.use(film, 1, 1)
    assert np.array_equal(frames_of(film, 1), before)  # take 1 untouched by everything since
    assert [t.id for t in Project.load(film).shot(1).takes] == ["t1", "t2", "t3"]


def test_undo_brings_back_a_revision_as_a_new_one(film):
    edits.delete_shot(film, 1)
    assert [s.id for s in Project.load(film).doc.shots] == ["s2"]
    rev, back_to = edits.undo(film)
    p = Project.load(film)
    assert [s.id for s in p.doc.shots] == ["s1", "s2"] and back_to == 2 and rev == p.doc.revision == 4
    assert p.doc.log[-1]["change"] == "back to revision 2"


def test_shots_are_added_moved_and_deleted(film):
    s = edits.add_shot(film, "a yellow cylinder falls", at=1, seconds=0.5, seed=5)
    assert s.id == "s3" and [x.id for x in Project.load(film).doc.shots] == ["s3", "s1", "s2"]
    edits.move_shot(film, 1, 3)
    assert [x.id for x in Project.load(film).doc.shots] == ["s1", "s2", "s3"]
    edits.delete_shot(film, 2)
    assert [x.id for x in Project.load(film).doc.shots] == ["s1", "s3"]


def test_the_film_is_the_active_takes_in_order(film, tmp_path):
    from kinora.io.video import metadata_json, read_video
    from kinora.label.inspect import inspect_video

    r = render(film, tmp_path / "film.mp4")
    assert r.frames == 16 and [s["frames"] for s in r.shots] == [[0, 7], [8, 15]]
    frames, fps, meta = read_video(r.path)
    assert len(frames) == 16 and fps == 8
    prov = metadata_json(meta, "kinora_provenance")
    assert prov["task"] == "film" and [s["take"] for s in prov["settings"]["shots"]] == ["t1", "t1"]
    assert inspect_video(r.path)["ok"]
    with pytest.raises(KinoraError, match="already exists"):
        render(film, tmp_path / "film.mp4")


def test_bad_requests_are_one_line_and_change_nothing(film, tmp_path):
    rev = Project.load(film).doc.revision
    with pytest.raises(KinoraError, match="there is no shot 5: the project has 2 shot"):
        edits.regenerate(film, 5)
    with pytest.raises(KinoraError, match="shot s1 has no take 't9'"):
        edits.use(film, 1, 9)
    with pytest.raises(KinoraError, match="--to 7 is out of range"):
        edits.move_shot(film, 1, 7)
    with pytest.raises(KinoraError, match="nothing to undo"):
        edits.undo(tmp_path / "film", revision=0)
    assert Project.load(film).doc.revision == rev
    with pytest.raises(KinoraError, match="already holds a project"):
        edits.new_project(film, ["x"], **SETTINGS)
    with pytest.raises(KinoraError, match="no project at"):
        Project.load(tmp_path / "nowhere")


def test_a_changed_take_is_never_used(film, tmp_path):
    p = Project.load(film)
    path = film / p.shot(1).active_take().frames
    path.write_bytes(path.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(KinoraError, match="changed since take t1 was made"):
        render(film, tmp_path / "film.mp4")
    assert not (tmp_path / "film.mp4").exists()


def test_foreign_newer_and_damaged_documents(film):
    doc = film / "project.json"
    d = json.loads(doc.read_text())
    doc.write_text(json.dumps({**d, "schema": 99}))
    with pytest.raises(KinoraError, match="written by a newer Kinora"):
        Project.load(film)
    doc.write_text(json.dumps({"hello": 1}))
    with pytest.raises(KinoraError, match="is not a Kinora project"):
        Project.load(film)
    doc.write_text("{broken")
    with pytest.raises(KinoraError, match="cannot be read"):
        Project.load(film)


def test_a_second_writer_is_refused(film):
    with Project.open(film, write=True):
        with pytest.raises(KinoraError, match="another process is changing project"):
            edits.use(film, 1, 1)


def test_a_failed_new_project_leaves_nothing(tmp_path, tiny_weights):
    with pytest.raises(KinoraError):
        edits.new_project(tmp_path / "f", ["a red ball", "   "], model=str(tiny_weights), **SETTINGS)
    with pytest.raises(KinoraError):
        edits.new_project(tmp_path / "g", ["a red ball"], seconds=10_000, model=str(tiny_weights), **SETTINGS)
    assert not (tmp_path / "f").exists() and not (tmp_path / "g").exists()


def test_cli_round_trip(tmp_path, tiny_weights, capsys):
    from kinora.cli import main

    f = str(tmp_path / "cli")
    assert main(["project", "new", f, "--prompt", "a red ball rolls left", "--seconds", "0.5",
                 "--model", str(tiny_weights), "--steps", "1"]) == 0
    assert main(["project", "edit", f, "--shot", "1", "--regenerate"]) == 0
    assert main(["project", "show", f]) == 0
    out = capsys.readouterr().out
    assert ("| 1 | s1 | a red ball rolls left | t2 | t1: generate, seed 0, 4; *t2: regenerate from t1, seed 1, 4 |"
            in out)
    assert main(["project", "use", f, "--shot", "1", "--take", "3"]) == 2
    assert "has no take 't3'" in capsys.readouterr().err
    assert main(["project", "render", f, "-o", str(tmp_path / "f.mp4")]) == 0


def test_a_project_that_fails_half_way_is_removed(tmp_path, tiny_weights, monkeypatch):
    real, calls = edits.write_take, []

    def second_fails(*a, **k):
        calls.append(1)
        if len(calls) == 2:
            raise KinoraError("disk full (simulated)")
        return real(*a, **k)

    monkeypatch.setattr(edits, "write_take", second_fails)
    with pytest.raises(KinoraError, match="simulated"):
        edits.new_project(tmp_path / "h", ["a red ball", "a blue cube"], seconds=0.5, model=str(tiny_weights),
                          **SETTINGS)
    assert not (tmp_path / "h").exists()


def test_trim_and_split_copy_frames_bit_for_bit(film):
    whole = frames_of(film, 1).copy()  # 8 frames at 8 fps
    t = edits.trim(film, 1, 0.25, 0.75)
    assert t.edit["frames"] == [2, 6] and t.parent == "t1" and t.task == "edit"
    assert np.array_equal(frames_of(film, 1), whole[2:6])
    edits.use(film, 1, 1)
    first, rest = edits.split(film, 1, 0.5)
    p = Project.load(film)
    assert [s.id for s in p.doc.shots] == ["s1", "s3", "s2"] and rest.id == "s3"
    assert np.array_equal(frames_of(film, 1), whole[:4]) and np.array_equal(frames_of(film, 2), whole[4:])
    assert p.shot(2).active_take().parent == "s1/t1" and p.shot(2).prompt == p.shot(1).prompt
    with pytest.raises(KinoraError, match="outside the take"):
        edits.trim(film, 1, 0.0, 9.0)
    with pytest.raises(KinoraError, match="must fall inside the take"):
        edits.split(film, 1, 0.0)
    with pytest.raises(KinoraError, match="keeps the whole take"):
        edits.trim(film, 1)


def test_loop_bridge_and_crossfade(film, tmp_path):
    whole = frames_of(film, 1).copy()
    t = edits.loop(film, 1, 0.5)
    looped = frames_of(film, 1)
    assert t.task == "loop" and len(looped) == 12 and np.array_equal(looped[:8], whole)
    mid = edits.bridge(film, 1, 0.5)
    p = Project.load(film)
    assert [s.id for s in p.doc.shots] == ["s1", "s3", "s2"] and mid.takes[0].num_frames == 4
    assert mid.takes[0].edit["from"] == "s1/t2" and mid.takes[0].edit["to"] == "s2/t1"
    edits.crossfade(film, 2, 0.25)
    r = render(film, tmp_path / "film.mp4")
    assert r.frames == 12 + 4 + 8 - 2 and r.shots[2]["crossfade_in"] == 2
    with pytest.raises(KinoraError, match="is the last one"):
        edits.crossfade(film, 3, 0.25)
    with pytest.raises(KinoraError, match="out of range"):
        edits.crossfade(film, 1, 2.0)
    with pytest.raises(KinoraError, match="even number of frames"):
        edits.crossfade(film, 1, 0.125)


def test_dissolve_weights():
    from kinora.timeline.render import dissolve

    a, b = np.zeros((3, 2, 2, 3), np.uint8), np.full((3, 2, 2, 3), 200, np.uint8)
    assert dissolve(a, b)[:, 0, 0, 0].tolist() == [50, 100, 150]


def test_a_planned_project_gets_its_takes_when_rendered(tmp_path, tiny_weights):
    f = tmp_path / "planned"
    edits.new_project(f, ["a red ball rolls left", "a blue cube"], seconds=0.5, model=str(tiny_weights),
                      generate=False, **SETTINGS)
    p = Project.load(f)
    assert [s.takes for s in p.doc.shots] == [[], []] and p.shot(1).spec["objects"][0]["color"] == "red"
    with pytest.raises(KinoraError, match="has no take yet"):
        p.shot(1).active_take()
    r = render(f, tmp_path / "f.mp4")
    p = Project.load(f)
    assert r.frames == 8 and [s.active for s in p.doc.shots] == ["t1", "t1"] and p.shot(2).take(1).seed == 1
    assert not list((f / "takes").glob(".*progress*"))
