"""`kinora eval` end to end on 2-3 short prompts: the simulator oracle scores high, a frozen
frame scores low on physics and motion, a tiny random pipeline goes through, every field exists."""

import json

import numpy as np
import pytest

from kinora.cli import main
from kinora.eval.backends import FrozenBackend, KinoraBackend, SimulatorBackend, VaeBackend, simulate_case
from kinora.eval.metrics import analyze_clip, bhattacharyya, color_histogram
from kinora.eval.physics import compare_continuations
from kinora.eval.runner import evaluate, weakest
from kinora.eval.suite import read_suite, subset
from kinora.pipelines.kinora import KinoraPipeline

TOP = ["alignment", "permanence", "physics", "consistency", "smoothness", "dynamic_degree", "drift"]


def check_fields(s):
    for k in TOP:
        assert k in s, k
    for k in ("color", "shape", "count", "motion", "camera", "overall"):
        assert 0.0 <= s["alignment"][k] <= 1.0
    assert "score" in s["physics"]
    assert {"score", "color", "size", "count", "gaps_s"} <= set(s["drift"])
    assert 0.0 <= s["permanence"] <= 1.0 and 0.0 <= s["dynamic_degree"] <= 1.0
    json.dumps(s)  # plain JSON all the way down


@pytest.fixture(scope="module")
def cases():
    # Two seconds (16 frames) is enough to exercise every metric quickly.
    return [c.with_duration(2.0) for c in subset(read_suite(), 3)]


def test_simulator_oracle_scores_high(cases):
    s = evaluate(SimulatorBackend(), cases, physics_n=1, progress=False).summary
    check_fields(s)
    a = s["alignment"]
    assert a["color"] == a["shape"] == a["count"] == a["camera"] == 1.0
    assert s["permanence"] == 1.0
    assert s["physics"]["cases"] == 1 and s["physics"]["score"] == 1.0
    assert s["physics"]["frozen_score"] < 0.5  # the metric tells a still frame from physics
    assert s["drift"]["score"] == 1.0
    assert s["consistency"] > 0.9 and s["smoothness"] > 0.9
    assert s["planning"] == 1.0
    assert len(weakest(s)) == 3


def test_frozen_frame_does_not_move(cases):
    s = evaluate(FrozenBackend(), cases, physics_n=1, progress=False).summary
    check_fields(s)
    assert s["dynamic_degree"] == 0.0
    assert s["alignment"]["motion"] < s["simulator"]["alignment"]["motion"]  # still objects are still right
    assert s["physics"]["score"] < 0.5


def test_vae_round_trip_is_the_latent_ceiling(cases, tiny_weights):
    # The shipped VAE: the simulator's clips come back close to the truth, and the
    # analyzer reads them (what a perfect DiT would reach), if not as well as the oracle.
    s = evaluate(VaeBackend(), cases, physics_n=1, progress=False).summary
    check_fields(s)
    assert s["backend"]["name"] == "vae" and len(s["backend"]["vae_hash"]) == 16
    assert s["readable"] == 1.0 and s["alignment"]["color"] >= 0.8 and s["alignment"]["camera"] == 1.0
    assert s["physics"]["score"] > 0.3
    # 15 frames (not 1 + 4k) go through; the given frames of a continuation stay as they are.
    case = cases[0]
    truth = simulate_case(case, 15).frames
    out = VaeBackend().continue_video(case, truth[:5], 15, 0)
    assert out.shape == truth.shape and np.array_equal(out[:5], truth[:5])
    assert np.abs(out[5:].astype(int) - truth[5:]).mean() < 8
    # A random tiny VAE is far from the truth: the backend does use the VAE it is given.
    rand = VaeBackend(tiny_weights / "vae-tiny.safetensors").generate(case, 9, 0)
    assert np.abs(rand.astype(int) - simulate_case(case, 9).frames).mean() > 20


@pytest.fixture(scope="module")
def tiny_pipe(tiny_weights):
    return tiny_weights


def test_tiny_random_pipeline_goes_through(tiny_pipe, cases):
    backend = KinoraBackend(KinoraPipeline.from_pretrained(tiny_pipe), steps=1)
    r = evaluate(backend, cases[:2], physics_n=1, num_frames=9, progress=False)
    s = r.summary
    check_fields(s)
    assert s["backend"]["model"] == "kinora-tiny"
    assert s["suite"]["frames"] == 9 and len(r.samples) == 2
    assert r.samples[0]["frames"].shape == (9, 64, 64, 3)
    # Random weights make coloured noise: unreadable, and scored as failing, never skipped.
    assert s["readable"] < 1.0 and s["alignment"]["color"] < 0.5


