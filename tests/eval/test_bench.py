"""`kinora bench --tiny`: every field of the JSON exists and is sane, the table renders."""

import importlib.util
import json

import pytest

from kinora.cli import main


def test_bench_tiny_has_every_field(tmp_path, capsys):
    code = main(["bench", "--tiny", "--threads", "1", "--json", "--out", str(tmp_path)])
    r = json.loads(capsys.readouterr().out)
    assert code == 0
    for k in ("realtime_factor", "long_video", "dit_step_ratio_vs_diffusers", "train_fraction_of_matmul_peak",
              "world_clips_per_s", "load_s", "machine"):
        assert k in r, k
    assert r["realtime_factor"] > 0 and r["load_s"] > 0
    lv = r["long_video"]
    for s in ("1", "2", "3"):
        assert lv[s]["wall_s"] > 0 and lv[s]["peak_rss_mb"] > 0 and lv[s]["frames"] == 8 * int(s)
    assert lv["time_ratio"] > 0 and lv["memory_ratio"] > 0
    assert 0 < r["train_fraction_of_matmul_peak"] < 1.5
    assert r["train"]["flops_per_step"] > 0 and r["train"]["samples_per_s"] > 0
    assert r["world_clips_per_s"] > 0
    assert r["machine"]["cores"] >= 1 and r["machine"]["torch"]
    if importlib.util.find_spec("diffusers") is not None:
        assert r["dit_step_ratio_vs_diffusers"] > 0
        from kinora.models.precision import bf16_units

        if bf16_units():  # the bf16 row: both models' steps timed in bf16
            assert r["dit_step_ratio_vs_diffusers_bf16"] > 0 and r["dit"]["wan_bf16_ms"] > 0
    else:
        assert r["dit_step_ratio_vs_diffusers"] is None and "diffusers" in r["dit"]["note"]
    pk = r["matmul_peak"]
    assert pk["fp32_gflops"] > 0 and pk["bf16_gflops"] > 0 and isinstance(pk["amx_used"], bool)
    assert pk["bf16_matmul_kernel"] and isinstance(pk["amx_bf16"], bool) and isinstance(pk["avx512_bf16"], bool)
    for k in ("train_fraction_of_bf16_peak", "sampling_fraction_of_fp32_peak", "sampling_fraction_of_bf16_peak"):
        assert 0 < r[k] < 1.5, k
    assert r["dit"]["ours_flops"] > 0 and r["dit"]["ours_gflops"] > 0
    assert r["train"]["precision"] == "fp32"
    from kinora.models.precision import bf16_units

    if bf16_units():  # training timed again with bf16 blocks: the same FLOPs, its own time
        tb = r["train_bf16"]
        assert tb["precision"] == "bf16" and tb["flops_per_step"] == r["train"]["flops_per_step"]
        assert r["train_bf16_speedup"] > 0 and 0 < r["train_bf16_fraction_of_bf16_peak"] < 1.5
        assert "--precision bf16" in (tmp_path / "bench.md").read_text(encoding="utf-8")
    else:
        assert "train_bf16" not in r
    rt = r["realtime"]  # the tiny preset has the physics signal: the guided clip is timed too
    assert rt["guided_wall_s"] > 0 and rt["guided_realtime_factor"] > 0 and rt["guided_simulation_s"] > 0
    tl = r["timeline"]
    assert tl["shots"] == 2 and tl["region_edit_s"] > 0 and tl["fresh_shot_s"] > 0 and tl["render_and_otio_s"] > 0
    fm = r["film"]
    assert fm["shots"] == 2 and fm["plan_s"] > 0 and fm["previs_storyboard_s"] > 0 and fm["film_wall_s"] > 0
    assert fm["verified"] + fm["flagged"] == 2 and fm["takes"] >= 2
    sd = r["studio"]  # tiny: no browser; 4 jobs from 2 owners through the queue
    assert sd["done"] == sd["intact"] == 4 and sd["failed"] == [] and sd["owners"] == 2 and sd["workers"] >= 1
    assert all(v > 100 for v in sd["worker_peak_rss_mb"]) and sd["worker_restarts"] == 0
    md = (tmp_path / "bench.md").read_text(encoding="utf-8")
    assert "story -> film" in md and "studio: 4 queued shot jobs from 2 tab(s)" in md
    assert "real-time factor" in md and "cores" in md and "fp32 / bf16" in md
    assert "guided by the simulator" in md and "region edit of one" in md and "film render of 2 shots" in md


def test_bench_bad_threads(capsys):
    assert main(["bench", "--tiny", "--threads", "0"]) == 2
    assert "--threads" in capsys.readouterr().err


def test_a_distilled_model_is_timed_beside_the_teacher_it_came_from(tmp_path):
    import shutil

    from kinora.eval.bench import generation_runs, prepare_model
    from kinora.models.dit import load_dit, save_dit
    from kinora.models.presets import get_preset

    teacher, _ = prepare_model("tiny", None, tmp_path / "teacher")
    student = tmp_path / "student"
    shutil.copytree(teacher, student)
    model, meta = load_dit(student / "dit-tiny-ema.safetensors")
    meta = {k: v for k, v in meta.items() if k != "dit_config"}
    save_dit(student / "dit-tiny-ema.safetensors", model,
             {**meta, "sample": {"sampler": "euler", "steps": 1, "guidance": 1.0}, "distilled": {"teacher_steps": 1}})
    cfg = {"model": str(student), "teacher": str(teacher), "threads": 1, "size": 32, "realtime_s": 1.0,
           "long_s": [1, 2], "long_steps": 1}
    rt = generation_runs(cfg)["realtime"]
    tiny = get_preset("tiny").sample
    assert (rt["steps"], rt["student_steps"], rt["student_guidance"]) == (1, 1, 1.0)
    assert (rt["teacher_steps"], rt["teacher_guidance"]) == (tiny.steps, tiny.guidance)
    assert rt["teacher_wall_s"] > 0
    assert rt["teacher_realtime_factor"] == pytest.approx(1.0 / rt["teacher_wall_s"], rel=0.05)
    assert rt["teacher_long_s"] == 2 and rt["teacher_long_wall_s"] > 0
    rt = generation_runs({**cfg, "teacher": None})["realtime"]  # no teacher given: nothing timed for it
    assert rt["teacher_wall_s"] is None and rt["teacher_long_wall_s"] is None


def test_compiled_sampling_is_timed_after_its_first_call(tmp_path, monkeypatch):
    # The bookkeeping only (tests do not wait for Inductor): compile_blocks is a no-op that says it compiled.
    from kinora.eval.bench import generation_runs, prepare_model
    from kinora.models.dit import DiT

    folder, _ = prepare_model("tiny", None, tmp_path / "w")
    cfg = {"model": str(folder), "threads": 1, "size": 32, "realtime_s": 1.0, "long_s": [1, 2], "long_steps": 1}
    rt = generation_runs(cfg)["realtime"]
    assert rt["compiled_wall_s"] is None and rt["compiled_long_wall_s"] is None  # not asked
    asked = []
    monkeypatch.setattr(DiT, "compile_blocks", lambda self: asked.append(self) or True)
    rt = generation_runs({**cfg, "compile": True})["realtime"]
    assert len(asked) == 1 and rt["compiled_first_call_s"] > 0 and rt["compiled_wall_s"] > 0
    assert rt["compiled_realtime_factor"] == pytest.approx(1.0 / rt["compiled_wall_s"], rel=0.05)
    assert rt["compiled_long_s"] == 2 and rt["compiled_long_first_s"] > 0 and rt["compiled_long_wall_s"] > 0
