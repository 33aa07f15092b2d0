"""Tasks as data: which pixels of a clip are known, their latent mask, and the windows.

Every generation task (text-to-video, image-to-video, extension forward or backward,
bridging two frames, looping, spacetime inpainting; restyling starts from a noised video
instead of noise, SDEdit) is the same computation with a
different set of known pixels, as in Open-Sora 2.0 and Open-Sora-Plan's inpainting
model. This module holds that data:

- `Task`: the name of what the caller's inputs ask for, derived in one place from
  which inputs are given (so the pipeline, the CLI and the provenance agree);
- `EditRegion`: a box (fractions of the frame) over a time span (seconds), and its
  pixel mask;
- `latent_known_mask`: pixel mask -> latent mask (a latent cell is known when every
  pixel it encodes is known), following the VAE's 1 + 4k frame grouping and 8x space;
- `window_spans`: the windows, with overlapping known context, that make a long clip
  in linear time and flat memory;
- `fill_unknown`: what the encoder sees where pixels are unknown.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from kinora.defaults import CONTEXT_FRAMES, MIN_WINDOW
from kinora.errors import KinoraError

# ---------------------------------------------------------------------------------
# What the inputs ask for
# ---------------------------------------------------------------------------------

# Task name -> which inputs it takes (what `task_of` matches, most specific first).
TASK_INPUTS: dict[str, dict[str, bool]] = {
    "restyle": {"video": True, "strength": True},
    "inpaint": {"video": True, "edit_mask": True},
    "extend": {"video": True, "backward": False},
    "extend_backward": {"video": True, "backward": True},
    "loop": {"loop": True},
    "bridge": {"image": True, "last_image": True},
    "i2v": {"image": True},
    "t2v": {},
}


@dataclass(frozen=True)
class Task:
    """What a generation call does, named once from the inputs it was given."""

    name: str  # a key of TASK_INPUTS
    backward: bool = False  # extension adds frames before the video

    @property
    def provenance_name(self) -> str:
        """The identifier recorded in a file's provenance ('extend' covers both directions)."""
        return "extend" if self.name.startswith("extend") else self.name


def task_of(image: bool = False, last_image: bool = False, loop: bool = False, video: bool = False,
            edit_mask: bool = False, backward: bool = False, strength: bool = False) -> Task:
    """The task the given inputs ask for; refuse inputs that cannot go together."""
    given = {"image": image, "last_image": last_image, "loop": loop, "video": video, "edit_mask": edit_mask,
             "backward": backward, "strength": strength}
    if strength and (not video or image or loop or edit_mask or backward):
        raise KinoraError("a restyle strength applies to a whole video alone (no image, loop, edit region or "
                          "backward extension)")
    if last_image and not image:
        raise KinoraError("a last image needs a first image too (bridging joins a first and a last frame)")
    if loop and (video or last_image):
        raise KinoraError("loop makes its own last frame; it cannot be combined with a video or a last image")
    if video and image:
        raise KinoraError("give a first image or a video to continue, not both")
    if edit_mask and not video:
        raise KinoraError("an edit region needs the video to edit")
    if backward and not video:
        raise KinoraError("backward extension needs the video to extend")
    if backward and edit_mask:
        raise KinoraError("an edit keeps the video's frames in place; backward does not apply to it")
    for name, inputs in TASK_INPUTS.items():
        if all(given[k] == v for k, v in inputs.items()):
            return Task(name, backward=backward)
    raise AssertionError(f"no task for inputs {given}")  # TASK_INPUTS ends with the catch-all t2v


