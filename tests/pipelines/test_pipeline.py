"""The generation pipeline on tiny random-weight models: shapes, tasks, determinism, errors."""

import numpy as np
import pytest
import torch

from kinora.diffusion.tasks import window_spans
from kinora.errors import KinoraError
from kinora.models.dit import cxx_compiler
from kinora.pipelines.kinora import KinoraPipeline, latent_known_mask


@pytest.fixture(scope="module")
def pipe(tiny_weights):
    return KinoraPipeline.from_pretrained(tiny_weights)


def gen(pipe, seed=0, **kw):
    kw.setdefault("num_inference_steps", 2)
    return pipe("a red ball rolls left", generator=torch.Generator().manual_seed(seed), **kw).frames[0]


def test_t2v_shapes_and_determinism(pipe):
    a = gen(pipe, num_frames=8)
    assert a.shape == (8, 32, 32, 3) and a.dtype == np.uint8
    assert np.array_equal(a, gen(pipe, num_frames=8))
    assert not np.array_equal(a, gen(pipe, seed=1, num_frames=8))
    assert gen(pipe, num_frames=5, height=48, width=64).shape == (5, 48, 64, 3)


def test_chinese_prompt_is_planned_to_english(pipe):
    out = pipe("一个红色的球向左滚动", num_frames=5, num_inference_steps=1)
    assert "red ball" in out.canonical and "left" in out.canonical


def test_image_to_video_keeps_first_frame(pipe):
    img = np.random.default_rng(0).integers(0, 255, (32, 32, 3), dtype=np.uint8)
    out = gen(pipe, num_frames=9, image=img)
    assert np.array_equal(out[0], img)


def test_bridge_keeps_both_ends(pipe):
    rng = np.random.default_rng(1)
    a, b = (rng.integers(0, 255, (32, 32, 3), dtype=np.uint8) for _ in range(2))
    out = gen(pipe, num_frames=9, image=a, last_image=b)
    assert np.array_equal(out[0], a) and np.array_equal(out[-1], b)


def test_loop_ends_where_it_starts(pipe):
    out = gen(pipe, num_frames=9, loop=True)
    assert out.shape[0] == 9 and np.array_equal(out[0], out[-1])
    with pytest.raises(KinoraError, match="loop"):
        gen(pipe, num_frames=9, loop=True, video=out)


def test_extend_forward_and_backward_keep_the_input(pipe):
    video = np.random.default_rng(2).integers(0, 255, (6, 32, 32, 3), dtype=np.uint8)
    fwd = gen(pipe, video=video, num_frames=5, context_frames=5)
    assert fwd.shape[0] == 11 and np.array_equal(fwd[:6], video)
    back = gen(pipe, video=video, num_frames=3, extend="backward", context_frames=5)
    assert back.shape[0] == 9 and np.array_equal(back[-6:], video)
    # The added frames are generated, not copies of the input's frames.
    for new in (fwd[6:], back[:3]):
        assert not any(np.array_equal(f, v) for f in new for v in video)


def test_inpaint_leaves_outside_untouched(pipe):
    video = np.random.default_rng(3).integers(0, 255, (9, 32, 32, 3), dtype=np.uint8)
    mask = np.zeros(video.shape[:3], bool)
    mask[2:6, 8:24, 8:24] = True
    out = gen(pipe, video=video, edit_mask=mask)
    assert np.array_equal(out[~mask], video[~mask])
    assert not np.array_equal(out[mask], video[mask])


def test_an_edit_samples_only_the_windows_it_touches(pipe, monkeypatch):
    # 20 frames take several windows of 9; the edit is in the first one only
    windows = len(window_spans(20, pipe.window))
    assert windows >= 3
    video = np.random.default_rng(4).integers(0, 255, (20, 32, 32, 3), dtype=np.uint8)
    first, every = np.zeros(video.shape[:3], bool), np.zeros(video.shape[:3], bool)
    first[2:5, 8:24, 8:24] = True
    every[:, 8:24, 8:24] = True
    calls = []
    forward = pipe.dit.forward
    monkeypatch.setattr(pipe.dit, "forward", lambda *a, **k: calls.append(1) or forward(*a, **k))
    ga, gb = torch.Generator().manual_seed(0), torch.Generator().manual_seed(0)
    out = pipe("a red ball rolls left", video=video, edit_mask=first, num_inference_steps=2, generator=ga).frames[0]
    assert len(calls) == 2  # two steps of one window; the two windows with nothing to make are not sampled
    assert np.array_equal(out[~first], video[~first]) and not np.array_equal(out[first], video[first])
    calls.clear()
    pipe("a red ball rolls left", video=video, edit_mask=every, num_inference_steps=2, generator=gb)
    assert len(calls) == 2 * windows
    # the skipped windows drew their noise all the same: what comes after them is unchanged
    assert torch.equal(ga.get_state(), gb.get_state())


