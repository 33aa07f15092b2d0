import pytest

from kinora.errors import KinoraError
from kinora.label import LabelConfig, inspect_video, write_generated_video
from kinora.label.content_credentials import TRAINED_ALGORITHMIC_MEDIA, available

pytestmark = pytest.mark.skipif(not available(), reason="c2pa-python is not installed (pip install 'kinora[c2pa]')")


def test_signed_file_carries_a_created_manifest_and_all_labels(tmp_path, clip, prov, c2pa_chain, mdta_tags):
    chain, key, _ = c2pa_chain
    cfg = LabelConfig(c2pa_cert=str(chain), c2pa_key=str(key))
    path = write_generated_video(clip(17, 64, 64), tmp_path / "signed.mp4", 8, prov, cfg)
    r = inspect_video(path)
    assert r["ok"], r["problems"]
    c = r["c2pa"]
    assert c["present"] and c["validation_state"] in ("Valid", "Trusted")
    assert c["actions"][0] == "c2pa.created"
    assert c["digital_source_type"] == TRAINED_ALGORITHMIC_MEDIA
    assert c["signer"]["common_name"] == "Kinora Test Signer"
    assert c["kinora_provenance"]["produce_id"] == r["aigc"]["ProduceID"]
    assert "AIGC" in mdta_tags(path)  # signing kept the GB 45438 key in moov/udta/meta


def test_changed_file_fails_validation(tmp_path, clip, prov, c2pa_chain):
    chain, key, _ = c2pa_chain
    path = write_generated_video(clip(9, 64, 64), tmp_path / "s.mp4", 8, prov,
                                 LabelConfig(c2pa_cert=str(chain), c2pa_key=str(key)))
    data = bytearray(path.read_bytes())
    data[-100] ^= 0xFF  # one byte of the picture data
    path.write_bytes(bytes(data))
    r = inspect_video(path)
    assert r["c2pa"]["validation_state"] == "Invalid"
    assert not r["ok"] and any("C2PA manifest is invalid" in p for p in r["problems"])


def test_self_signed_certificate_is_refused_and_nothing_is_written(tmp_path, clip, prov, c2pa_chain):
    _, _, root_only = c2pa_chain
    root_key = root_only.parent / "root.key"
    cfg = LabelConfig(c2pa_cert=str(root_only), c2pa_key=str(root_key))
    with pytest.raises(KinoraError, match="C2PA signing failed"):
        write_generated_video(clip(4, 32, 32), tmp_path / "x.mp4", 8, prov, cfg)
    assert list(tmp_path.iterdir()) == []


def test_unreadable_key_is_a_clear_error(tmp_path, clip, prov, c2pa_chain):
    chain, _, _ = c2pa_chain
    bad = tmp_path / "bad.key"
    bad.write_text("not a key")
    with pytest.raises(KinoraError, match="not a PEM file"):
        write_generated_video(clip(4, 32, 32), tmp_path / "x.mp4", 8, prov,
                              LabelConfig(c2pa_cert=str(chain), c2pa_key=str(bad)))
