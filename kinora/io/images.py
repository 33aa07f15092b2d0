"""Reading still images (first and last frames) safely.

A user's image may be anything: not an image at all, truncated, or a small file that
claims to be enormous (a decompression bomb). Each of these is one `KinoraError` line;
the pixel count is checked from the header before any pixel is decoded.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from kinora.errors import KinoraError

MAX_IMAGE_PIXELS = 4096 * 4096  # far above what the model uses (it resizes to 64x64), far below a bomb


def read_image(path: str | Path, max_pixels: int = MAX_IMAGE_PIXELS) -> np.ndarray:
    """An image file -> (H, W, 3) uint8 RGB."""
    import warnings

    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if path.is_dir():
        raise KinoraError(f"image {path} is a folder; give a PNG or JPEG file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                w, h = im.size
                if w * h > max_pixels:
                    raise KinoraError(f"image {path} claims {w}x{h} pixels, more than the {max_pixels:,} Kinora reads; "
                                      f"resize it (the model works at 64x64)")
                return np.asarray(im.convert("RGB"))
    except FileNotFoundError:
        raise KinoraError(f"image not found: {path}") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise KinoraError(f"image {path} is too large to decode safely; resize it (the model works at 64x64)") \
            from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as e:
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise KinoraError(f"cannot read image {path}: {first}") from None
