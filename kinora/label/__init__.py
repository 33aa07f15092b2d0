"""Labels and provenance on every video the generative model makes.

    from kinora.label import Provenance, LabelConfig, write_generated_video
    write_generated_video(frames, "out/shot.mp4", fps=8, provenance=Provenance(
        model="kinora-tiny", checkpoint_sha256=sha, seed=0, prompt="a red ball rolls left",
        truth_mode="story", task="t2v"))

`write_generated_video` is the only writer for generated video: it stamps the visible
label ("AI生成", GB 45438-2025), writes the `AIGC` metadata label and Kinora's
provenance, and C2PA-signs when given a certificate. `inspect_video` (the `kinora
inspect` command) checks any MP4 for all of these. Simulator renders are computer
graphics and are written unlabeled by `kinora.io.video.write_mp4`.

Modules: `config` (the two dataclasses and the rules' numbers), `visible` (drawing the
label), `detect` (finding it), `metadata` (the AIGC and provenance keys),
`content_credentials` (C2PA), `writer`, `inspect`.
"""

from kinora.label.config import LabelConfig, Provenance
from kinora.label.detect import find_label as find_visible_label
from kinora.label.inspect import format_report, inspect_video
from kinora.label.writer import write_generated_video

__all__ = ["LabelConfig", "Provenance", "write_generated_video", "inspect_video", "format_report",
           "find_visible_label"]
