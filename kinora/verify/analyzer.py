"""The analyzer: what is in a video of the micro-world, from its RGB frames alone.

Frames from the simulator, from the generator or from a user's file go through the
same steps, each a plain function in a module of `kinora.verify`:

1-2. `pixels`: object pixels by saturation, their colour class by the nearest palette
     hue, and 4-connected components of one class for the whole clip at once.
3.   `detect`: the components mended (pieces split by a thin occluder merged, H.264
     specks and mixed-hue strips dropped) into detections: colour, centroid, area,
     box, contact with other objects, and a shape from the classifier in `shapes`.
4.   `camera`: block matching of the floor texture and an 8-parameter plane motion per
     frame pair, accumulated into static / pan / orbit / zoom.
5.   `tracks`: detections linked into tracks; each gets a consensus shape, a direction
     relative to the floor, bounces, a stop frame, and how it appeared and vanished.
6.   `compare`: the analysis against a ShotSpec, as a `Report` of issues and scores.

`analyze` runs steps 1-5 and returns an `Analysis` (the dataclasses are in
`results`); `analyze_file` does the same for a video file. The names other code uses
are importable from here as well.

Verification against a known spec is the strong position that VBench-style object /
colour / count / motion checks approximate with learned detectors; here the world's
palette and shapes are known, so the checks can be exact. `kinora.verify.validate`
measures every step against the simulator's ground truth.
"""

from __future__ import annotations

import numpy as np

from kinora.errors import KinoraError
from kinora.verify.camera import estimate_camera
from kinora.verify.compare import Issue, Report, compare, expected_direction, significant_tracks
from kinora.verify.detect import detect
from kinora.verify.pixels import COLOR_NAMES, _hue, classify_pixels, label_components
from kinora.verify.results import Analysis, CameraMotion, Detection, Track
from kinora.verify.shapes import SHAPE_NAMES
from kinora.verify.tracks import link_tracks, summarize_track

# What other code imports from here (kinora.eval.metrics and kinora.eval.physics among
# them); `_hue` is the palette hue that kinora.eval.metrics bins colours by.
__all__ = [
    "COLOR_NAMES", "SHAPE_NAMES", "Analysis", "CameraMotion", "Detection", "Issue", "Report", "Track", "_hue",
    "analyze", "analyze_file", "classify_pixels", "compare", "detect", "expected_direction", "label_components",
    "significant_tracks",
]


def analyze(frames: np.ndarray, fps: float = 8.0) -> Analysis:
    """Analyse (T, H, W, 3) uint8 RGB frames: detections, tracks, camera motion."""
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.shape[0] < 1:
        raise KinoraError(f"frames must have shape (T, H, W, 3) with T >= 1, got {frames.shape}")
    if frames.dtype != np.uint8:
        raise KinoraError(f"frames must be uint8 RGB, got {frames.dtype}")
    t, h, w, _ = frames.shape
    dets, labels, _ = detect(frames)
    cls = np.where(labels >= 0, 0, -1).astype(np.int8)  # objects masked out of the floor
    camera, params = estimate_camera(frames, cls)
    members = link_tracks(dets, params, w, h)
    tracks = [summarize_track(i, m, dets, params, w, h, t) for i, m in enumerate(members)]
    return Analysis(width=w, height=h, num_frames=t, fps=float(fps), detections=dets, tracks=tracks,
                    camera=camera, labels=labels)


def analyze_file(path) -> Analysis:
    """Analyse a video file (MP4 or anything PyAV reads)."""
    from kinora.io.video import read_video

    frames, fps, _ = read_video(path)
    return analyze(frames, fps)
