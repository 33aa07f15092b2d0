"""Generators: Kinora's own pipeline (VAE + DiT + text encoder + sampler), the typed
output that keeps the plan with the frames, and the protocol other generators
(diffusers adapters for Wan, CogVideoX, LTX) implement.

    from kinora.pipelines import KinoraPipeline
"""

from kinora.pipelines.kinora import GenerationOutput, KinoraPipeline

__all__ = ["GenerationOutput", "KinoraPipeline"]
