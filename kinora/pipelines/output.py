"""What a generator returns: the frames and the plan they were made from.

Like diffusers' typed pipeline outputs, with what Kinora's later stages need beside the
frames: the ShotSpec the reader made of the prompt (every element with its source span
or marked invented), the reader's warnings, the task and the seed. Verification, the
truth modes and the timeline read these; nothing downstream re-reads the prompt.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class GenerationOutput:
    frames: list  # one (T, H, W, 3) uint8 array (or float tensor) per prompt, diffusers-style
    prompt: str = ""
    canonical: str = ""  # the English caption the model was conditioned on
    warnings: list[str] = field(default_factory=list)
    spec: Any = None  # kinora.world.spec.ShotSpec of the shot (None with raw_prompt=True)
    task: str = "t2v"  # a key of kinora.diffusion.tasks.TASK_INPUTS
    seed: int | None = None  # the generator's initial seed
    settings: dict = field(default_factory=dict)  # steps, guidance, sampler, size, fps, frames, threads, physics
    physics_spec: Any = None  # with physics=True: the resolved ShotSpec the simulator ran (objects placed)

    @property
    def provenance(self) -> dict | None:
        """Each object's and the camera's source spans (or 'invented'), from the spec."""
        if self.spec is None:
            return None
        return {"objects": {o.id: o.source for o in self.spec.objects}, "camera": self.spec.camera.source}
