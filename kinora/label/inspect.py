"""`inspect_video`: is this MP4 properly labeled as AI-generated? Works on any MP4.

It reports, and judges:
* the visible label: found by template matching (`detect.py`) in which frames, in
  which corner, at what text height. Passes when it is in the first frame, its text
  is at least 5 % of the shortest side (one pixel of slack for measuring a possibly
  rescaled file), and it stays for the first 2 s (or the whole video if shorter);
* the metadata label: the `AIGC` key and its GB 45438 JSON (fields, allowed
  characters, Label 1/2/3). Passes when present and well formed;
* Kinora's provenance key, if any, and whether its binding code matches the AIGC key;
* the C2PA manifest, if any (needs c2pa-python): a manifest that fails validation
  (the file changed after signing) fails the check.

A file that is missing, empty, truncated or not a video raises `KinoraError` with a
one-line reason instead of a report.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

from kinora.errors import KinoraError
from kinora.label import content_credentials, detect
from kinora.label.config import CHINESE_TEXT, ENGLISH_TEXT, MIN_SECONDS, MIN_TEXT_HEIGHT
from kinora.label.metadata import (
    AIGC_KEY,
    LABEL_MEANINGS,
    PROVENANCE_KEY,
    binding_code,
    check_aigc,
    find_key,
    parse_provenance,
)

MAX_SEARCHES = 16  # full-frame label searches per video (tracking covers the frames between)


def check_container(path: Path) -> None:
    """Refuse, with a clear reason, anything that is not a complete MP4 (ISO BMFF) file.

    Walks the top-level boxes: each must have a printable type and fit in the file, so
    a file cut short (a download or copy that stopped) is caught here."""
    if not path.exists():
        raise KinoraError(f"file not found: {path}")
    if not path.is_file():
        raise KinoraError(f"not a file: {path}")
    size = path.stat().st_size
    if size == 0:
        raise KinoraError(f"{path} is empty (0 bytes), not a video")
    with open(path, "rb") as f:
        pos, types = 0, []
        while pos < size:
            f.seek(pos)
            head = f.read(16)
            if len(head) < 8:
                raise KinoraError(f"{path} is truncated: {size - pos} stray bytes after the last complete box")
            n, kind = struct.unpack(">I4s", head[:8])
            if n == 1 and len(head) >= 16:
                n = struct.unpack(">Q", head[8:16])[0]
            elif n == 0:
                n = size - pos  # box runs to the end of the file
            if not all(32 <= c < 127 for c in kind) or n < 8:
                if pos == 0:
                    raise KinoraError(f"{path} is not an MP4 video (no ISO media box at its start)")
                raise KinoraError(f"{path} is damaged: garbage at byte {pos} after boxes {', '.join(types)}")
            name = kind.decode("ascii")
            if pos == 0 and name not in ("ftyp", "free", "skip", "wide", "moov", "mdat", "pnot", "uuid"):
                raise KinoraError(f"{path} is not an MP4 video (it does not start with an MP4 box)")
            if pos + n > size:
                raise KinoraError(
                    f"{path} is truncated: its '{name}' box needs {n} bytes but only {size - pos} remain; "
                    "the file was cut short (re-download or re-export it)")
            types.append(name)
            pos += n
    if "moov" not in types:
        raise KinoraError(f"{path} has no 'moov' box (no index of its media); it is incomplete or not a video")


def _scan_frames(path: Path) -> dict[str, Any]:
    """Decode the video's luma frame by frame and find the visible label."""
    import av

    try:
        container = av.open(str(path))
    except Exception as e:  # PyAV raises many error types for broken files
        raise KinoraError(f"cannot open {path} as a video: {type(e).__name__}: {e}".splitlines()[0]) from None
    with container:
        if not container.streams.video:
            raise KinoraError(f"{path} has no video stream")
        stream = container.streams.video[0]
        fps = float(stream.average_rate or stream.guessed_rate or 0) or None
        meta = dict(container.metadata)
        known = stream.frames or 0
        step = max(1, known // MAX_SEARCHES) if known else max(1, round(2 * (fps or 8)))
        first = None  # the first full search hit: the label's reference size
        last = None  # the last place it was seen, for tracking
        hits, times, width, height = [], [], 0, 0
        english = None
        i, searches = -1, 0
        try:
            for i, frame in enumerate(container.decode(stream)):
                gray = frame.to_ndarray(format="gray")  # (H, W) uint8 luma
                height, width = gray.shape
                times.append(frame.time if frame.time is not None else (i / fps if fps else i))
                m = detect.track(gray, last) if last is not None else None
                if m is None and first is None and i % step == 0 and searches <= MAX_SEARCHES:
                    searches += 1
                    m = detect.search(gray)
                if m is not None:
                    if first is None:
                        first = m
                        english = detect.english_score(gray, m)
                    last = m
                    hits.append(i)
        except KinoraError:
            raise
        except Exception as e:
            if i < 0:
                raise KinoraError(f"cannot decode {path}: {type(e).__name__}: {e}".splitlines()[0]) from None
            raise KinoraError(
                f"{path} is damaged: decoding stopped after {i + 1} frames "
                f"({type(e).__name__}: {e})".splitlines()[0]) from None
    if i < 0:
        raise KinoraError(f"{path} has no decodable frames; it may be truncated")
    n = i + 1
    if fps is None:
        fps = (n - 1) / (times[-1] - times[0]) if n > 1 and times[-1] > times[0] else 1.0
    return {"meta": meta, "fps": fps, "frames": n, "times": times, "width": width, "height": height,
            "first": first, "hits": hits, "english": english}


def _ranges(idx: list[int]) -> list[list[int]]:
    out: list[list[int]] = []
    for i in idx:
        if out and i == out[-1][1] + 1:
            out[-1][1] = i
        else:
            out.append([i, i])
    return out


def _visible_report(scan: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    n, fps, W, H = scan["frames"], scan["fps"], scan["width"], scan["height"]
    short = min(W, H)
    t = scan["times"]
    if not all(b > a for a, b in zip(t, t[1:])):  # no usable timestamps: assume constant rate
        t = [i / fps for i in range(n)]
    duration = t[-1] - t[0] + 1 / fps
    first, hits = scan["first"], scan["hits"]
    if first is None:
        return ({"found": False, "text": None, "frames": [], "frames_with_label": 0, "frames_total": n},
                [f"no visible \"{CHINESE_TEXT}\" label found in any corner of the {n} frames"])
    ranges = _ranges(hits)
    run = ranges[0][1] + 1 if ranges[0][0] == 0 else 0  # labeled frames from the very start
    start_s = (t[run] if run < n else t[-1] + 1 / fps) - t[0]  # how long they show
    need_s = min(MIN_SECONDS, duration)
    meets_duration = run == n or start_s >= need_s - 1e-6
    meets_height = first.height + 1 >= MIN_TEXT_HEIGHT * short
    problems = []
    if ranges[0][0] != 0:
        problems.append(f"the visible label is missing from the first frame (first seen in frame {ranges[0][0]})")
    elif not meets_duration:
        problems.append(f"the visible label shows for only {start_s:.2f} s at the start; it needs {need_s:.2f} s")
    if not meets_height:
        problems.append(f"the visible label's text is {first.height} px, under 5 % of the shortest side "
                        f"({MIN_TEXT_HEIGHT * short:.1f} px)")
    report = {
        "found": True,
        "text": CHINESE_TEXT + (f" / {ENGLISH_TEXT}" if (scan["english"] or 0) >= detect.MATCH_THRESHOLD else ""),
        "corner": detect.corner_of(first, H, W),
        "text_height_px": first.height,
        "text_height_fraction": round(first.height / short, 4),
        "frame_size": [W, H],
        "frames": ranges,
        "frames_with_label": len(hits),
        "frames_total": n,
        "seconds_from_start": round(start_s, 3),
        "match_score": round(first.score, 3),
        "meets_height": meets_height,
        "meets_duration": meets_duration and ranges[0][0] == 0,
    }
    return report, problems


def inspect_video(path: str | Path) -> dict[str, Any]:
    """Inspect one file; return a JSON-able report with `ok`, `problems`, `visible_label`,
    `aigc`, `provenance` and `c2pa`. Raises KinoraError for a file that is not a video."""
    path = Path(path)
    check_container(path)
    scan = _scan_frames(path)
    meta = scan["meta"]
    visible, problems = _visible_report(scan)
    warnings: list[str] = []

    aigc, aigc_key = None, None
    hit = find_key(meta, AIGC_KEY) or next(((k, v) for k, v in meta.items() if "aigc" in k.lower()), None)
    if hit is None:
        problems.append("no AIGC metadata label (GB 45438) in the file")
    else:
        aigc_key, value = hit
        aigc, aigc_problems = check_aigc(value)
        problems += aigc_problems

    provenance = None
    hit = find_key(meta, PROVENANCE_KEY)
    if hit is not None:
        provenance = parse_provenance(hit[1])
        if provenance is None:
            warnings.append(f"{PROVENANCE_KEY} is not a JSON object")
        elif aigc is not None and aigc.get("ReservedCode1", "").startswith("kinora-"):
            if binding_code(aigc.get("ProduceID", ""), hit[1]) != aigc.get("ReservedCode1"):
                warnings.append("the provenance record does not match the AIGC key's ReservedCode1 "
                                "(one of them was changed after writing)")

    c2pa = content_credentials.read_manifest(path)
    if c2pa.get("present") and c2pa.get("validation_state") == "Invalid":
        problems.append("the C2PA manifest is invalid (the file changed after it was signed): "
                        + ", ".join(c2pa.get("failures") or []))
    if c2pa.get("error"):
        problems.append(f"the C2PA manifest cannot be read: {c2pa['error']}")

    return {
        "file": str(path),
        "ok": not problems,
        "problems": problems,
        "warnings": warnings,
        "video": {"width": scan["width"], "height": scan["height"], "fps": round(scan["fps"], 3),
                  "frames": scan["frames"], "seconds": round(scan["frames"] / scan["fps"], 3)},
        "visible_label": visible,
        "aigc_key": aigc_key,
        "aigc": aigc,
        "aigc_meaning": LABEL_MEANINGS.get((aigc or {}).get("Label")) if aigc else None,
        "provenance": provenance,
        "c2pa": c2pa,
    }


def format_report(r: dict[str, Any]) -> str:
    """The human-readable report `kinora inspect` prints."""
    v, vl = r["video"], r["visible_label"]
    lines = [f"file: {r['file']} ({v['width']}x{v['height']}, {v['fps']:g} fps, {v['frames']} frames, "
             f"{v['seconds']:g} s)"]
    if vl["found"]:
        spans = ", ".join(f"{a}-{b}" if a != b else f"{a}" for a, b in vl["frames"])
        lines.append(f"visible label: \"{vl['text']}\" {vl['corner']}, text {vl['text_height_px']} px = "
                     f"{100 * vl['text_height_fraction']:.1f} % of the shortest side, in frames {spans} "
                     f"({vl['frames_with_label']}/{vl['frames_total']}; first {vl['seconds_from_start']:g} s)")
    else:
        lines.append("visible label: none found")
    if r["aigc"] is not None:
        a = r["aigc"]
        lines.append(f"metadata label ({r['aigc_key']}): Label={a.get('Label')} ({r['aigc_meaning'] or '?'}) "
                     f"ContentProducer={a.get('ContentProducer')} ProduceID={a.get('ProduceID')}")
        lines.append(f"  ContentPropagator={a.get('ContentPropagator')} PropagateID={a.get('PropagateID')} "
                     f"ReservedCode1={a.get('ReservedCode1')} ReservedCode2={a.get('ReservedCode2')}")
    else:
        lines.append("metadata label: none")
    p = r["provenance"]
    if p:
        lines.append(f"provenance: model={p.get('model')} checkpoint={str(p.get('checkpoint_sha256'))[:12]}... "
                     f"seed={p.get('seed')} task={p.get('task')} truth={p.get('truth_mode')} "
                     f"prompt_sha256={str(p.get('prompt_sha256'))[:12]}... kinora={p.get('kinora_version')}")
    else:
        lines.append("provenance: none (not written by Kinora)")
    c = r["c2pa"]
    if c.get("present") is None:
        lines.append(f"C2PA: not checked ({c.get('note')})")
    elif not c["present"]:
        lines.append("C2PA: no manifest")
    elif c.get("error"):
        lines.append(f"C2PA: unreadable ({c['error']})")
    else:
        s = c.get("signer") or {}
        lines.append(f"C2PA: {c.get('validation_state')}, actions {', '.join(a or '?' for a in c['actions'])}, "
                     f"source {str(c.get('digital_source_type')).rsplit('/', 1)[-1]}, signed by "
                     f"{s.get('common_name')} ({s.get('issuer')})"
                     + (f", validation notes: {', '.join(c['failures'])}" if c.get("failures") else ""))
    for w in r["warnings"]:
        lines.append(f"warning: {w}")
    if r["ok"]:
        lines.append("result: properly labeled as AI-generated")
    else:
        lines.append("result: NOT properly labeled:")
        lines += [f"  - {p}" for p in r["problems"]]
    return "\n".join(lines)
