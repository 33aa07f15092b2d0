"""Kinora: Sora-style text-to-video that runs on an ordinary CPU.

One package per stage (docs/ARCHITECTURE.md draws the flow): `plan` (text -> ShotSpec),
`world` (the micro-world simulator), `models` (VAE, DiT, text encoder, presets),
`diffusion` (flow, samplers, tasks as data), `pipelines` (generation: frames with their
plan), `train`, `verify` (the analyzer), `label` (AI-generated labels), `io` (files),
`eval` (the instruments). The `kinora` command in `kinora.cli` is a thin layer over these.
"""

__version__ = "0.1.0"
