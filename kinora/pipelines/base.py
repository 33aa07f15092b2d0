"""The one protocol every generator implements, so the timeline, the story planner, the
studio and the CLI call any of them the same way.

Kinora's own pipeline (`kinora.pipelines.kinora`) is one implementation; adapters to
open-weight models through diffusers (Wan, CogVideoX, LTX: `kinora.pipelines.adapters`)
are the others, and `load_generator` gives any of them by name. A
generator says which tasks it supports (names of `kinora.diffusion.tasks.TASK_INPUTS`)
and refuses the rest with a one-line `KinoraError`; its call follows diffusers'
convention and returns a `GenerationOutput` that keeps the plan with the frames.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable

from kinora.errors import KinoraError
from kinora.pipelines.output import GenerationOutput


@runtime_checkable
class Generator(Protocol):
    model_name: str  # recorded in every file's provenance
    checkpoint_sha256: str  # the weights' identity, 64 hex digits
    supported_tasks: frozenset[str]
    default_fps: int
    default_height: int
    default_width: int
    has_physics: bool  # whether physics=True (the simulator in the loop) can run

    def __call__(self, prompt: str, *, num_frames: int | None = None, height: int | None = None,
                 width: int | None = None, num_inference_steps: int | None = None,
                 guidance_scale: float | None = None, generator=None, **task_inputs) -> GenerationOutput:
        ...


KINORA = "kinora"  # the backend name of Kinora's own model


def backend_names() -> list[str]:
    from kinora.pipelines.adapters import BACKENDS

    return [KINORA, *BACKENDS]


def load_generator(backend: str = KINORA, model: str | Path | None = None, precision: str = "auto",
                   compile: bool = False) -> Generator:
    """The generator `backend` names over the weights `model` (Kinora's: a DiT checkpoint or
    folder, default the shipped one; an adapter's: a diffusers model folder), loaded once
    per process. `compile`: Kinora's DiT blocks through torch.compile (load_pipeline)."""
    if backend in (None, KINORA):
        from kinora.pipelines.kinora import load_pipeline

        return load_pipeline(model, precision=precision, compile=compile)
    check_compile(backend, compile)
    from kinora.pipelines.adapters import load

    return load(backend, model, precision)


def check_compile(backend: str | None, compile: bool) -> None:
    """Refuse, in one line, compiling asked of a backend other than Kinora's own."""
    if compile and backend not in (None, KINORA):
        raise KinoraError(f"compiling (--compile) is for the kinora backend's DiT; the {backend} adapter runs "
                          f"diffusers as it is: drop it")


def require_task(gen: Generator, task: str) -> None:
    """Refuse, in one line, a task (a key of TASK_INPUTS) the generator cannot do, before any
    work that assumes it can (a window's arithmetic, a take's frames)."""
    if task in gen.supported_tasks:
        return
    check = getattr(gen, "check_task", None)
    if check is not None:
        check(task)  # the generator's own message: what it does instead
    raise KinoraError(f"{gen.model_name} does not do {task}; it does {', '.join(sorted(gen.supported_tasks))}")
