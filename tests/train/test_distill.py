"""Distillation into fewer unguided steps (kinora.train.distill), on the tiny random model."""

from pathlib import Path

import pytest
import torch

from kinora.diffusion.flow import resolution_shift
from kinora.diffusion.sampling import get_sigmas
from kinora.errors import KinoraError
from kinora.models.dit import read_dit_metadata
from kinora.train.distill import MASK_KINDS, DistillSettings, known_mask, pairs, rollout, run


def test_the_student_grid_is_the_teacher_grid_subsampled():
    shift = resolution_shift(9, 8, 8)
    assert torch.allclose(get_sigmas(12, shift)[::3], get_sigmas(4, shift))
    assert torch.allclose(get_sigmas(10, shift)[::2], get_sigmas(5, shift))


def test_pairs_target_the_velocity_between_grid_points():
    sigmas = torch.tensor([1.0, 0.75, 0.5, 0.25, 0.0])
    states = [torch.full((2, 1, 1, 1, 1), float(k)) for k in range(5)]  # x moves by 1 per teacher step
    x, t, v = pairs(states, sigmas, r=2)
    assert x.shape == (4, 1, 1, 1, 1) and t.tolist() == [1.0, 1.0, 0.5, 0.5]
    assert torch.allclose(v, torch.full_like(v, 2.0 / -0.5))  # two steps of +1 over a drop of 0.5 in t


@pytest.mark.parametrize("kw, msg", [({"teacher_steps": 10, "student_steps": 3}, "must divide"),
                                     ({"teacher_steps": 4, "student_steps": 5}, "must divide"),
                                     ({"precision": "fp16"}, "--precision"),
                                     ({"masks": ("first", "middle")}, "--masks takes"),
                                     ({"masks": ()}, "--masks takes"),
                                     ({"batch": 0}, "--batch"), ({"lr": -1.0}, "--lr"),
                                     ({"frames": (6,)}, "1 \\+ 4k")])
def test_bad_settings_are_refused_in_one_line(tmp_path, kw, msg):
    with pytest.raises(KinoraError, match=msg):
        run(DistillSettings(out=str(tmp_path / "d"), **kw))
    assert not (tmp_path / "d").exists()


def test_a_student_records_its_sampling_and_the_pipeline_uses_it(tiny_weights, tmp_path):
    from kinora.pipelines.kinora import KinoraPipeline

    s = DistillSettings(out=str(tmp_path / "d"), teacher=str(tiny_weights), teacher_steps=2, student_steps=1,
                        batch=1, steps=2, ckpt_every=2, frames=(9,), threads=1)
    path = run(s)
    meta = read_dit_metadata(path)
    assert meta["sample"] == {"sampler": "euler", "steps": 1, "guidance": 1.0}
    assert meta["distilled"]["teacher_steps"] == 2 and meta["step"] == 2
    pipe = KinoraPipeline.from_pretrained(tmp_path / "d", precision="fp32")
    assert (pipe.sample.steps, pipe.sample.guidance) == (1, 1.0)
    out = pipe("a red ball", num_frames=5, generator=torch.Generator().manual_seed(0))
    assert out.frames[0].shape == (5, 32, 32, 3) and out.settings["steps"] == 1 and out.settings["guidance"] == 1.0
    with pytest.raises(KinoraError, match="already holds a run"):
        run(s)
    with pytest.raises(KinoraError, match="distilled student"):
        run(DistillSettings(out=str(tmp_path / "e"), teacher=str(tmp_path / "d"), teacher_steps=2, student_steps=1))


