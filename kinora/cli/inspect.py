"""`kinora inspect FILE`: is this video properly labeled as AI-generated?

Exit 0 when it is, 1 when it is not (the report says why), 2 when the file cannot be
read as a video at all.
"""

from __future__ import annotations

import json


def register(sub) -> None:
    p = sub.add_parser("inspect", help="check a video's AI-generated labels, metadata, provenance and C2PA")
    p.add_argument("file", help="an MP4 file (any, not only Kinora's)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a text report")
    p.set_defaults(func=run)


def run(args) -> int:
    from kinora.label import format_report, inspect_video

    report = inspect_video(args.file)
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        print(format_report(report))
    return 0 if report["ok"] else 1
