import json
from fractions import Fraction

import av
import numpy as np
import pytest

from kinora.errors import KinoraError
from kinora.label import LabelConfig, inspect_video, write_generated_video
from kinora.label.metadata import AIGC_FIELDS, aigc_value, binding_code, check_aigc

ALLOWED = set(chr(c) for c in range(0x21, 0x7F)) - {'"', "\\"}


def test_aigc_value_follows_gb_45438():
    value = aigc_value("Kinora", "0123abcd")
    obj = json.loads(value)
    assert list(obj) == ["AIGC"] and tuple(obj["AIGC"]) == AIGC_FIELDS
    a = obj["AIGC"]
    assert a["Label"] == "1"
    assert a["ContentPropagator"] == a["ContentProducer"] == "Kinora"
    assert a["PropagateID"] == a["ProduceID"] == "0123abcd"
    assert check_aigc(value) == (a, [])


@pytest.mark.parametrize("producer", ["has space", 'quo"te', "back\\slash", "中文", "tab\t"])
def test_values_outside_the_allowed_characters_are_refused(producer):
    with pytest.raises(KinoraError, match="not allowed"):
        aigc_value(producer, "id")


def test_check_aigc_names_what_is_wrong():
    fields, problems = check_aigc('{"AIGC":{"Label":"7","ContentProducer":"a b"}}')
    text = " | ".join(problems)
    assert "ProduceID is missing" in text and "Label must be" in text and "not allowed" in text
    assert check_aigc("not json")[0] is None


def test_written_file_round_trips_through_an_independent_reader(tmp_path, clip, prov, mdta_tags):
    cfg = LabelConfig(content_producer="ExampleStudio-01")
    path = write_generated_video(clip(12, 64, 64), tmp_path / "a.mp4", 8, prov, cfg)
    tags = mdta_tags(path)  # our own box walker: moov/udta/meta, hdlr mdta, keys + ilst
    assert {"AIGC", "kinora_provenance"} <= set(tags)
    a = json.loads(tags["AIGC"])["AIGC"]
    assert tuple(a) == AIGC_FIELDS
    assert a["Label"] == "1" and a["ContentProducer"] == a["ContentPropagator"] == "ExampleStudio-01"
    assert a["ProduceID"] == a["PropagateID"] and len(a["ProduceID"]) == 32
    assert all(set(v) <= ALLOWED for v in a.values())
    p = json.loads(tags["kinora_provenance"])
    assert p["produce_id"] == a["ProduceID"]
    assert a["ReservedCode1"] == binding_code(a["ProduceID"], tags["kinora_provenance"])
    assert p["model"] == "kinora-test" and p["seed"] == 7 and p["truth_mode"] == "story" and p["task"] == "t2v"
    assert p["checkpoint_sha256"] == "ab" * 32 and p["prompt_sha256"] == prov.prompt_sha256
    assert p["visible_label"]["upscale"] == 4 and p["visible_label"]["frame_size"] == [256, 256]
    # Only the prompt's hash is stored, never its text.
    raw = path.read_bytes()
    assert prov.prompt.encode("utf-8") not in raw and "红球".encode("utf-8") not in raw


def test_produce_id_is_unique_per_file(tmp_path, clip, prov, mdta_tags):
    frames = clip(4, 32, 32)
    ids = {json.loads(mdta_tags(write_generated_video(frames, tmp_path / f"{i}.mp4", 8, prov))["AIGC"])
           ["AIGC"]["ProduceID"] for i in range(3)}
    assert len(ids) == 3


def test_labels_survive_reencoding(tmp_path, clip, prov, mdta_tags):
    """A re-encode that keeps metadata the ffmpeg way (use_metadata_tags) keeps both
    the metadata label and, drawn into the pixels, the visible label."""
    src = write_generated_video(clip(20, 64, 64), tmp_path / "src.mp4", 8, prov)
    dst = tmp_path / "reencoded.mp4"
    with av.open(str(src)) as inp, av.open(str(dst), "w", format="mp4",
                                           options={"movflags": "use_metadata_tags"}) as out:
        for k, v in inp.metadata.items():
            out.metadata[k] = v
        s_in = inp.streams.video[0]
        s_out = out.add_stream("libx264", rate=8)
        s_out.width, s_out.height, s_out.pix_fmt = s_in.width // 2, s_in.height // 2, "yuv420p"
        s_out.options = {"crf": "35"}
        s_out.time_base = Fraction(1, 8)
        for i, frame in enumerate(inp.decode(s_in)):
            f = frame.reformat(width=s_out.width, height=s_out.height, format="yuv420p")
            f.pts, f.time_base = i, Fraction(1, 8)
            for packet in s_out.encode(f):
                out.mux(packet)
        for packet in s_out.encode():
            out.mux(packet)
    assert np.array_equal(json.loads(mdta_tags(dst)["AIGC"]), json.loads(mdta_tags(src)["AIGC"]))
    report = inspect_video(dst)
    assert report["ok"], report["problems"]
    assert report["visible_label"]["frame_size"] == [128, 128]
    assert report["visible_label"]["text_height_px"] >= 0.05 * 128
    assert report["visible_label"]["frames"] == [[0, 15]]


def test_exiftool_reads_the_aigc_key_if_installed(tmp_path, clip, prov):
    """A second independent reader (Debian libimage-exiftool-perl), when present."""
    import shutil
    import subprocess

    if shutil.which("exiftool") is None:
        pytest.skip("exiftool is not installed (apt-get install libimage-exiftool-perl)")
    path = write_generated_video(clip(4, 32, 32), tmp_path / "e.mp4", 8, prov)
    out = subprocess.run(["exiftool", "-j", "-G1", "-Keys:all", str(path)], capture_output=True, text=True,
                         check=True).stdout
    keys = json.loads(out)[0]
    a = json.loads(keys["Keys:AIGC"])["AIGC"]
    assert a["Label"] == "1" and a["ProduceID"] == a["PropagateID"]
    assert json.loads(keys["Keys:KinoraProvenance"])["seed"] == 7