def test_a_resumed_run_ends_where_an_uninterrupted_one_does(tiny_weights, tmp_path):
    from safetensors.torch import load_file

    base = dict(teacher=str(tiny_weights), teacher_steps=2, student_steps=1, batch=1, frames=(5,), threads=1,
                ckpt_every=2, masked_share=0.5)
    run(DistillSettings(out=str(tmp_path / "a"), steps=4, **base))
    run(DistillSettings(out=str(tmp_path / "b"), steps=2, **base))
    run(DistillSettings(out=str(tmp_path / "b"), steps=4, resume=True, **base))
    a = load_file(str(tmp_path / "a" / "dit-tiny-ema.safetensors"))
    b = load_file(str(tmp_path / "b" / "dit-tiny-ema.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_a_resume_with_other_settings_is_refused(tiny_weights, tmp_path):
    base = dict(out=str(tmp_path / "a"), teacher=str(tiny_weights), teacher_steps=2, student_steps=1, batch=1,
                frames=(5,), threads=1, ckpt_every=1)
    run(DistillSettings(steps=1, **base))
    with pytest.raises(KinoraError, match="--batch differs"):
        run(DistillSettings(steps=2, resume=True, **{**base, "batch": 2}))
    run(DistillSettings(steps=2, resume=True, **base))  # the same settings, more steps: fine


def test_with_equal_steps_the_target_is_the_guided_velocity_at_each_teacher_state():
    # r = 1: guidance distillation alone; each pair's target is v_u + s (v_c - v_u) at that state.
    from kinora.diffusion.sampling import CFG
    from kinora.models.dit import DiT
    from kinora.models.presets import get_preset

    torch.manual_seed(0)
    net = DiT(get_preset("tiny").dit).eval()
    for p in net.final_proj.parameters():  # a non-zero output layer, so v_c and v_u differ
        torch.nn.init.normal_(p, std=0.1)
    teacher = CFG(net, 3.0)
    cond = {"text": torch.randn(2, 4, 384), "text_mask": torch.ones(2, 4, dtype=torch.bool)}
    uncond = {"text": torch.zeros(2, 4, 384), "text_mask": torch.tensor([[True, False, False, False]] * 2)}
    sigmas = get_sigmas(3, resolution_shift(3, 4, 4))
    with torch.no_grad():
        states = rollout(teacher, cond, uncond, torch.randn(2, net.cfg.latent_channels, 3, 4, 4), sigmas)
        x, t, v = pairs(states, sigmas, r=1)
        assert x.shape[0] == 6 and t.tolist() == [float(s) for s in sigmas[:-1] for _ in range(2)]
        for j in range(3):
            tj = torch.full((2,), float(sigmas[j]))
            guided = teacher(states[j], tj, cond, uncond)
            assert torch.allclose(v[2 * j:2 * j + 2], guided, atol=1e-5)
            assert not torch.allclose(guided, net(states[j], tj, cond), atol=1e-3)  # guidance matters here


def test_a_guidance_distilled_student_keeps_the_teachers_steps_and_records_its_format(tiny_weights, tmp_path):
    from kinora.models.precision import train_dtype

    path = run(DistillSettings(out=str(tmp_path / "g"), teacher=str(tiny_weights), teacher_steps=2,
                               student_steps=2, batch=1, steps=1, ckpt_every=1, frames=(5,), threads=1))
    meta = read_dit_metadata(path)
    assert meta["sample"] == {"sampler": "euler", "steps": 2, "guidance": 1.0}
    ran = "bf16" if train_dtype("auto") == torch.bfloat16 else "fp32"
    assert meta["distilled"]["settings"]["precision"] == ran  # what ran, never "auto"
    path = run(DistillSettings(out=str(tmp_path / "f"), teacher=str(tiny_weights), teacher_steps=2,
                               student_steps=1, batch=1, steps=1, ckpt_every=1, frames=(5,), threads=1,
                               precision="fp32"))
    assert read_dit_metadata(path)["distilled"]["settings"]["precision"] == "fp32"


@pytest.mark.parametrize("F", [2, 5, 9])
def test_each_masked_task_knows_some_cells_and_samples_others_in_its_own_layout(F):
    gen = torch.Generator().manual_seed(0)
    for kind in MASK_KINDS:
        for _ in range(50):
            m = known_mask(kind, 2, F, 4, 4, gen)
            assert m.shape == (2, 1, F, 4, 4) and torch.equal(m[0], m[1])
            assert 0 < m.sum() < m.numel(), kind
            per_frame = m[0, 0].flatten(1)  # (F, h*w)
            full = per_frame.all(1).tolist()
            if kind == "first":
                k = full.index(False)
                assert all(full[:k]) and not any(full[k:]) and not per_frame[k:].any()
            elif kind == "last":
                k = full.index(True)
                assert not any(full[:k]) and all(full[k:]) and not per_frame[:k].any()
            elif kind == "both" and F >= 3:
                assert full[0] and full[-1] and not all(full)
                assert ((per_frame.sum(1) == 0) | (per_frame.sum(1) == 16)).all()  # whole frames only
            elif kind == "box":
                hole = m[0, 0] == 0  # (F, h, w): one box over a span of frames
                f, r, c = (hole.any(dim=d) for d in ((1, 2), (0, 2), (0, 1)))
                box = f[:, None, None] & r[None, :, None] & c[None, None, :]
                assert torch.equal(hole, box) and not hole[f].all()


def test_set_sample_rewrites_only_the_sampling_of_a_student(tmp_path):
    import importlib.util

    from safetensors.torch import load_file

    from kinora.models.dit import DiT, save_dit
    from kinora.models.presets import get_preset

    spec = importlib.util.spec_from_file_location("set_sample", Path(__file__).parents[2] / "scripts/set_sample.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    torch.manual_seed(0)
    student, plain = tmp_path / "student.safetensors", tmp_path / "plain.safetensors"
    save_dit(student, DiT(get_preset("tiny").dit), {"preset": "tiny", "sample": {"sampler": "euler", "steps": 10,
                                                                                  "guidance": 1.0}},
             dtype=torch.float16)
    save_dit(plain, DiT(get_preset("tiny").dit), {"preset": "tiny"})
    before = load_file(str(student))
    assert script.set_sample(student, 8) == {"sampler": "euler", "steps": 8, "guidance": 1.0}
    meta, after = read_dit_metadata(student), load_file(str(student))
    assert meta["sample"]["steps"] == 8 and meta["sample_set"]["before"]["steps"] == 10 and meta["preset"] == "tiny"
    assert before.keys() == after.keys() and all(torch.equal(before[k], after[k]) and after[k].dtype == torch.float16
                                                 for k in before)
    with pytest.raises(KinoraError, match="not a distilled student"):
        script.set_sample(plain, 8)
    script.set_sample(student, 6)  # again: "before" is still what the student was made with
    assert read_dit_metadata(student)["sample_set"]["before"]["steps"] == 10
    for bad in (0, 100000):
        with pytest.raises(KinoraError, match="out of range; use 1 to 1000"):
            script.set_sample(student, bad)