# ---------------------------------------------------------------------------------
# Edit regions: a box over a time span
# ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class EditRegion:
    """A box (x0, y0, x1, y1 in fractions of width and height) over [start, end) seconds
    (None: the whole clip). The pixels inside are regenerated; all others are kept."""

    box: tuple[float, float, float, float]
    span: tuple[float, float] | None = None

    def __post_init__(self):
        b = self.box
        if len(b) != 4 or not all(math.isfinite(v) for v in b) or not (0 <= b[0] < b[2] <= 1 and 0 <= b[1] < b[3] <= 1):
            raise KinoraError(f"edit region {','.join(f'{v:g}' for v in b)} is not X0,Y0,X1,Y1 with "
                              f"0 <= X0 < X1 <= 1 and 0 <= Y0 < Y1 <= 1 (fractions of the frame, e.g. 0.5,0,1,1)")
        if self.span is not None:
            s, e = self.span
            if not (math.isfinite(s) and math.isfinite(e) and 0 <= s < e):
                raise KinoraError(f"edit time {s:g}:{e:g} is not START:END in seconds with 0 <= START < END (e.g. 1:3)")

    def pixel_mask(self, T: int, H: int, W: int, fps: int) -> np.ndarray:
        """(T, H, W) bool: True inside the box during the span (whole pixels, at least one)."""
        x0, y0, x1, y1 = self.box
        c0, c1 = int(x0 * W), max(int(x0 * W) + 1, math.ceil(x1 * W))
        r0, r1 = int(y0 * H), max(int(y0 * H) + 1, math.ceil(y1 * H))
        f0, f1 = (0, T) if self.span is None else (int(self.span[0] * fps), min(T, math.ceil(self.span[1] * fps)))
        if f0 >= T:
            raise KinoraError(f"the edit time starts at {self.span[0]:g} s, after the video's {T / fps:g} s")
        mask = np.zeros((T, H, W), bool)
        mask[f0:f1, r0:r1, c0:c1] = True
        return mask


# ---------------------------------------------------------------------------------
# Pixel masks -> latent masks
# ---------------------------------------------------------------------------------


def latent_frames(num_frames: int) -> int:
    """Latent frames for a clip padded to 1 + 4k frames."""
    return 1 + math.ceil((num_frames - 1) / 4)


def latent_known_mask(pixel_known: torch.Tensor, time_factor: int = 4, space_factor: int = 8) -> torch.Tensor:
    """Pixel mask (T, H, W) bool, T = 1 + 4k -> latent mask (1, 1, F, h, w) float.

    Latent frame 0 encodes pixel frame 0 alone; latent frame j >= 1 encodes pixel frames
    4j-3 .. 4j. A latent cell is known only when all the pixels it encodes are known.
    """
    T, H, W = pixel_known.shape
    first = pixel_known[:1]  # (1, H, W)
    rest = pixel_known[1:].reshape((T - 1) // time_factor, time_factor, H, W).all(1)  # (k, H, W)
    groups = torch.cat([first, rest])  # (F, H, W)
    F = groups.shape[0]
    cells = groups.reshape(F, H // space_factor, space_factor, W // space_factor, space_factor).all(4).all(2)
    return cells.float()[None, None]  # (1, 1, F, h, w)


def fill_unknown(pix: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Fill unknown pixels from the nearest frame in time that knows them (else grey), so
    the encoder sees a plausible clip rather than holes."""
    out = pix.copy()
    T = pix.shape[0]
    known_any = mask.reshape(T, -1).any(1)
    if not known_any.any():
        return out
    idx = np.nonzero(known_any)[0]
    for t in range(T):
        if mask[t].all():
            continue
        src = idx[np.argmin(np.abs(idx - t))]
        fill = np.where(mask[src][..., None], pix[src], 128).astype(np.uint8)
        out[t] = np.where(mask[t][..., None], pix[t], fill)
    return out


# ---------------------------------------------------------------------------------
# Long clips: windows with overlapping known context
# ---------------------------------------------------------------------------------


def window_spans(T: int, window: int, context: int = CONTEXT_FRAMES) -> list[tuple[int, int]]:
    """The [start, end) frames of each window that makes a T-frame clip: each window after
    the first repeats the previous one's last `context` frames as known frames."""
    if T <= window:
        return [(0, T)]
    context = max(1, min(context, window - (MIN_WINDOW - 1)))  # every window adds at least one latent frame
    spans, done = [], 0
    while done < T:
        start = max(0, done - context) if done else 0
        done = min(T, start + window)
        spans.append((start, done))
    return spans
