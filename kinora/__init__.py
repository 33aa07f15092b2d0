"""Kinora: Sora-style text-to-video that runs on an ordinary CPU.

Stages, one module (or package) each: `world` (the micro-world simulator, ShotSpec,
captions), `verify` (the analyzer), `io` (video files), `label` (AI-generated labels).
The `kinora` command in `kinora.cli` is a thin layer over these.
"""

__version__ = "0.1.0"