def test_long_clip_by_windows_is_continuous(pipe):
    # The window is 9 frames: 20 frames need three windows with known overlaps.
    out = gen(pipe, num_frames=20)
    assert out.shape == (20, 32, 32, 3)


def test_latent_mask_alignment():
    known = torch.zeros(9, 16, 16, dtype=torch.bool)
    known[0] = True
    m = latent_known_mask(known)
    assert m.shape == (1, 1, 3, 2, 2) and m[0, 0, 0].all() and not m[0, 0, 1:].any()
    known[1:5, :8, :8] = True  # a whole 4-frame group in one 8x8 cell
    m = latent_known_mask(known)
    assert m[0, 0, 1, 0, 0] == 1 and m[0, 0, 1].sum() == 1


@pytest.mark.parametrize("kw, message", [
    (dict(prompt="  "), "prompt is empty"),
    (dict(num_frames=0), "num_frames"),
    (dict(num_frames=10 ** 7), "num_frames"),
    (dict(height=50), "height 50"),
    (dict(guidance_scale=-1), "guidance_scale"),
    (dict(sampler="magic"), "unknown sampler"),
])
def test_bad_input(pipe, kw, message):
    prompt = kw.pop("prompt", "a red ball")
    with pytest.raises(KinoraError, match=message):
        pipe(prompt, num_inference_steps=1, **kw)


def test_dit_loads_only_with_the_vae_it_was_trained_on(tiny_weights, tmp_path):
    import shutil

    from kinora.models.dit import load_dit, save_dit
    from kinora.pipelines.kinora import sha256_file

    model, meta = load_dit(tiny_weights / "dit-tiny-ema.safetensors")
    meta.pop("dit_config")
    vae = tiny_weights / "vae-tiny.safetensors"
    # A training run's checkpoint: no VAE beside it, the recorded path finds it.
    save_dit(tmp_path / "run" / "dit-tiny-ema.safetensors", model,
             {**meta, "vae_path": str(vae), "vae_hash": sha256_file(vae)[:16]})
    assert KinoraPipeline.from_pretrained(tmp_path / "run").vae is not None
    # A VAE beside it that is not the one it was trained on: a one-line error, not noise.
    shutil.copy(vae, tmp_path / "run" / "vae-tiny.safetensors")
    save_dit(tmp_path / "run" / "dit-tiny-ema.safetensors", model, {**meta, "vae_hash": "0123456789abcdef"})
    with pytest.raises(KinoraError, match="trained with VAE 0123456789abcdef"):
        KinoraPipeline.from_pretrained(tmp_path / "run")


def test_extension_windows_encode_only_their_context(pipe, monkeypatch):
    # The causal encoder makes the latents of a known prefix independent of later frames,
    # so each window encodes just its context (what keeps long videos linear in time).
    lengths, encode = [], pipe.vae.encode
    monkeypatch.setattr(pipe.vae, "encode", lambda x: (lengths.append(x.shape[2]), encode(x))[1])
    video = np.random.default_rng(4).integers(0, 255, (5, 32, 32, 3), dtype=np.uint8)
    out = gen(pipe, video=video, num_frames=12, context_frames=5)
    assert out.shape[0] == 17 and np.array_equal(out[:5], video)
    assert lengths and max(lengths) == 5, lengths  # never a whole 9-frame window


def test_the_output_keeps_the_plan(pipe):
    out = pipe("a big red ball rolls left", num_frames=5, num_inference_steps=1,
               generator=torch.Generator().manual_seed(11))
    assert out.task == "t2v" and out.seed == 11
    assert [(o.shape, o.color, o.size) for o in out.spec.objects] == [("sphere", "red", "large")]
    prov = out.provenance["objects"]["obj0"]
    assert prov["text"] == "a big red ball" and prov["fields"]["color"]["text"] == "red"
    assert out.provenance["camera"]["invented"] and out.provenance["camera"]["fields"]["motion"] == {"invented": True}
    assert out.spec.num_frames == 5 and out.settings["frames"] == 5 and out.settings["steps"] == 1


