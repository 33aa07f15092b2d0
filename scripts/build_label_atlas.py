"""Regenerate the glyph atlas for Kinora's visible AI-generated label.

    apt-get install fonts-noto-cjk          # build-time only: the font is not shipped
    python scripts/build_label_atlas.py     # writes kinora/label/atlas.png and atlas.json

Kinora draws its visible label ("AI生成", "AI-generated") from a small pre-rendered
atlas instead of a font file, so a user's machine needs no CJK font and nothing is
downloaded at run time. This script renders the few strings once, large and
antialiased, from Noto Sans CJK SC Bold (SIL Open Font License 1.1, Google/Adobe),
crops each to its ink, and records where each string's ink sits relative to its
baseline origin so that lines drawn at the same scale keep their relative sizes.
The output is deterministic for a given font file and Pillow version.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

FONT = "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc"
FONT_INDEX = 2  # the collection's "Noto Sans CJK SC" face (Simplified Chinese forms)
FONT_SIZE = 200  # px per em; "AI生成" ink is then ~180 px tall, enough for 4K frames
# The label, then the notice on a shot that failed its verification (kinora.label.visible.stamp_notice).
STRINGS = ["AI生成", "AI-generated", "未通过核实", "NOT VERIFIED"]
GAP = 8  # px between strings in the atlas


def render(font: ImageFont.FreeTypeFont, text: str) -> tuple[np.ndarray, list[int]]:
    """Render `text` white-on-black; return its ink crop and the ink box relative to
    the baseline origin (x0, y0, x1, y1), y growing downwards (y0 < 0 above baseline)."""
    x0, y0, x1, y1 = font.getbbox(text, anchor="ls")
    margin = 8
    w, h = x1 - x0 + 2 * margin, y1 - y0 + 2 * margin
    img = Image.new("L", (w, h), 0)
    origin = (margin - x0, margin - y0)
    ImageDraw.Draw(img).text(origin, text, fill=255, font=font, anchor="ls")
    a = np.asarray(img)
    ys, xs = np.nonzero(a > 0)
    top, bottom, left, right = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    crop = a[top:bottom, left:right]
    box = [int(left - origin[0]), int(top - origin[1]), int(right - origin[0]), int(bottom - origin[1])]
    return crop, box


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--font", default=FONT)
    ap.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "kinora" / "label"))
    args = ap.parse_args()
    font = ImageFont.truetype(args.font, FONT_SIZE, index=FONT_INDEX)
    family, style = font.getname()
    crops = [render(font, s) for s in STRINGS]
    width = max(c.shape[1] for c, _ in crops)
    height = sum(c.shape[0] for c, _ in crops) + GAP * (len(crops) - 1)
    atlas = np.zeros((height, width), np.uint8)
    entries, y = {}, 0
    for s, (crop, box) in zip(STRINGS, crops):
        h, w = crop.shape
        atlas[y:y + h, :w] = crop
        entries[s] = {"rect": [0, y, w, y + h], "ink_box": box}
        y += h + GAP
    out = Path(args.out)
    Image.fromarray(atlas).save(out / "atlas.png", optimize=True)
    meta = {
        "font": f"{family} {style}",
        "font_file": Path(args.font).name,
        "font_index": FONT_INDEX,
        "font_size": FONT_SIZE,
        "license": "Glyphs rendered from Noto Sans CJK (SIL Open Font License 1.1, "
                   "https://openfontlicense.org); regenerate with scripts/build_label_atlas.py",
        "strings": entries,
    }
    (out / "atlas.json").write_text(json.dumps(meta, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {out / 'atlas.png'} ({width}x{height}) and atlas.json")


if __name__ == "__main__":
    main()