def test_noise_is_unreadable_quickly():
    noise = np.random.default_rng(0).integers(0, 255, (4, 64, 64, 3), dtype=np.uint8)
    a, why = analyze_clip(noise, 8)
    assert why and "noise" in why and a.tracks == [] and a.camera.motion == "unknown"


def test_metric_pieces():
    px = np.array([[220, 20, 20], [200, 30, 30], [20, 20, 220]], np.uint8)
    h = color_histogram(px)
    assert h.sum() == pytest.approx(1.0) and bhattacharyya(h, h) == pytest.approx(1.0)
    assert bhattacharyya(color_histogram(px[:2]), color_histogram(px[2:])) == pytest.approx(0.0)
    case = read_suite()[0].with_duration(1.0)
    clip = simulate_case(case)
    a, _ = analyze_clip(clip.frames, 8)
    same = compare_continuations(a, a, 3, [o.color for o in case.spec.objects])
    assert same == {"spatial_iou": 1.0, "spatiotemporal_iou": 1.0, "mask_mse": 0.0, "trajectory_error_px": 0.0}


def test_cli_eval_json_and_files(tmp_path, capsys):
    out = tmp_path / "ev"
    code = main(["eval", "--backend", "simulator", "--n", "2", "--seconds", "1", "--json", "--out", str(out)])
    s = json.loads(capsys.readouterr().out)
    assert code == 0
    check_fields(s)
    assert s["suite"]["cases"] == 2 and s["suite"]["languages"] == {"en": 1, "zh": 1}
    for name in ("report.md", "eval.json", "dimensions.png", "drift.png", "samples.png"):
        assert (out / name).stat().st_size > 0
    assert "| alignment: colour |" in (out / "report.md").read_text(encoding="utf-8")


def test_cli_eval_bad_options(capsys):
    assert main(["eval", "--backend", "simulator", "--steps", "3"]) == 2
    assert "--steps only applies to --backend kinora" in capsys.readouterr().err
    assert main(["eval", "--backend", "frozen", "--model", "x.safetensors"]) == 2
    assert "--model only applies to --backend kinora or vae" in capsys.readouterr().err
    assert main(["eval", "--backend", "vae", "--model", "/nonexistent/vae.safetensors"]) == 2
    assert "VAE checkpoint not found" in capsys.readouterr().err
    assert main(["eval", "--backend", "simulator", "--n", "0"]) == 2
    assert main(["eval", "--suite", "/nonexistent/suite.jsonl"]) == 2
    assert "not found" in capsys.readouterr().err


def test_guided_eval_goes_through_the_physics_path(tmp_path, cases):
    from tests.pipelines.test_physics import _weights

    pipe = KinoraPipeline.from_pretrained(_weights(tmp_path, signal=True))
    seen = []
    real = pipe.dit.embed_signal
    pipe.dit.embed_signal = lambda signal, *shape: seen.append(signal.shape) or real(signal, *shape)
    r = evaluate(KinoraBackend(pipe, steps=1, guided=True), cases[:2], physics_n=1, num_frames=9, progress=False)
    assert r.summary["backend"]["name"] == "kinora-guided" and r.summary["backend"]["guided"] is True
    assert len(seen) == 3  # both clips and the continuation were guided by the simulator's signal


def test_cli_eval_guided_and_size_are_checked(capsys):
    assert main(["eval", "--backend", "simulator", "--guided"]) == 2
    assert "--guided only applies to --backend kinora" in capsys.readouterr().err
    assert main(["eval", "--backend", "simulator", "--size", "100"]) == 2
    assert "--size 100 is not supported" in capsys.readouterr().err


def test_eval_at_another_size(tmp_path, capsys):
    out = tmp_path / "ev"
    assert main(["eval", "--backend", "simulator", "--n", "1", "--seconds", "1", "--size", "32", "--no-physics",
                 "--json", "--out", str(out)]) == 0
    s = json.loads(capsys.readouterr().out)
    assert s["suite"]["cases"] == 1
    case = read_suite()[0].with_size(32, 32)
    r = evaluate(SimulatorBackend(), [case], physics_n=0, num_frames=8, progress=False)
    assert r.samples[0]["frames"].shape == (8, 32, 32, 3) and read_suite()[0].spec.width == 64
