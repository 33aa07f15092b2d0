"""Generators that `kinora eval` can measure, behind one small interface.

A backend makes two things from a suite Case (kinora.eval.suite):

    backend.generate(case, num_frames, seed)            -> (T, H, W, 3) uint8   text to video
    backend.continue_video(case, context, num_frames, seed) -> (T, H, W, 3) uint8
        the first `len(context)` frames are given (the simulator's); the result is the
        whole clip of num_frames frames, context included (what Physics-IQ asks for)

Backends here:
* KinoraBackend: the Kinora pipeline (the shipped model, or any DiT checkpoint).
* SimulatorBackend: renders the case's spec with the micro-world simulator. It is the
  oracle: every metric should score (close to) 100 % on it, which calibrates them.
* FrozenBackend: repeats the first frame of the true clip (or the last context frame).
  A trivial generator: it shows what a metric gives for a video that never moves.
* VaeBackend: the simulator's clip through the video VAE (encode, decode). It is the
  ceiling of the latent space: a DiT that produced the true clip's latents exactly would
  score this, so a metric far below the simulator here is lost in compression, not in
  generation.

Other generators (diffusers' Wan, CogVideoX, LTX-Video) later implement the same two
methods and go through the same metrics.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from kinora.errors import KinoraError
from kinora.eval.suite import Case


class Backend:
    """What every generator offers to the evaluation."""

    name = "backend"

    def generate(self, case: Case, num_frames: int, seed: int) -> np.ndarray:
        raise NotImplementedError

    def continue_video(self, case: Case, context: np.ndarray, num_frames: int, seed: int) -> np.ndarray:
        raise NotImplementedError

    def describe(self) -> dict:
        return {"name": self.name}


@lru_cache(maxsize=8)
def _simulate_cached(spec_json: str):
    from kinora.world.sim import simulate
    from kinora.world.spec import ShotSpec

    return simulate(ShotSpec.from_json(spec_json))


def simulate_case(case: Case, num_frames: int | None = None):
    """The simulator's clip of the case (cached: the metrics and the oracle share it)."""
    if num_frames is not None and num_frames != case.spec.num_frames:
        case = case.with_duration(num_frames / case.spec.fps)
    return _simulate_cached(case.spec.to_json(indent=None))


class SimulatorBackend(Backend):
    """The oracle: the simulator renders the spec the prompt was made from."""

    name = "simulator"

    def generate(self, case: Case, num_frames: int, seed: int) -> np.ndarray:
        return simulate_case(case, num_frames).frames

    def continue_video(self, case: Case, context: np.ndarray, num_frames: int, seed: int) -> np.ndarray:
        frames = simulate_case(case, num_frames).frames.copy()
        frames[: len(context)] = context
        return frames


class FrozenBackend(Backend):
    """A generator that never moves: the true first frame (or last context frame), repeated."""

    name = "frozen"

    def generate(self, case: Case, num_frames: int, seed: int) -> np.ndarray:
        first = simulate_case(case, num_frames).frames[0]
        return np.repeat(first[None], num_frames, 0)

    def continue_video(self, case: Case, context: np.ndarray, num_frames: int, seed: int) -> np.ndarray:
        rest = np.repeat(context[-1:], num_frames - len(context), 0)
        return np.concatenate([context, rest])


class KinoraBackend(Backend):
    """The Kinora pipeline: prompt in (English or Chinese), frames out."""

    name = "kinora"

    def __init__(self, pipe=None, model: str | Path | None = None, steps: int | None = None,
                 guidance: float | None = None, precision: str = "auto", guided: bool = False):
        if pipe is None:
            from kinora.pipelines.kinora import KinoraPipeline

            pipe = KinoraPipeline.from_pretrained(model, precision=precision)
        if guided and not pipe.has_physics:
            from kinora.models.dit import NO_SIGNAL

            raise KinoraError(f"{pipe.model_name} {NO_SIGNAL} (--guided needs it)")
        self.pipe = pipe
        self.steps = steps
        self.guidance = guidance
        self.guided = bool(guided)  # simulator in the loop: the pipeline's physics=True
        if self.guided:
            self.name = "kinora-guided"

    def _gen(self, seed: int):
        import torch

        return torch.Generator().manual_seed(int(seed))

    def generate(self, case: Case, num_frames: int, seed: int) -> np.ndarray:
        out = self.pipe(case.prompt, num_frames=num_frames, height=case.spec.height, width=case.spec.width,
                        num_inference_steps=self.steps, guidance_scale=self.guidance, generator=self._gen(seed),
                        physics=self.guided)
        return out.frames[0]

    def continue_video(self, case: Case, context: np.ndarray, num_frames: int, seed: int) -> np.ndarray:
        c = len(context)
        if num_frames <= c:
            raise KinoraError(f"a continuation needs more frames ({num_frames}) than its context ({c})")
        out = self.pipe(case.prompt, video=context, num_frames=num_frames - c, context_frames=c,
                        num_inference_steps=self.steps, guidance_scale=self.guidance, generator=self._gen(seed),
                        physics=self.guided)
        return out.frames[0]

    def describe(self) -> dict:
        p = self.pipe
        return {"name": self.name, "model": p.model_name, "checkpoint_sha256": p.checkpoint_sha256,
                "steps": self.steps or p.sample.steps,
                "guidance": p.sample.guidance if self.guidance is None else self.guidance,
                "window": p.window, "trained_steps": p.meta.get("step"), "guided": self.guided,
                "precision": "bf16" if str(p.dit.compute) == "torch.bfloat16" else "fp32"}


class VaeBackend(Backend):
    """The simulator's clip after a round trip through the video VAE (the shipped one by default)."""

    name = "vae"

    def __init__(self, model: str | Path | None = None):
        from kinora.defaults import SHIPPED_VAE
        from kinora.models.vae import load_vae

        self.path = Path(model) if model else SHIPPED_VAE
        self.vae = load_vae(self.path)

    def _round_trip(self, frames: np.ndarray) -> np.ndarray:
        from kinora.train.vae import reconstruct

        T = len(frames)
        pad = (-(T - 1)) % self.vae.cfg.time_factor  # the VAE takes 1 + 4k frames: repeat the last
        padded = np.concatenate([frames, np.repeat(frames[-1:], pad, 0)]) if pad else frames
        return reconstruct(self.vae, padded)[:T]

    def generate(self, case: Case, num_frames: int, seed: int) -> np.ndarray:
        return self._round_trip(simulate_case(case, num_frames).frames)

    def continue_video(self, case: Case, context: np.ndarray, num_frames: int, seed: int) -> np.ndarray:
        frames = self._round_trip(simulate_case(case, num_frames).frames)
        frames[: len(context)] = context
        return frames

    def describe(self) -> dict:
        from kinora.io.hashing import file_hash
        from kinora.models.vae import latent_id

        return {"name": self.name, "vae": str(self.path), "vae_hash": file_hash(self.path),
                "latents": latent_id(self.path)}


BACKENDS = {"kinora": KinoraBackend, "simulator": SimulatorBackend, "frozen": FrozenBackend, "vae": VaeBackend}


def get_backend(name: str, **kw) -> Backend:
    if name not in BACKENDS:
        raise KinoraError(f"unknown backend {name!r}; use one of {', '.join(BACKENDS)}")
    if name == "kinora":
        return KinoraBackend(**kw)
    if name == "vae":
        return VaeBackend(kw.get("model"))
    return BACKENDS[name]()
