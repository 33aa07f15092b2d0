"""Wan 2.1 through diffusers (Wan 2.2's TI2V-5B, at 24 fps with a 16x VAE, needs its own
settings in the folder's kinora.json: fps, size): `WanPipeline` (text-to-video) and
`WanImageToVideoPipeline` (image-to-video, and so extension from a clip's last frame).

Which one a model folder holds is read from its model_index.json: Wan's text-to-video and
image-to-video releases are separate weights (the image model's transformer takes the
image latents as extra channels and a CLIP image embedding). Wan's UMT5 reads English and
Chinese, so a Chinese prompt is given to it as written. 16 fps, 1 + 4k frames, sizes in
multiples of 16 (the VAE's 8 times the transformer's 2x2 patches).

The tiny folder (`kinora backends make-tiny wan DIR`, with --i2v the image-to-video one)
follows the sizes of diffusers' own pipeline tests: a 3-channel-base VAE, a two-layer
transformer of width 24 and a one-layer UMT5 of width 32 (the image model adds a tiny
CLIP image encoder), random weights, a tokenizer built in code. Wan's first-and-last-frame
model (bridging) is not driven: diffusers' call for it fails on the tiny configuration, so
it is refused like any task a folder does not do.
"""

from __future__ import annotations

from kinora.pipelines.adapters.common import TINY_TEXT_DIM, BackendInfo, tiny_t5, tiny_tokenizer

INFO = BackendInfo(
    name="wan", title="Wan (diffusers WanPipeline)",
    pipelines={"WanPipeline": frozenset({"t2v"}), "WanImageToVideoPipeline": frozenset({"i2v", "extend"})},
    i2v_pipeline="WanImageToVideoPipeline", fps=16, frame_step=4, size_multiple=16, default_size=(832, 480),
    max_frames=81, steps=50, languages=("en", "zh"), max_sequence_length=512)

TINY_SETTINGS = {"size": [64, 64], "fps": 16, "steps": 2, "max_frames": 33, "max_sequence_length": 64}


def build_tiny(i2v: bool = False):
    """A WanPipeline (or, i2v=True, a WanImageToVideoPipeline) with random weights, under 1 MB."""
    from diffusers import (
        AutoencoderKLWan,
        FlowMatchEulerDiscreteScheduler,
        WanImageToVideoPipeline,
        WanPipeline,
        WanTransformer3DModel,
    )

    tokenizer = tiny_tokenizer()
    vae = AutoencoderKLWan(base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1,
                           temperal_downsample=[False, True, True])
    # The image model reads the noisy latents with the image's latents and mask stacked on
    # them (16 + 20 channels) and a CLIP embedding of the image beside the text.
    transformer = WanTransformer3DModel(patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=12,
                                        in_channels=36 if i2v else 16, out_channels=16, text_dim=TINY_TEXT_DIM,
                                        freq_dim=256, ffn_dim=32, num_layers=2, cross_attn_norm=True,
                                        qk_norm="rms_norm_across_heads", rope_max_seq_len=32,
                                        image_dim=4 if i2v else None)
    common = dict(tokenizer=tokenizer, text_encoder=tiny_t5(len(tokenizer), umt5=True), vae=vae,
                  scheduler=FlowMatchEulerDiscreteScheduler(shift=7.0), transformer=transformer)
    if not i2v:
        return WanPipeline(**common)
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModelWithProjection

    encoder = CLIPVisionModelWithProjection(CLIPVisionConfig(hidden_size=4, projection_dim=4, num_hidden_layers=2,
                                                             num_attention_heads=2, image_size=32,
                                                             intermediate_size=16, patch_size=1))
    return WanImageToVideoPipeline(**common, image_encoder=encoder,
                                   image_processor=CLIPImageProcessor(crop_size=32, size=32))
