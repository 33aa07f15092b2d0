"""Simulator in the loop: placement from a known frame, the signal each window gets, every task."""

import dataclasses
import math

import numpy as np
import pytest
import torch

from kinora.errors import KinoraError
from kinora.pipelines.kinora import KinoraPipeline
from kinora.pipelines.physics import fit_spec, held_still, physics_features, place_from_frame, unproject
from kinora.world.signal import latent_signal
from kinora.world.spec import ObjectSpec, ShotSpec, resolve

META = {"preset": "tiny", "vae_name": "tiny",
        "train_args": {"max_frames": 9, "fps": 8, "height": 32, "width": 32, "shift_scale": 1.0}}


def _weights(folder, signal: bool):
    from kinora.models.dit import DiT, save_dit
    from kinora.models.presets import get_preset
    from kinora.models.vae import VideoVAE, save_vae

    torch.manual_seed(0)
    p = get_preset("tiny")
    save_vae(VideoVAE(p.vae), folder / "vae-tiny.safetensors")
    cfg = p.dit if signal else dataclasses.replace(p.dit, signal_channels=0)
    model = DiT(cfg)
    # Random where training would start at zero, so that the signal changes what comes out.
    torch.nn.init.normal_(model.final_proj.weight, std=0.2)
    if signal:
        torch.nn.init.normal_(model.signal_embed.weight, std=0.5)
    save_dit(folder / "dit-tiny-ema.safetensors", model, META)
    return folder


@pytest.fixture(scope="module")
def pipe(tmp_path_factory):
    return KinoraPipeline.from_pretrained(_weights(tmp_path_factory.mktemp("guided"), signal=True))


def gen(pipe, **kw):
    kw.setdefault("num_inference_steps", 1)
    return pipe("a red ball rolls left", generator=torch.Generator().manual_seed(0), **kw)


def test_unproject_inverts_project():
    from kinora.world.sim import camera_pose, project

    spec = resolve(ShotSpec(objects=[ObjectSpec(id="a")], width=64, height=64))
    pose = camera_pose(spec, 0.0)
    for point in [(0.3, -0.2, 0.1), (-1.0, 0.8, 0.34), (0.0, 0.0, 0.6)]:
        x, y, _ = project(pose, 64, 64, point)
        back = unproject(pose, 64, 64, x, y, point[2])
        assert back == pytest.approx(point[:2], abs=1e-9)
    assert unproject(pose, 64, 64, 32, -500, 0.1) is None  # far above the horizon: never comes down


def test_a_known_frame_places_its_objects():
    from kinora.world.sim import simulate

    objects = [ObjectSpec(id="a", shape="sphere", color="red", size="large"),
               ObjectSpec(id="b", shape="cube", color="blue", size="large")]
    truth = resolve(ShotSpec(objects=objects, seed=3, duration=0.5))
    frame = simulate(truth).frames[0]
    other = ShotSpec(objects=[dataclasses.replace(o) for o in objects], seed=11, duration=0.5)
    assert math.dist(resolve(other).objects[0].position[:2], truth.objects[0].position[:2]) > 0.3
    placed, notes = place_from_frame(other, frame)
    assert notes == []
    for p, t in zip(placed.objects, truth.objects):
        assert math.dist(p.position[:2], t.position[:2]) < 0.12, (p.id, p.position, t.position)
    missing = ShotSpec(objects=[ObjectSpec(id="c", color="green")], seed=3, duration=0.5)
    _, notes = place_from_frame(missing, frame)
    assert notes == ["the green sphere is not in the known frame; the simulator places it itself"]


def test_held_still_keeps_every_object_where_it_starts():
    spec = fit_spec(ShotSpec(objects=[ObjectSpec(id="a", motion="roll", direction="left")]), 8, 32, 32, 9)
    feats = physics_features(held_still(spec))
    assert np.array_equal(feats[0], feats[-1])
    assert not np.array_equal(*physics_features(resolve(spec))[[0, -1]])  # it does roll when not held


