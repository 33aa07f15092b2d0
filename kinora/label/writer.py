"""`write_generated_video`: the one place where Kinora writes generated video.

Every task of the generative model (t2v, i2v, extend, edit, loop, storyboard films)
ends here, and this function always applies every label; there is no argument that
skips one:

1. the visible label ("AI生成" / "AI-generated", `visible.py`), after upscaling tiny
   frames to a legible size;
2. the metadata labels (`AIGC` per GB 45438 and `kinora_provenance`, `metadata.py`)
   in moov/udta/meta;
3. a C2PA manifest when `LabelConfig` names a certificate chain and key
   (`content_credentials.py`).

The file appears at `path` only once it is complete and its metadata label has been
read back, so a failure never leaves an unlabeled or half-written video behind.
Simulator renders (computer graphics, not AI output) do not come here: they use
`kinora.io.video.write_mp4` directly and carry no "AI生成" label, which also keeps the
label out of training data.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from kinora.errors import KinoraError
from kinora.io.atomic import atomic_path
from kinora.io.video import write_mp4
from kinora.label import content_credentials
from kinora.label.config import CHINESE_TEXT, ENGLISH_TEXT, LabelConfig, Provenance
from kinora.label.metadata import AIGC_KEY, PROVENANCE_KEY, build_metadata, check_aigc
from kinora.label.visible import NOTICE_ENGLISH, NOTICE_TEXT, stamp, stamp_notice, upscale_factor


def _check_inputs(frames, path: Path, fps, provenance, config) -> None:
    if not isinstance(frames, np.ndarray) or frames.ndim != 4 or frames.shape[-1] != 3 or frames.shape[0] < 1:
        raise KinoraError(f"frames must be a (T, H, W, 3) array with T >= 1, "
                          f"got {getattr(frames, 'shape', type(frames))}")
    if frames.dtype != np.uint8:
        raise KinoraError(f"frames must be uint8, got {frames.dtype}")
    if min(frames.shape[1:3]) < 8:
        raise KinoraError(f"frames of {frames.shape[2]}x{frames.shape[1]} are too small to label; use at least 8x8")
    if isinstance(fps, bool) or not isinstance(fps, int) or fps < 1:
        raise KinoraError(f"fps must be a positive whole number, got {fps!r}")
    if path.suffix.lower() != ".mp4":
        raise KinoraError(f"generated video is written as MP4 (its labels live in MP4 metadata); "
                          f"name the output *.mp4, got {path.name}")
    if not isinstance(provenance, Provenance):
        raise KinoraError(f"provenance must be a kinora.label.Provenance, got {type(provenance).__name__}")
    if not isinstance(config, LabelConfig):
        raise KinoraError(f"config must be a kinora.label.LabelConfig, got {type(config).__name__}")


def _verify_metadata(path: Path) -> None:
    """Read the written file's tags back; an unlabeled file must never be published."""
    import av

    with av.open(str(path)) as c:
        meta = dict(c.metadata)
    fields, problems = check_aigc(meta.get(AIGC_KEY, ""))
    if fields is None or problems or PROVENANCE_KEY not in meta:
        raise RuntimeError(f"labels did not survive writing {path}: {problems or 'key missing'}")


def write_generated_video(
    frames: np.ndarray,
    path: str | Path,
    fps: int,
    provenance: Provenance,
    config: LabelConfig | None = None,
    replace: bool = False,
    notices: list[tuple[int, int]] | None = None,
) -> Path:
    """Label and write generated frames (T, H, W, 3) uint8 as an MP4 at `path`; return it.

    Frames whose shortest side is under `config.min_display_size` are upscaled first
    (see `kinora.label.visible`), so the file can be larger than `frames`. An existing
    file at `path` is replaced only with replace=True. `notices`: (first, last) frame ranges
    that carry the visible "未通过核实 / NOT VERIFIED" notice (a shot that failed its check).
    """
    config = LabelConfig() if config is None else config
    path = Path(path)
    _check_inputs(frames, path, fps, provenance, config)
    if config.signs_c2pa and not content_credentials.available():
        content_credentials._import_c2pa()  # raises the KinoraError that says how to install it
    t, h, w, _ = frames.shape
    factor = upscale_factor(config, w, h)
    labeled, lay = stamp(frames, fps, config)  # (T, H', W', 3)
    if notices:
        labeled = stamp_notice(labeled, sorted({i for a, b in notices for i in range(max(0, a), min(t, b + 1))}))
    label = {
        "text": CHINESE_TEXT + (f" / {ENGLISH_TEXT}" if config.english else ""),
        "corner": config.corner,
        "duration": config.duration,
        "seconds": config.seconds,
        "text_height_px": lay.text_height,
        "upscale": factor,
        "model_size": [w, h],
        "frame_size": [labeled.shape[2], labeled.shape[1]],
    }
    if notices:
        label["notices"] = {"text": f"{NOTICE_TEXT} / {NOTICE_ENGLISH}", "frames": [list(r) for r in notices]}
    metadata = build_metadata(provenance, config, label)
    with atomic_path(path, replace=replace) as tmp:
        if config.signs_c2pa:
            unsigned = tmp.with_name(tmp.name[:-len(".mp4")] + ".unsigned.mp4")
            try:
                write_mp4(labeled, unsigned, fps, metadata)
                content_credentials.sign_mp4(unsigned, tmp, config.c2pa_cert, config.c2pa_key,
                                             json.loads(metadata[PROVENANCE_KEY]), title=path.name)
            finally:
                unsigned.unlink(missing_ok=True)
        else:
            write_mp4(labeled, tmp, fps, metadata)
        _verify_metadata(tmp)
    return path
