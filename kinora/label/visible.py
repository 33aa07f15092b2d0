"""The visible label: "AI生成" (and "AI-generated") stamped in a corner of the frames.

Follows GB 45438-2025 for video: the label sits at an edge or corner, its text is at
least 5 % of the frame's shortest side tall, and it shows for at least the first 2 s
(configurable: the whole video, or the start and the end; see `LabelConfig`).

Glyphs. A user's machine may have no CJK font and Kinora downloads nothing at run
time, so the label is drawn from `atlas.png`, a small grey-scale atlas of the two
strings rendered once, large (ink ~190 px tall) and antialiased, from Noto Sans CJK SC
Bold (SIL Open Font License 1.1) by `scripts/build_label_atlas.py`. At run time each
string is resized down from the atlas with a Lanczos filter (proper antialiasing at
every size) and composited white over a dark translucent box, which keeps it readable
on any background, the white sky of the micro-world included.

"Text height" means the height of the ink of "AI生成" (top of "生" to the bottom of
the hook of "成"), which is what a ruler on the screen would measure.

Tiny frames. At 64x64, 5 % is 3.2 px, and no Chinese can be read at that size. So
generated video whose shortest side is below `LabelConfig.min_display_size` (default
256) is first upscaled by a whole factor (bicubic) until it reaches it: 64x64 becomes
256x256, 96x160 becomes 288x480. The text is then at least `min_text_px` (default 16)
tall, where "AI生成" is clearly legible, and never below 5 % of the shortest side. A
whole factor keeps every model pixel the same size and the frame sizes even, which
H.264 in yuv420p needs. The file is bigger than the model's output, on purpose: a
label only a magnifier can read is not a label.
"""

from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from kinora.errors import KinoraError
from kinora.label.config import CHINESE_TEXT, ENGLISH_TEXT, LabelConfig

_HERE = Path(__file__).resolve().parent
ENGLISH_SCALE = 0.75  # "AI-generated" is drawn at 3/4 of the scale of "AI生成"
BOX_ALPHA = 0.62  # opacity of the black box behind the text
PAD = 0.30  # box padding around the text, in text heights
LINE_GAP = 0.22  # gap between the two lines, in text heights
MARGIN = 0.03  # distance of the box from the frame's edges, in shortest sides


# ---------------------------------------------------------------------------------
# Glyphs
# ---------------------------------------------------------------------------------

@functools.lru_cache(maxsize=None)
def _atlas() -> tuple[np.ndarray, dict]:
    try:
        meta = json.loads((_HERE / "atlas.json").read_text(encoding="utf-8"))
        atlas = np.asarray(Image.open(_HERE / "atlas.png").convert("L"))
    except (OSError, ValueError) as e:
        raise KinoraError(f"the label glyph atlas is missing or damaged ({e}); reinstall kinora") from None
    return atlas, meta


def _string(text: str) -> np.ndarray:
    atlas, meta = _atlas()
    x0, y0, x1, y1 = meta["strings"][text]["rect"]
    return atlas[y0:y1, x0:x1]


@functools.lru_cache(maxsize=256)
def text_mask(text: str, height: int) -> np.ndarray:
    """Coverage (0..1, float32) of `text`, resized so that "AI生成" would be `height` px
    tall. Other strings keep their size relative to it (same font size)."""
    base = _string(CHINESE_TEXT).shape[0]
    src = _string(text)
    scale = height / base
    w = max(1, round(src.shape[1] * scale))
    h = max(1, round(src.shape[0] * scale))
    img = Image.fromarray(src).resize((w, h), Image.LANCZOS)
    return np.asarray(img, dtype=np.float32) / 255.0  # (h, w)


# ---------------------------------------------------------------------------------
# Layout and stamping
# ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Layout:
    """Where the label goes in a frame of a given size (all in pixels)."""

    text_height: int  # ink height of "AI生成"
    x: int  # top-left corner of the box
    y: int
    box_w: int
    box_h: int
    pad: int
    gap: int
    english_height: int  # 0 when the English line is off


def text_height_px(config: LabelConfig, short_side: int) -> int:
    """The label's text height for a frame whose shortest side is `short_side`."""
    return max(math.ceil(config.text_height * short_side - 1e-9), config.min_text_px)


def layout(config: LabelConfig, width: int, height: int) -> Layout:
    short = min(width, height)
    h = text_height_px(config, short)
    pad, gap = max(2, round(PAD * h)), max(1, round(LINE_GAP * h))
    margin = max(2, round(MARGIN * short))
    zh = text_mask(CHINESE_TEXT, h)
    inner_w, inner_h = zh.shape[1], zh.shape[0]
    eh = 0
    if config.english:
        # At the largest text_height (0.15) this line is ~0.73 of the shortest side
        # wide, so it always fits beside the margins and padding.
        eh = round(ENGLISH_SCALE * h)
        en = text_mask(ENGLISH_TEXT, eh)
        inner_w = max(inner_w, en.shape[1])
        inner_h += gap + en.shape[0]
    box_w, box_h = inner_w + 2 * pad, inner_h + 2 * pad
    if box_w + 2 * margin > width or box_h + 2 * margin > height:
        raise KinoraError(
            f"a {width}x{height} frame is too small for a {h} px label; raise min_display_size")
    left = config.corner.endswith("left")
    top = config.corner.startswith("top")
    x = margin if left else width - margin - box_w
    y = margin if top else height - margin - box_h
    return Layout(h, x, y, box_w, box_h, pad, gap, eh)