def test_each_window_gets_its_own_slice_of_the_signal(pipe, monkeypatch):
    seen = []
    real = pipe.dit.embed_signal

    def spy(signal, *shape):
        seen.append(signal[0].clone())  # the conditional half; guidance on the signal: none in the other
        assert not signal[1].any()
        return real(signal, *shape)

    monkeypatch.setattr(pipe.dit, "embed_signal", spy)
    out = gen(pipe, num_frames=20, physics=True)
    feats = physics_features(out.physics_spec)
    assert feats.shape[0] == 20
    from kinora.diffusion.tasks import window_spans

    spans = window_spans(20, pipe.window, 9)
    assert len(seen) == len(spans) > 1
    for sig, (start, end) in zip(seen, spans):
        assert torch.equal(sig, torch.from_numpy(latent_signal(feats[start:end])))
    assert out.settings["physics"] is True and out.physics_spec.num_frames == 20


def test_guided_differs_from_free_and_is_deterministic(pipe):
    a = gen(pipe, num_frames=9, physics=True).frames[0]
    assert np.array_equal(a, gen(pipe, num_frames=9, physics=True).frames[0])
    assert not np.array_equal(a, gen(pipe, num_frames=9).frames[0])


def test_every_task_runs_guided_and_keeps_its_known_frames(pipe):
    video = gen(pipe, num_frames=12, physics=True).frames[0]
    img = video[0]
    assert np.array_equal(gen(pipe, num_frames=8, image=img, physics=True).frames[0][0], img)
    bridge = gen(pipe, num_frames=8, image=img, last_image=video[-1], physics=True).frames[0]
    assert np.array_equal(bridge[-1], video[-1])
    loop = gen(pipe, num_frames=8, loop=True, physics=True).frames[0]
    assert np.array_equal(loop[0], loop[-1])
    fwd = gen(pipe, video=video, num_frames=6, context_frames=4, physics=True)
    assert np.array_equal(fwd.frames[0][:12], video) and fwd.physics_spec.num_frames == 4 + 6
    back = gen(pipe, video=video, extend="backward", num_frames=4, context_frames=4, physics=True).frames[0]
    assert np.array_equal(back[4:], video)
    mask = np.zeros(video.shape[:3], bool)
    mask[2:6, 8:24, 8:24] = True
    edit = gen(pipe, video=video, edit_mask=mask, physics=True).frames[0]
    assert np.array_equal(edit[~mask], video[~mask])


def test_a_spec_can_stand_in_for_the_prompt(pipe):
    from kinora.world.captions import canonical_caption

    spec = ShotSpec(objects=[ObjectSpec(id="a", shape="cube", color="yellow", motion="slide", direction="right")],
                    duration=1.5)
    out = pipe("", spec=spec, num_inference_steps=1, physics=True)
    assert out.canonical == canonical_caption(spec) == out.prompt
    assert out.frames[0].shape[0] == 12 and out.spec is spec
    assert out.physics_spec.objects[0].color == "yellow"


def test_what_cannot_be_guided_is_refused_in_one_line(pipe, tmp_path):
    with pytest.raises(KinoraError, match="physics needs the shot's plan"):
        gen(pipe, num_frames=5, physics=True, raw_prompt=True)
    with pytest.raises(KinoraError, match="spec must be a ShotSpec"):
        pipe("x", spec={"objects": []})
    free = KinoraPipeline.from_pretrained(_weights(tmp_path, signal=False))
    with pytest.raises(KinoraError, match="trained without the physics signal"):
        gen(free, num_frames=5, physics=True)


def test_generate_request_takes_a_spec_file_and_physics(tmp_path):
    from kinora.io.video import read_video
    from kinora.pipelines.generate import GenerateRequest, generate

    spec = ShotSpec(objects=[ObjectSpec(id="a", color="cyan", motion="fall")], duration=1.0)
    (tmp_path / "shot.json").write_text(spec.to_json(), encoding="utf-8")
    (tmp_path / "w").mkdir()
    model = _weights(tmp_path / "w", signal=True)
    res = generate(GenerateRequest(prompt="", spec=tmp_path / "shot.json", physics=True, model=model, steps=1,
                                   out=tmp_path / "shot.mp4"))
    frames, fps, _ = read_video(res.path)
    assert len(frames) == 8 and fps == 8
    assert res.output.settings["physics"] is True and res.output.prompt == res.output.canonical
    with pytest.raises(KinoraError, match="the prompt is empty"):
        generate(GenerateRequest(prompt="", out=tmp_path / "x.mp4"))
    with pytest.raises(KinoraError, match="spec file not found"):
        generate(GenerateRequest(prompt="", spec=tmp_path / "missing.json", model=model, out=tmp_path / "y.mp4"))
    assert not (tmp_path / "y.mp4").exists()


