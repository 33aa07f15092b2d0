"""The physics signal: what the simulator knows about a shot, as a per-frame map the DiT can read.

Simulator-in-the-loop generation (PhysGen, PSIVG) lets a physics engine decide where every
object is and leaves the pictures to the generator. Kinora's simulator renders a
segmentation buffer for every frame (kinora.world.sim.Clip.seg: the object index per
pixel); this module turns it into coloured silhouettes at a grid of CELL x CELL pixels,
twice as fine as the VAE's 8x8-pixel latent cells, so a token of the DiT's 2x2-latent patch
sees 4x4 signal cells and a ball's outline differs from a cube's:

    channel   what the cell holds (each the mean over its CELL x CELL pixels)
    present   1 everywhere when a signal is given: tells "no signal" (all zeros) from "an empty stage"
    cover     the share of the cell's pixels that show an object
    r, g, b   the objects' diffuse colour (kinora.world.spec.COLORS), weighted by cover
    sphere, cube, cylinder   the objects' shape, weighted by cover

Why silhouettes and not boxes or depth: the eval's colour, count, permanence and motion
all depend on where an object's pixels are and what colour they are, which a silhouette
states directly and a box only roughly; the occlusion order that depth would add is
already in the buffer (the front object owns the pixel). The floor and the camera's
motion are not in the signal: the caption states the camera move and the model draws
the floor.

Time follows the VAE (4x, causal): latent frame 0 is frame 0 alone and latent frame k
the mean of frames 4k-3 .. 4k, so a fast object leaves a smeared trail, as in its latent.

    features = frame_features(seg, spec)      # (T, S, H/CELL, W/CELL) float32, per frame
    signal = latent_signal(features)          # (S, F, H/CELL, W/CELL), F = 1 + ceil((T-1)/4)
"""

from __future__ import annotations

import numpy as np

from kinora.errors import KinoraError
from kinora.world.spec import COLORS, SHAPES, ShotSpec

CHANNELS = ("present", "cover", "r", "g", "b", *SHAPES)
SIGNAL_CHANNELS = len(CHANNELS)  # S
CELL = 4  # pixels per signal cell along each side: 2 signal cells per 8-pixel latent cell
TIME_FACTOR = 4  # the VAE's frames per latent frame after the first
# What a cached signal was made with: a cache of another version is made again, never reused.
VERSION = f"silhouettes-{CELL}px-{'-'.join(CHANNELS)}"


def object_table(spec: ShotSpec) -> np.ndarray:
    """(n_objects + 1, S) float32: each object's per-pixel channel values; the last row is
    for "no object" (seg -1), so a lookup with seg as the index needs no branch."""
    table = np.zeros((len(spec.objects) + 1, SIGNAL_CHANNELS), np.float32)
    table[:, 0] = 1.0  # present
    shapes = list(SHAPES)
    for i, o in enumerate(spec.objects):
        table[i, 1] = 1.0
        table[i, 2:5] = COLORS[o.color]["rgb"]
        table[i, 5 + shapes.index(o.shape)] = 1.0
    return table


def frame_features(seg: np.ndarray, spec: ShotSpec) -> np.ndarray:
    """Segmentation (T, H, W) int (object index, -1 none) -> (T, S, H/CELL, W/CELL) float32."""
    seg = np.asarray(seg)
    if seg.ndim != 3:
        raise KinoraError(f"segmentation must be (T, H, W), got shape {seg.shape}")
    T, H, W = seg.shape
    if H % CELL or W % CELL:
        raise KinoraError(f"frame size {W}x{H} is not a multiple of the signal cell {CELL}")
    if seg.max(initial=-1) >= len(spec.objects):
        raise KinoraError(f"segmentation names object {int(seg.max())}, but the spec has {len(spec.objects)}")
    table = object_table(spec)
    idx = np.where(seg < 0, len(spec.objects), seg).astype(np.int64)  # (T, H, W); -1 -> the last row
    px = table[idx]  # (T, H, W, S)
    px = px.reshape(T, H // CELL, CELL, W // CELL, CELL, SIGNAL_CHANNELS).mean(axis=(2, 4))  # (T, h2, w2, S)
    return np.ascontiguousarray(px.transpose(0, 3, 1, 2))  # (T, S, h2, w2)


def latent_signal(features: np.ndarray) -> np.ndarray:
    """Per-frame features (T, S, h2, w2) -> (S, F, h2, w2): latent frame 0 is frame 0, latent
    frame k the mean of frames 4k-3 .. 4k; a clip that is not 1 + 4k frames long is padded
    with its last frame (as the pipeline pads known pixels)."""
    T = features.shape[0]
    if T < 1:
        raise KinoraError("the signal needs at least one frame")
    F = 1 + -(-(T - 1) // TIME_FACTOR)
    pad = 1 + TIME_FACTOR * (F - 1) - T
    if pad:
        features = np.concatenate([features, np.repeat(features[-1:], pad, axis=0)])
    rest = features[1:].reshape(F - 1, TIME_FACTOR, *features.shape[1:]).mean(axis=1)  # (F-1, S, h2, w2)
    lat = np.concatenate([features[:1], rest])  # (F, S, h2, w2)
    return np.ascontiguousarray(lat.transpose(1, 0, 2, 3))  # (S, F, h2, w2)


def clip_signal(seg: np.ndarray, spec: ShotSpec) -> np.ndarray:
    """The latent-time signal of one clip: (S, F, H/CELL, W/CELL) float32."""
    return latent_signal(frame_features(seg, spec))
