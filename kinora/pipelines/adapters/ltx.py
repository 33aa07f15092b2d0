"""LTX-Video through diffusers: `LTXPipeline` for text-to-video, and
`LTXImageToVideoPipeline` over the same weights for image-to-video (so one folder does
t2v, i2v and extension from a clip's last frame, and clips longer than one call).

LTX's T5 reads English only: a Chinese prompt is given to it as the English caption
Kinora's reader makes of it, with a warning. 1 + 8k frames (161 in one call), sizes in
multiples of 32, the frame rate passed to the call (it conditions on it).

The tiny folder follows the sizes of diffusers' own pipeline tests (a VAE of 8 channels
with two space-time downsamplings, one transformer layer, a one-layer T5; random weights).
"""

from __future__ import annotations

from kinora.pipelines.adapters.common import TINY_TEXT_DIM, BackendInfo, tiny_t5, tiny_tokenizer

INFO = BackendInfo(
    name="ltx", title="LTX-Video (diffusers LTXPipeline)",
    pipelines={"LTXPipeline": frozenset({"t2v", "i2v", "extend"})},
    i2v_pipeline="LTXImageToVideoPipeline", fps=25, frame_step=8, size_multiple=32, default_size=(704, 480),
    max_frames=161, steps=50, languages=("en",), max_sequence_length=128, extra_call={"frame_rate": 25})

TINY_SETTINGS = {"size": [64, 64], "fps": 24, "steps": 2, "max_frames": 33, "max_sequence_length": 64}


def build_tiny(i2v: bool = False):  # one folder does both: i2v is accepted and changes nothing
    """An LTXPipeline with random weights."""
    from diffusers import (
        AutoencoderKLLTXVideo,
        FlowMatchEulerDiscreteScheduler,
        LTXPipeline,
        LTXVideoTransformer3DModel,
    )

    tokenizer = tiny_tokenizer()
    transformer = LTXVideoTransformer3DModel(in_channels=8, out_channels=8, patch_size=1, patch_size_t=1,
                                             num_attention_heads=4, attention_head_dim=8,
                                             cross_attention_dim=TINY_TEXT_DIM, num_layers=1,
                                             caption_channels=TINY_TEXT_DIM)
    vae = AutoencoderKLLTXVideo(
        in_channels=3, out_channels=3, latent_channels=8, block_out_channels=(8, 8, 8, 8),
        decoder_block_out_channels=(8, 8, 8, 8), layers_per_block=(1, 1, 1, 1, 1),
        decoder_layers_per_block=(1, 1, 1, 1, 1), spatio_temporal_scaling=(True, True, False, False),
        decoder_spatio_temporal_scaling=(True, True, False, False), decoder_inject_noise=(False,) * 5,
        upsample_residual=(False,) * 4, upsample_factor=(1,) * 4, timestep_conditioning=False, patch_size=1,
        patch_size_t=1, encoder_causal=True, decoder_causal=False)
    return LTXPipeline(scheduler=FlowMatchEulerDiscreteScheduler(), vae=vae, text_encoder=tiny_t5(len(tokenizer)),
                       tokenizer=tokenizer, transformer=transformer)
