"""CogVideoX through diffusers: `CogVideoXPipeline` (text-to-video) and
`CogVideoXImageToVideoPipeline` (its own image-to-video weights: extension from a clip's
last frame).

CogVideoX's T5 reads English only: a Chinese prompt is given to it as the English caption
Kinora's reader makes of it, with a warning. 8 fps, 1 + 4k frames (49 in one call), sizes
in multiples of 16. Its transformer was trained on text of exactly max_text_seq_length
tokens (226), which the call passes as max_sequence_length.

The tiny folder (with --i2v the image-to-video one) follows the sizes of diffusers' own
pipeline tests (a 4-block VAE of 8 channels, one transformer layer, a one-layer T5 of
width 32; random weights).
"""

from __future__ import annotations

from kinora.pipelines.adapters.common import TINY_TEXT_DIM, BackendInfo, tiny_t5, tiny_tokenizer

INFO = BackendInfo(
    name="cogvideox", title="CogVideoX (diffusers CogVideoXPipeline)",
    pipelines={"CogVideoXPipeline": frozenset({"t2v"}),
               "CogVideoXImageToVideoPipeline": frozenset({"i2v", "extend"})},
    i2v_pipeline="CogVideoXImageToVideoPipeline", fps=8, frame_step=4, size_multiple=16, default_size=(720, 480),
    max_frames=49, steps=50, languages=("en",), max_sequence_length=226)

TINY_SETTINGS = {"size": [64, 64], "fps": 8, "steps": 2, "max_frames": 17, "max_sequence_length": 64}


def build_tiny(i2v: bool = False):
    """A CogVideoXPipeline (or, i2v=True, a CogVideoXImageToVideoPipeline) with random weights."""
    from diffusers import (
        AutoencoderKLCogVideoX,
        CogVideoXDDIMScheduler,
        CogVideoXImageToVideoPipeline,
        CogVideoXPipeline,
        CogVideoXTransformer3DModel,
    )

    tokenizer = tiny_tokenizer()
    # The image model reads the noisy latents with the image's latents stacked on them (4 + 4 channels).
    transformer = CogVideoXTransformer3DModel(
        num_attention_heads=4, attention_head_dim=8, in_channels=8 if i2v else 4, out_channels=4, time_embed_dim=2,
        text_embed_dim=TINY_TEXT_DIM, num_layers=1, sample_width=8, sample_height=8, sample_frames=9, patch_size=2,
        temporal_compression_ratio=4, max_text_seq_length=TINY_SETTINGS["max_sequence_length"])
    vae = AutoencoderKLCogVideoX(in_channels=3, out_channels=3, down_block_types=("CogVideoXDownBlock3D",) * 4,
                                 up_block_types=("CogVideoXUpBlock3D",) * 4, block_out_channels=(8, 8, 8, 8),
                                 latent_channels=4, layers_per_block=1, norm_num_groups=2,
                                 temporal_compression_ratio=4)
    pipeline = CogVideoXImageToVideoPipeline if i2v else CogVideoXPipeline
    return pipeline(tokenizer=tokenizer, text_encoder=tiny_t5(len(tokenizer)), vae=vae, transformer=transformer,
                    scheduler=CogVideoXDDIMScheduler())