def test_a_fallers_height_comes_from_its_size_in_the_frame():
    from kinora.world.sim import simulate

    obj = ObjectSpec(id="a", shape="sphere", color="purple", size="large", motion="fall")
    truth = resolve(ShotSpec(objects=[obj], seed=3, duration=0.5))
    guess = resolve(ShotSpec(objects=[dataclasses.replace(obj)], seed=8, duration=0.5))
    assert abs(guess.objects[0].position[2] - truth.objects[0].position[2]) > 0.15
    placed, _ = place_from_frame(ShotSpec(objects=[dataclasses.replace(obj)], seed=8, duration=0.5),
                                 simulate(truth).frames[0])
    assert math.dist(placed.objects[0].position, truth.objects[0].position) < 0.05


def _signals(pipe, monkeypatch):
    seen = []
    real = pipe.dit.embed_signal

    def spy(signal, *shape):
        seen.append(signal[0].clone())
        return real(signal, *shape)

    monkeypatch.setattr(pipe.dit, "embed_signal", spy)
    return seen


def test_each_task_gets_the_signal_of_its_own_timeline(pipe, monkeypatch):
    video = gen(pipe, num_frames=8, physics=True).frames[0]
    seen = _signals(pipe, monkeypatch)
    fwd = gen(pipe, video=video, num_frames=4, context_frames=4, physics=True)  # 4 context + 4 new frames
    assert torch.equal(seen[-1], torch.from_numpy(latent_signal(physics_features(fwd.physics_spec))))
    gen(pipe, video=video, extend="backward", num_frames=4, context_frames=4, physics=True)
    back = seen[-1]  # everything held still: every latent frame's signal is the first one's
    assert all(torch.equal(back[:, k], back[:, 0]) for k in range(back.shape[1]))
    out = gen(pipe, num_frames=9, loop=True, physics=True)
    feats = physics_features(out.physics_spec)  # half the loop, simulated: frames 0..4
    assert len(feats) == 5
    there_and_back = feats[[0, 1, 2, 3, 4, 3, 2, 1, 0]]
    assert torch.equal(seen[-1], torch.from_numpy(latent_signal(there_and_back)))
    gen(pipe, num_frames=8, loop=True, physics=True)
    assert seen[-1].shape[1] == 3  # 8 frames: 0 1 2 3 3 2 1 0, pooled into 3 latent frames


def test_what_the_prompt_left_unsaid_is_read_from_the_motion():
    from kinora.pipelines.physics import fit_to_context
    from kinora.plan.parse import parse
    from kinora.world.sim import simulate

    truth = resolve(ShotSpec(objects=[ObjectSpec(id="a", shape="cube", color="red", size="large", motion="slide",
                                                 direction="right", material="ice", speed="slow")],
                             seed=2, duration=3.0))
    frames = simulate(truth).frames
    spec = parse("a big red cube slides to the right", duration=3.0).spec  # says nothing of ice or speed
    placed, _ = place_from_frame(fit_spec(spec, 8, 64, 64, 24), frames[0])
    assert (placed.objects[0].material, placed.objects[0].speed) == ("wood", "normal")
    fitted, chosen = fit_to_context(placed, frames[:5])
    o = fitted.objects[0]
    assert (o.material, o.speed) == ("ice", "slow") and chosen == ["the red cube: ice, slow, as the known frames "
                                                                   "show it move"]
    # The fitted simulation stays with the truth well after the 5 context frames: within 1 px at frame 20.
    from kinora.verify.detect import detect

    def x_at(fr):
        return max(detect(fr[None])[0][0], key=lambda d: d.area).centroid[0]

    assert abs(x_at(simulate(fitted).frames[20]) - x_at(frames[20])) < 1.0
    assert abs(x_at(simulate(placed).frames[20]) - x_at(frames[20])) > 10.0  # as the prompt alone had it
    stated = parse("a big red wooden cube slides to the right", duration=3.0).spec
    kept, _ = fit_to_context(place_from_frame(fit_spec(stated, 8, 64, 64, 24), frames[0])[0], frames[:5])
    assert kept.objects[0].material == "wood"  # what the prompt says is never changed


