"""OpenTimelineIO: the film out as a timeline, an editor's changes back in as a new revision."""

import numpy as np
import opentimelineio as otio
import pytest

from kinora.errors import KinoraError
from kinora.timeline import edits
from kinora.timeline.otio import export_otio, import_otio
from kinora.timeline.project import Project


@pytest.fixture()
def film(tmp_path, tiny_weights):
    edits.new_project(tmp_path / "film", ["a red ball rolls left", "a blue cube falls", "a green ball"],
                      seconds=1.0, model=str(tiny_weights), steps=1)
    return tmp_path / "film"


def test_export_references_every_take_with_its_metadata(film, tmp_path):
    path = export_otio(film, tmp_path / "film.otio")
    tl = otio.adapters.read_from_file(str(path))
    clips = list(tl.find_clips())
    assert [c.metadata["kinora"]["shot"] for c in clips] == ["s1", "s2", "s3"]
    c = clips[1]
    assert c.metadata["kinora"]["prompt"] == "a blue cube falls" and c.metadata["kinora"]["seed"] == 1
    assert c.source_range.duration.value == 8 and c.source_range.duration.rate == 8
    assert c.media_reference.target_url.endswith("takes/s2-t1.mp4")
    assert (film / "takes" / "s2-t1.mp4").exists()
    # A round trip through OTIO's own reader and writer is the same timeline.
    again = otio.adapters.read_from_string(otio.adapters.write_to_string(tl, "otio_json"), "otio_json")
    assert again.is_equivalent_to(tl)


def test_an_editors_reorder_trim_and_removal_come_back(film, tmp_path):
    path = export_otio(film, tmp_path / "film.otio")
    tl = otio.adapters.read_from_file(str(path))
    track = tl.tracks[0]
    third = track[2]
    first = track[0]
    del track[2]
    track.insert(0, third)  # s3 first
    del track[2]  # s2 removed
    first.source_range = otio.opentime.TimeRange(otio.opentime.RationalTime(2, 8), otio.opentime.RationalTime(4, 8))
    otio.adapters.write_to_file(tl, str(tmp_path / "edited.otio"))
    p0 = Project.load(film)
    whole = edits.take_frames(p0, p0.shot(1).active_take()).copy()
    rev = import_otio(film, tmp_path / "edited.otio")
    p = Project.load(film)
    assert rev == p.doc.revision and [s.id for s in p.doc.shots] == ["s3", "s1"]
    t = p.shot(2).active_take()
    assert t.id == "t2" and t.edit["from"] == "otio"
    assert np.array_equal(edits.take_frames(p, t), whole[2:6])
    assert p.doc.log[-1]["removed"] == ["s2"]


def test_what_cannot_be_mapped_is_refused_and_changes_nothing(film, tmp_path):
    path = export_otio(film, tmp_path / "film.otio")
    rev = Project.load(film).doc.revision

    def edited(change):
        tl = otio.adapters.read_from_file(str(path))
        change(tl.tracks[0])
        out = tmp_path / "bad.otio"
        otio.adapters.write_to_file(tl, str(out))
        return out

    with pytest.raises(KinoraError, match="appears twice"):
        import_otio(film, edited(lambda tr: tr.append(tr[0].clone())))
    with pytest.raises(KinoraError, match="Transition .* Kinora cannot render"):
        import_otio(film, edited(lambda tr: tr.insert(1, otio.schema.Transition(
            transition_type="Custom_Wipe", in_offset=otio.opentime.RationalTime(1, 8),
            out_offset=otio.opentime.RationalTime(1, 8)))))
    with pytest.raises(KinoraError, match="not a shot of this project"):
        import_otio(film, edited(lambda tr: tr.append(otio.schema.Clip(name="stock footage"))))
    with pytest.raises(KinoraError, match="outside its take"):
        def longer(tr):
            tr[0].source_range = otio.opentime.TimeRange(otio.opentime.RationalTime(4, 8),
                                                         otio.opentime.RationalTime(8, 8))
        import_otio(film, edited(longer))
    (tmp_path / "junk.otio").write_text("not json")
    with pytest.raises(KinoraError, match="not a timeline OpenTimelineIO can read"):
        import_otio(film, tmp_path / "junk.otio")
    assert Project.load(film).doc.revision == rev
    with pytest.raises(KinoraError, match="already exists"):
        export_otio(film, path)


def test_a_crossfade_goes_out_as_a_dissolve_and_comes_back(film, tmp_path):
    edits.crossfade(film, 1, 0.5)
    path = export_otio(film, tmp_path / "film.otio")
    tl = otio.adapters.read_from_file(str(path))
    tr = [x for x in tl.tracks[0] if isinstance(x, otio.schema.Transition)]
    assert len(tr) == 1 and (tr[0].in_offset + tr[0].out_offset).value == 4
    clips = list(tl.find_clips())  # each side gives the dissolve 2 frames: the timeline is as long as the film
    assert [(c.source_range.start_time.value, c.source_range.duration.value) for c in clips] == \
        [(0, 6), (2, 6), (0, 8)]
    assert tl.duration().value == 20
    edits.crossfade(film, 1, 0)
    assert Project.load(film).shot(2).transition is None
    import_otio(film, path)
    assert Project.load(film).shot(2).transition == {"kind": "crossfade", "frames": 4}


def test_premiere_xml_and_edl_at_an_editor_timebase(film, tmp_path):
    edits.crossfade(film, 1, 0.5)
    xml = export_otio(film, tmp_path / "film.xml")
    tl = otio.adapters.read_from_file(str(xml))
    clips = list(tl.find_clips())
    assert len(clips) == 3 and clips[0].source_range.duration.rate == 24
    assert clips[2].source_range.duration.value == 24  # 8 film frames = 1 s = 24 editor frames
    r = clips[1].source_range  # gave 2 film frames (6 editor frames) to the dissolve, as handles
    assert (r.start_time.value, r.duration.value) == (6, 18)
    assert "s2-t1.mp4" in clips[1].media_reference.target_url
    edl = export_otio(film, tmp_path / "film.edl").read_text()
    assert edl.count("s1-t1") + edl.count("s2-t1") + edl.count("s3-t1") >= 3
    with pytest.raises(KinoraError, match="cannot write a timeline as .aaf"):
        export_otio(film, tmp_path / "film.aaf")
