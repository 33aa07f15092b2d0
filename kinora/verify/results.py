"""What the analyzer (`kinora.verify.analyzer`) finds in a video: one `Detection` per
object per frame, one `Track` per object through the clip, the `CameraMotion`, and the
`Analysis` that holds them all with the per-frame label images.

Plain dataclasses, filled in by the steps that follow: detections by
`kinora.verify.detect` (step 3), the camera by `kinora.verify.camera` (step 4), tracks
by `kinora.verify.tracks` (step 5), the whole by `kinora.verify.analyzer.analyze`.
`Analysis.to_dict` is plain JSON all the way down.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np


@dataclass
class Detection:
    """One object seen in one frame."""

    frame: int
    index: int  # this detection's value in Analysis.labels[frame]
    color: str
    shape: str  # the track's consensus shape once tracks are linked, else this frame's
    shape_probs: dict[str, float]  # this frame's classifier output
    confidence: float  # max of shape_probs
    centroid: tuple[float, float]  # (x, y) pixels, mean of the component's pixel centres
    area: int  # pixels
    bbox: tuple[int, int, int, int]  # [x0, y0, x1, y1)
    at_edge: bool  # touches the frame border: may be cut off
    contact: float = 0.0  # share of its outline that touches another object (> ~0.15: partly hidden)
    track: int = -1


@dataclass
class Track:
    """One object followed through the clip."""

    id: int
    color: str
    shape: str
    shape_probs: dict[str, float]  # weighted mean of the per-frame log-probabilities, renormalised
    size: float  # median sqrt(area), pixels
    frames: list[int]
    detections: list[int]  # Detection.index in each of `frames`
    direction: str = "still"  # net motion relative to the floor
    displacement: tuple[float, float] = (0.0, 0.0)  # (dx, dy) pixels relative to the floor
    log_area_change: float = 0.0  # log(end area / start area), zoom removed
    bounces: list[int] = field(default_factory=list)  # frames where it turned from falling to rising
    stop_frame: int | None = None  # first frame of rest after moving
    appear: dict = field(default_factory=dict)  # {"frame", "cause": start|edge|occlusion|none}
    vanish: dict = field(default_factory=dict)  # {"frame", "cause": end|edge|occlusion|none}
    hidden: list[dict] = field(default_factory=list)  # gaps inside the track: {"from", "to", "cause"}


@dataclass
class CameraMotion:
    motion: str  # one of kinora.world.spec.CAMERA_MOTIONS
    translation: tuple[float, float]  # accumulated floor shift at the frame centre (pixels)
    scale: float  # accumulated zoom factor (> 1: zoom in)
    shear: float  # accumulated d(u)/d(y) * height: < 0 when the near floor moves left (orbit right)
    per_frame: list[list[float]] = field(default_factory=list)  # [tx, ty, log scale, shear] per pair


@dataclass
class Analysis:
    width: int
    height: int
    num_frames: int
    fps: float
    detections: list[list[Detection]]  # per frame
    tracks: list[Track]
    camera: CameraMotion
    labels: np.ndarray  # (T, H, W) int16: Detection.index, -1 = no object

    def unexplained(self, min_frames: int = 2) -> list[dict]:
        """Appearances and vanishings without cause (object permanence failures) of
        tracks seen in at least `min_frames` frames (a blob in one frame of a compressed
        64x64 video is more often a colour artefact than an object)."""
        out = []
        for tr in self.tracks:
            if len(tr.frames) < min_frames:
                continue
            if tr.appear.get("cause") == "none":
                out.append({"track": tr.id, "color": tr.color, "event": "appeared", "frame": tr.appear["frame"]})
            if tr.vanish.get("cause") == "none":
                out.append({"track": tr.id, "color": tr.color, "event": "vanished", "frame": tr.vanish["frame"]})
            for g in tr.hidden:
                if g["cause"] == "none":
                    out.append({"track": tr.id, "color": tr.color, "event": "flickered", "frame": g["from"]})
        return out

    def to_dict(self) -> dict:
        return {
            "width": self.width, "height": self.height, "num_frames": self.num_frames, "fps": self.fps,
            "detections": [[asdict(d) for d in ds] for ds in self.detections],
            "tracks": [asdict(t) for t in self.tracks],
            "camera": asdict(self.camera),
            "unexplained": self.unexplained(),
        }
