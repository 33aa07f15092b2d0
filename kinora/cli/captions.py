"""`kinora captions`: a folder of real videos -> the captions CSV `kinora train --data-csv` reads
(kinora.train.captions)."""

from __future__ import annotations

import sys


def register(sub) -> None:
    p = sub.add_parser("captions", help="a folder of videos (captions in .txt files beside them) -> a training CSV")
    p.add_argument("folder", help="the folder of videos (searched with its subfolders)")
    p.add_argument("-o", "--out", default=None, help="the CSV to write (default FOLDER/videos.csv)")
    p.add_argument("--name-captions", action="store_true",
                   help="caption a video that has no .txt beside it by its file name")
    p.add_argument("--force", action="store_true", help="replace the CSV if it exists")
    p.set_defaults(func=run)


def run(args) -> int:
    from kinora.train.captions import caption_folder

    r = caption_folder(args.folder, args.out, name_captions=args.name_captions, force=args.force)
    for rel in r.skipped:
        print(f"warning: {rel} has no caption (no .txt beside it); left out", file=sys.stderr)
    sources = ", ".join(f"{n} from {s}" for s, n in sorted(r.by_source.items()))
    print(f"wrote {r.csv}: {r.rows} video(s) ({sources}); next: kinora train --preset small --data-csv {r.csv} "
          f"--out runs/real")
    return 0
