"""The metadata labels: GB 45438's `AIGC` key and Kinora's own provenance key.

GB 45438-2025 asks for an implicit label in the file's metadata: a key containing
"AIGC" whose value is the JSON

    {"AIGC":{"Label":"1","ContentProducer":"...","ProduceID":"...","ReservedCode1":"...",
             "ContentPropagator":"...","PropagateID":"...","ReservedCode2":"..."}}

Label "1" means AI-generated ("2" possibly, "3" suspected). Values are ASCII without
space, double quote or backslash. On first write the propagator is the producer:
ContentPropagator = ContentProducer and PropagateID = ProduceID. Kinora makes ProduceID
a fresh random UUID (32 hex digits) per file, and ReservedCode1 a short SHA-256 code
that binds the AIGC value to the provenance key below, so `inspect` can tell whether
the two belong together. ReservedCode2 (the propagator's) is left empty.

In an MP4 both keys go to moov/udta/meta as mdta keys (what ffmpeg writes with
`-movflags use_metadata_tags`, see `kinora.io.video.write_mp4`); plain ffmpeg without
that flag, or an iTunes-style writer, would drop a key it does not know.

The second key, `kinora_provenance`, is Kinora's own record: model, checkpoint hash,
seed, SHA-256 of the prompt (never the prompt), truth mode, task, version, and how the
visible label was drawn.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import uuid
from typing import Any

from kinora.label.config import LabelConfig, Provenance, check_metadata_value

AIGC_KEY = "AIGC"
PROVENANCE_KEY = "kinora_provenance"
AIGC_FIELDS = ("Label", "ContentProducer", "ProduceID", "ReservedCode1",
               "ContentPropagator", "PropagateID", "ReservedCode2")
LABEL_MEANINGS = {"1": "AI-generated", "2": "possibly AI-generated", "3": "suspected AI-generated"}


def new_produce_id() -> str:
    """A ProduceID that no other file shares: a random UUID as 32 hex digits."""
    return uuid.uuid4().hex


def binding_code(produce_id: str, provenance_json: str) -> str:
    """ReservedCode1: ties the AIGC value to the provenance key (not a signature)."""
    digest = hashlib.sha256((produce_id + "\n" + provenance_json).encode("utf-8")).hexdigest()
    return "kinora-sha256-" + digest[:32]


def aigc_value(content_producer: str, produce_id: str, reserved_code1: str = "") -> str:
    """The JSON text of the `AIGC` key for a file Kinora makes (first write)."""
    fields = {
        "Label": "1",
        "ContentProducer": content_producer,
        "ProduceID": produce_id,
        "ReservedCode1": reserved_code1,
        "ContentPropagator": content_producer,
        "PropagateID": produce_id,
        "ReservedCode2": "",
    }
    for name, value in fields.items():
        check_metadata_value(f"AIGC.{name}", value)
    return json.dumps({"AIGC": fields}, separators=(",", ":"))


def provenance_value(provenance: Provenance, produce_id: str, label: dict[str, Any]) -> str:
    """The JSON text of the `kinora_provenance` key."""
    record = {"produce_id": produce_id,
              "created_utc": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
              **provenance.to_record(),
              "visible_label": label}
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def build_metadata(provenance: Provenance, config: LabelConfig, label: dict[str, Any]) -> dict[str, str]:
    """Both metadata keys for one new file, with a fresh ProduceID."""
    produce_id = new_produce_id()
    prov = provenance_value(provenance, produce_id, label)
    aigc = aigc_value(config.content_producer, produce_id, binding_code(produce_id, prov))
    return {AIGC_KEY: aigc, PROVENANCE_KEY: prov}


def find_key(meta: dict[str, str], name: str) -> tuple[str, str] | None:
    """(key, value) of the first tag named `name`, ignoring case, or None."""
    for k, v in meta.items():
        if k.lower() == name.lower():
            return k, v
    return None


def check_aigc(value: str) -> tuple[dict[str, str] | None, list[str]]:
    """Parse an AIGC value; return (the inner fields or None, problems found)."""
    try:
        obj = json.loads(value)
    except (TypeError, ValueError) as e:
        return None, [f"AIGC value is not JSON ({e})"]
    problems: list[str] = []
    if isinstance(obj, dict) and isinstance(obj.get("AIGC"), dict):
        fields = obj["AIGC"]
    elif isinstance(obj, dict) and "Label" in obj:
        fields = obj
        problems.append('AIGC value lacks the outer {"AIGC": ...} object')
    else:
        return None, ['AIGC value is not an object like {"AIGC": {"Label": "1", ...}}']
    for name in AIGC_FIELDS:
        if name not in fields:
            problems.append(f"AIGC.{name} is missing")
            continue
        try:
            check_metadata_value(f"AIGC.{name}", fields[name])
        except Exception as e:  # KinoraError: one line saying what is wrong
            problems.append(str(e))
    if fields.get("Label") not in LABEL_MEANINGS:
        problems.append(f"AIGC.Label must be \"1\", \"2\" or \"3\", got {fields.get('Label')!r}")
    for name in ("ContentProducer", "ProduceID"):
        if name in fields and not fields[name]:
            problems.append(f"AIGC.{name} is empty")
    return fields, problems


def parse_provenance(value: str) -> dict[str, Any] | None:
    try:
        obj = json.loads(value)
    except (TypeError, ValueError):
        return None
    return obj if isinstance(obj, dict) else None