def label_masks(config: LabelConfig, width: int, height: int) -> tuple[Layout, np.ndarray, np.ndarray]:
    """Return (layout, box alpha, text alpha); the alphas are (H, W) float32 in 0..1."""
    lay = layout(config, width, height)
    box = np.zeros((height, width), np.float32)
    box[lay.y:lay.y + lay.box_h, lay.x:lay.x + lay.box_w] = BOX_ALPHA
    text = np.zeros((height, width), np.float32)
    zh = text_mask(CHINESE_TEXT, lay.text_height)
    tx, ty = lay.x + lay.pad, lay.y + lay.pad
    text[ty:ty + zh.shape[0], tx:tx + zh.shape[1]] = zh
    if lay.english_height:
        en = text_mask(ENGLISH_TEXT, lay.english_height)
        ey = ty + zh.shape[0] + lay.gap
        text[ey:ey + en.shape[0], tx:tx + en.shape[1]] = en
    return lay, box, text


def upscale_factor(config: LabelConfig, width: int, height: int) -> int:
    """Whole factor that brings the shortest side up to `min_display_size` (1 if it is)."""
    short = min(width, height)
    return 1 if short >= config.min_display_size else math.ceil(config.min_display_size / short)


def upscale(frames: np.ndarray, factor: int) -> np.ndarray:
    """(T, H, W, 3) uint8 -> (T, H*factor, W*factor, 3) uint8, bicubic."""
    if factor == 1:
        return frames
    t, h, w, _ = frames.shape
    out = np.empty((t, h * factor, w * factor, 3), np.uint8)  # filled in place: no list of frames to stack
    for i, f in enumerate(frames):
        out[i] = np.asarray(Image.fromarray(f).resize((w * factor, h * factor), Image.BICUBIC))
    return out


NOTICE_TEXT, NOTICE_ENGLISH = "未通过核实", "NOT VERIFIED"
NOTICE_RGB = (176, 18, 18)  # the notice's box: red, so it is never read as part of the label


def stamp_notice(frames: np.ndarray, which) -> np.ndarray:
    """Draw "未通过核实 / NOT VERIFIED" in a red box at the bottom of the frames `which` names
    (indices into frames, already upscaled and labeled): the visible notice on a shot that
    failed its verification (kinora.pipelines.film), as tall as the label's text."""
    out = frames.copy()
    t, h, w, _ = frames.shape
    th = max(12, round(0.07 * min(w, h)))
    zh, en = text_mask(NOTICE_TEXT, th), text_mask(NOTICE_ENGLISH, round(ENGLISH_SCALE * th))
    pad, gap = max(2, round(PAD * th)), max(3, th // 2)
    bw = min(w, zh.shape[1] + gap + en.shape[1] + 2 * pad)
    bh = max(zh.shape[0], en.shape[0]) + 2 * pad
    x0, y0 = (w - bw) // 2, h - bh - max(2, round(MARGIN * min(w, h)))
    text = np.zeros((bh, bw), np.float32)
    zw, ew = min(zh.shape[1], bw - 2 * pad), min(en.shape[1], max(0, bw - 2 * pad - zh.shape[1] - gap))
    text[pad:pad + zh.shape[0], pad:pad + zw] = zh[:, :zw]
    ey = pad + (zh.shape[0] - en.shape[0])
    text[ey:ey + en.shape[0], pad + zh.shape[1] + gap:pad + zh.shape[1] + gap + ew] = en[:, :ew]
    box = np.array(NOTICE_RGB, np.float32)
    for i in which:
        crop = out[i, y0:y0 + bh, x0:x0 + bw].astype(np.float32)
        crop = crop * (1 - 0.85) + box * 0.85
        crop = crop * (1.0 - text[..., None]) + 255.0 * text[..., None]
        out[i, y0:y0 + bh, x0:x0 + bw] = np.clip(np.rint(crop), 0, 255).astype(np.uint8)
    return out


def labeled_frames(config: LabelConfig, num_frames: int, fps: int) -> np.ndarray:
    """Indices of the frames that carry the label under the config's duration policy."""
    n = min(num_frames, math.ceil(config.seconds * fps - 1e-9))
    if config.duration == "whole" or n >= num_frames:
        return np.arange(num_frames)
    idx = set(range(n))
    if config.duration == "start_end":
        idx |= set(range(num_frames - n, num_frames))
    return np.array(sorted(idx))


def stamp(frames: np.ndarray, fps: int, config: LabelConfig) -> tuple[np.ndarray, Layout]:
    """Upscale tiny frames, then draw the label on the frames the policy names.

    frames: (T, H, W, 3) uint8. Returns new frames (T, H', W', 3) uint8 and the layout.
    """
    frames = upscale(frames, upscale_factor(config, frames.shape[2], frames.shape[1]))
    t, h, w, _ = frames.shape
    lay, box, text = label_masks(config, w, h)
    # Only the box's rows and columns change; work on that crop.
    ys, xs = slice(lay.y, lay.y + lay.box_h), slice(lay.x, lay.x + lay.box_w)
    box, text = box[ys, xs, None], text[ys, xs, None]  # (bh, bw, 1)
    out = frames.copy()
    for i in labeled_frames(config, t, fps):
        crop = out[i, ys, xs].astype(np.float32)
        crop = crop * (1.0 - box)  # darken behind the text
        crop = crop * (1.0 - text) + 255.0 * text  # white text, antialiased edges
        out[i, ys, xs] = np.clip(np.rint(crop), 0, 255).astype(np.uint8)
    return out, lay