def test_placement_of_a_shot_whose_objects_start_later():
    from kinora.plan.parse import parse
    from kinora.world.sim import simulate

    spec = parse("a red ball rolls left, then a blue cube slides right", duration=3.0).spec
    assert spec.objects[1].start > 0.5
    frame = simulate(resolve(fit_spec(spec, 8, 64, 64, 24))).frames[0]
    placed, notes = place_from_frame(fit_spec(spec, 8, 64, 64, 24), frame)
    assert notes == [] and placed.objects[1].start == spec.objects[1].start


def test_guidance_on_the_prompt_alone_keeps_the_signal_in_both_halves(pipe, monkeypatch):
    halves = []
    real = pipe.dit.embed_signal
    monkeypatch.setattr(pipe.dit, "embed_signal", lambda sig, *shape: halves.append(sig.clone()) or real(sig, *shape))
    monkeypatch.setattr(pipe, "signal_guidance", False)
    out = gen(pipe, num_frames=9, physics=True)
    assert torch.equal(halves[0][0], halves[0][1]) and halves[0][0].any()
    assert out.settings["signal_guidance"] is False


def test_a_free_model_with_a_physics_companion(tmp_path):
    import shutil

    from kinora.defaults import physics_filename
    from kinora.io.hashing import sha256_file

    (tmp_path / "free").mkdir()
    free = _weights(tmp_path / "free", signal=False)
    (tmp_path / "phys").mkdir()
    _weights(tmp_path / "phys", signal=True)
    shutil.copy(tmp_path / "phys" / "dit-tiny-ema.safetensors", free / physics_filename("tiny"))
    pipe = KinoraPipeline.from_pretrained(free)  # the free model is loaded; the companion waits
    assert not pipe.dit.cfg.signal_channels and pipe.has_physics and pipe._physics_model is None
    a = gen(pipe, num_frames=9).frames[0]
    out = gen(pipe, num_frames=9, physics=True)
    assert out.settings["checkpoint_sha256"] == sha256_file(free / physics_filename("tiny"))
    assert not np.array_equal(out.frames[0], a)
    assert np.array_equal(gen(pipe, num_frames=9).frames[0], a)  # the free path is the free model, untouched
    from kinora.pipelines.generate import provenance_of

    assert provenance_of(out, pipe, 8).checkpoint_sha256 == out.settings["checkpoint_sha256"]


def test_a_distilled_free_model_leaves_the_companion_its_own_sampling(tmp_path):
    # The student folds guidance into one pass; the physics companion beside it was not distilled
    # and samples as its preset says (guidance included).
    import shutil

    from kinora.defaults import physics_filename
    from kinora.models.dit import load_dit, save_dit
    from kinora.models.presets import get_preset

    (tmp_path / "free").mkdir()
    free = _weights(tmp_path / "free", signal=False)
    model, meta = load_dit(free / "dit-tiny-ema.safetensors")
    meta = {k: v for k, v in meta.items() if k != "dit_config"}
    save_dit(free / "dit-tiny-ema.safetensors", model,
             {**meta, "sample": {"sampler": "euler", "steps": 2, "guidance": 1.0}, "distilled": {"teacher_steps": 2}})
    (tmp_path / "phys").mkdir()
    _weights(tmp_path / "phys", signal=True)
    shutil.copy(tmp_path / "phys" / "dit-tiny-ema.safetensors", free / physics_filename("tiny"))
    pipe = KinoraPipeline.from_pretrained(free)
    free_out = gen(pipe, num_frames=5, num_inference_steps=None)
    assert (free_out.settings["steps"], free_out.settings["guidance"]) == (2, 1.0)
    tiny = get_preset("tiny").sample
    out = gen(pipe, num_frames=5, num_inference_steps=None, physics=True)
    assert (out.settings["steps"], out.settings["guidance"]) == (tiny.steps, tiny.guidance) != (2, 1.0)
    assert gen(pipe, num_frames=5, num_inference_steps=None).settings["guidance"] == 1.0  # the free path: its own
