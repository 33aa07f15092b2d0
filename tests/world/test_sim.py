import numpy as np

from kinora.world.sim import camera_pose, project, simulate
from kinora.world.spec import CameraSpec, ObjectSpec, ShotSpec, random_spec


def _one(**kw):
    defaults = dict(id="a", shape="sphere", color="red")
    return ShotSpec(objects=[ObjectSpec(**(defaults | kw))], duration=kw.pop("duration", 2.0))


def test_same_seed_same_frames_bit_for_bit():
    spec = random_spec(11)
    a, b = simulate(spec), simulate(spec)
    assert a.frames.dtype == np.uint8 and a.frames.shape == (16, 64, 64, 3)
    assert np.array_equal(a.frames, b.frames)
    assert a.truth == b.truth


def test_sizes_fps_and_durations():
    spec = random_spec(2)
    spec.width, spec.height, spec.fps, spec.duration = 128, 64, 12, 0.25
    clip = simulate(spec)
    assert clip.frames.shape == (3, 64, 128, 3)
    spec.duration = 0.01
    assert simulate(spec).frames.shape[0] == 1


def test_dropped_ball_bounces_lower_each_time():
    spec = ShotSpec(objects=[ObjectSpec(id="a", shape="sphere", color="red", material="rubber", motion="fall")],
                    duration=4.0, fps=30)
    clip = simulate(spec)
    z = np.array([f["objects"][0]["position"][2] for f in clip.truth["frames"]])
    bounces = [e for e in clip.truth["events"] if e["type"] == "bounce"]
    assert len(bounces) >= 3
    # Peak height between consecutive bounces decreases.
    frames = [e["frame"] for e in bounces]
    peaks = [z[a:b].max() for a, b in zip(frames, frames[1:])]
    assert all(p2 < p1 for p1, p2 in zip(peaks, peaks[1:])), peaks


def test_rolling_ball_slows_and_stops():
    spec = ShotSpec(objects=[ObjectSpec(id="a", shape="sphere", color="red", material="rubber", motion="roll",
                                        direction="right")], duration=4.0)
    clip = simulate(spec)
    vx = np.array([f["objects"][0]["velocity"][0] for f in clip.truth["frames"]])
    assert vx[0] > 1.0
    assert np.all(np.diff(vx[:8]) < 0)  # monotone slowing while it rolls
    assert abs(vx[-1]) < 0.05
    assert any(e["type"] == "stop" for e in clip.truth["events"])


def test_push_causes_collision_and_target_moves():
    spec = ShotSpec(objects=[ObjectSpec(id="t", shape="cube", color="blue", material="wood"),
                             ObjectSpec(id="p", shape="sphere", color="red", material="metal", size="large",
                                        motion="push", target="t", direction="right")], duration=3.0)
    clip = simulate(spec)
    assert any(e["type"] == "collision" and set(e["objects"]) == {"t", "p"} for e in clip.truth["events"])
    x = [f["objects"][0]["position"][0] for f in clip.truth["frames"]]
    assert x[-1] - x[0] > 0.05


def test_topple_falls_off_support():
    spec = ShotSpec(objects=[ObjectSpec(id="s", shape="cube", color="green", size="large"),
                             ObjectSpec(id="top", shape="cube", color="yellow", motion="topple", on="s")], duration=3.0)
    clip = simulate(spec)
    z = [f["objects"][1]["position"][2] for f in clip.truth["frames"]]
    assert z[0] > 0.8 and z[-1] < 0.25


def test_ground_truth_matches_segmentation():
    clip = simulate(random_spec(5), isolated=True)
    for i, f in enumerate(clip.truth["frames"]):
        for j, o in enumerate(f["objects"]):
            assert o["area"] == int((clip.seg[i] == j).sum())
            assert 0.0 <= o["occlusion"] <= 1.0
            if o["visible"]:
                x0, y0, x1, y1 = o["bbox"]
                assert x0 <= o["centroid"][0] < x1 and y0 <= o["centroid"][1] < y1


def test_projection_agrees_with_renderer():
    clip = simulate(_one(shape="sphere", size="large"))
    f = clip.truth["frames"][0]["objects"][0]
    px, py = f["projected"]
    cx, cy = f["centroid"]
    assert abs(px - cx) < 1.5 and abs(py - cy) < 1.5


def test_camera_moves():
    spec = random_spec(0)
    for motion in ("pan_left", "orbit_right", "zoom_in"):
        spec.camera = CameraSpec(motion=motion)
        a, b = camera_pose(spec, 0.0), camera_pose(spec, 2.0)
        assert (a.eye, a.target, a.fov) != (b.eye, b.target, b.fov)
    spec.camera = CameraSpec(motion="pan_left")
    # Panning left: a point in the middle of the stage moves right in the frame.
    x0 = project(camera_pose(spec, 0.0), 64, 64, (0, 0, 0.3))[0]
    x1 = project(camera_pose(spec, 2.0), 64, 64, (0, 0, 0.3))[0]
    assert x1 > x0 + 3