@pytest.mark.parametrize("kw, task", [
    ({"image": "img"}, "i2v"), ({"image": "img", "last_image": "img"}, "bridge"), ({"loop": True}, "loop"),
    ({"video": "vid"}, "extend"), ({"video": "vid", "extend": "backward", "num_frames": 3}, "extend_backward"),
    ({"video": "vid", "edit_mask": "mask"}, "inpaint"),
])
def test_the_output_names_its_task(pipe, kw, task):
    rng = np.random.default_rng(3)
    data = {"img": rng.integers(0, 255, (32, 32, 3), dtype=np.uint8),
            "vid": rng.integers(0, 255, (5, 32, 32, 3), dtype=np.uint8), "mask": np.ones((5, 32, 32), bool)}
    kw = {k: data.get(v, v) if isinstance(v, str) and k != "extend" else v for k, v in kw.items()}
    kw.setdefault("num_frames", 5)
    assert gen_out(pipe, **kw).task == task


def test_inputs_that_cannot_go_together_are_refused(pipe):
    img = np.zeros((32, 32, 3), np.uint8)
    with pytest.raises(KinoraError, match="not both"):
        gen(pipe, num_frames=5, image=img, video=np.zeros((5, 32, 32, 3), np.uint8))
    with pytest.raises(KinoraError, match="needs the video"):
        gen(pipe, num_frames=5, extend="backward")


def gen_out(pipe, seed=0, **kw):
    return pipe("a red ball rolls left", generator=torch.Generator().manual_seed(seed), num_inference_steps=1, **kw)


def test_a_student_away_from_its_vae_finds_the_shipped_one_by_its_latents(tmp_path):
    from kinora.defaults import SHIPPED_VAE
    from kinora.models.vae import latent_id
    from kinora.pipelines.kinora import find_vae

    meta = {"vae_name": "small", "vae_hash": latent_id(SHIPPED_VAE), "vae_path": "/nowhere/vae-small.safetensors"}
    assert find_vae(tmp_path / "dit-small-ema.safetensors", meta) == SHIPPED_VAE
    other = {**meta, "vae_hash": "0" * 12}
    assert find_vae(tmp_path / "dit-small-ema.safetensors", other) == tmp_path / "vae-small.safetensors"


@pytest.mark.skipif(not cxx_compiler(), reason="torch.compile on CPU needs a C++ compiler")
def test_a_compiled_pipeline_is_its_own_load_and_samples_like_the_eager_one(tiny_weights):
    from kinora.pipelines.base import load_generator
    from kinora.pipelines.kinora import load_pipeline

    eager = load_pipeline(tiny_weights)
    compiled = load_generator("kinora", tiny_weights, compile=True)
    assert compiled is not eager and compiled.compiled and not eager.compiled
    assert compiled.dit.blocks[0]._compiled_call_impl is not None and eager.dit.blocks[0]._compiled_call_impl is None
    assert load_pipeline(tiny_weights, compile=True) is compiled  # one load per process and setting

    def make(pipe):
        return pipe("a red ball rolls left", num_frames=5, num_inference_steps=2,
                    generator=torch.Generator().manual_seed(0))

    a, b = make(eager), make(compiled)
    assert b.settings["compiled"] is True and "compiled" not in a.settings  # the provenance says how it ran
    # compiled kernels round apart from eager ones, nothing more
    assert np.abs(a.frames[0].astype(int) - b.frames[0].astype(int)).max() <= 2


def test_compile_is_refused_for_an_adapter():
    from kinora.pipelines.base import load_generator
    from kinora.pipelines.generate import GenerateRequest, check_request

    with pytest.raises(KinoraError, match="compiling \\(--compile\\) is for the kinora backend"):
        load_generator("wan", None, compile=True)
    with pytest.raises(KinoraError, match="compiling \\(--compile\\) is for the kinora backend"):
        check_request(GenerateRequest("a red ball", backend="wan", compile=True))
