"""A folder of real videos -> the `path,text` CSV that `kinora train --data-csv` reads.

    kinora captions clips/ -o clips/videos.csv
    kinora train --preset small --data-csv clips/videos.csv --out runs/real

Each video (.mp4, .mov, .mkv, .webm, .avi, found in the folder and its subfolders, in
sorted order) gets one caption, taken from the first of:

1. a text file beside it with the same name (`ball.mp4` -> `ball.txt`), the way many
   video datasets ship captions; its first non-empty line;
2. nothing: the video is left out and named in the report (a file name is not a caption;
   `--name-captions` accepts it anyway: "red_ball-rolls" -> "red ball rolls").

(A Kinora-made MP4 records only the SHA-256 of its prompt, not the prompt, so its caption
comes from a .txt like any other clip's.)

Paths in the CSV are relative to the CSV's folder, so the folder can move. The CSV is
written atomically and never replaces an existing one without `force`. Every video is
opened once to check that it decodes, so a broken file fails here, by name, not an hour
into training (a file cut short is caught too: every frame is decoded).
"""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass, field
from pathlib import Path

from kinora.errors import KinoraError

VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".webm", ".avi")


@dataclass
class CaptionReport:
    csv: Path
    rows: int = 0
    by_source: dict[str, int] = field(default_factory=dict)  # "sidecar" | "name" -> count
    skipped: list[str] = field(default_factory=list)  # videos without a caption (relative paths)
    broken: list[str] = field(default_factory=list)  # files that do not decode: "path: why"


def _sidecar(video: Path) -> str | None:
    from kinora.io.text import read_text_file

    text = video.with_suffix(".txt")
    if not text.is_file():
        return None
    for line in read_text_file(text, "caption file", "a caption file").splitlines():
        if line.strip():
            return " ".join(line.split())
    return None


def _name_caption(video: Path) -> str:
    return " ".join(video.stem.replace("_", " ").replace("-", " ").split())


def _decodes(video: Path) -> str | None:
    """None when every frame decodes (none is kept); else why not, in a few words."""
    try:
        import av

        with av.open(str(video)) as c:
            if not c.streams.video:
                return "no video stream"
            if not sum(1 for _ in c.decode(video=0)):
                return "no frames"
    except Exception as e:  # noqa: BLE001 - report any decoder error by file name
        return " ".join(str(e).split())[:120] or type(e).__name__
    return None


def caption_folder(folder: str | os.PathLike, out: str | os.PathLike | None = None, name_captions: bool = False,
                   force: bool = False) -> CaptionReport:
    """Write the captions CSV of every video under `folder` (default: FOLDER/videos.csv); see the module docstring."""
    from kinora.io.atomic import write_text_atomic

    folder = Path(folder)
    if not folder.is_dir():
        raise KinoraError(f"{folder} is not a folder; give the folder that holds the videos")
    out = Path(out) if out is not None else folder / "videos.csv"
    if out.suffix.lower() != ".csv":
        raise KinoraError(f"output {str(out)!r} must end in .csv")
    if out.exists() and not force:
        raise KinoraError(f"{out} exists; choose another -o or pass --force to replace it")
    videos = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES
                    and not p.name.startswith("."))
    if not videos:
        raise KinoraError(f"{folder} holds no videos ({', '.join(VIDEO_SUFFIXES)}); put the clips there, each with a "
                          f"caption in a .txt file of the same name")
    report = CaptionReport(csv=out)
    base = out.parent.resolve()
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["path", "text"])
    for video in videos:
        rel = os.path.relpath(video.resolve(), base)
        why = _decodes(video)
        if why is not None:
            report.broken.append(f"{rel}: {why}")
            continue
        named = _name_caption(video) if name_captions else None
        for source, caption in (("sidecar", _sidecar(video)), ("name", named)):
            if caption:
                writer.writerow([Path(rel).as_posix(), caption])
                report.rows += 1
                report.by_source[source] = report.by_source.get(source, 0) + 1
                break
        else:
            report.skipped.append(rel)
    if report.broken:
        raise KinoraError(f"{len(report.broken)} video(s) do not decode: {'; '.join(report.broken[:3])}"
                          f"{' ...' if len(report.broken) > 3 else ''}; remove or re-encode them")
    if not report.rows:
        raise KinoraError(f"none of the {len(videos)} video(s) has a caption; write one per video in a .txt file of "
                          f"the same name (or pass --name-captions to use the file names)")
    out.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out, buf.getvalue())
    return report
