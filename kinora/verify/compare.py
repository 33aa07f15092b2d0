"""Step 6 of the analyzer (`kinora.verify.analyzer`): the video against a ShotSpec.

6. `compare(analysis, spec)`: the video against a ShotSpec, as a `Report` of missing,
   extra, wrong-colour, wrong-shape, wrong-count, wrong-motion, wrong-camera and
   unexplained (appeared / vanished without cause) issues, per-dimension scores and
   a pass flag.

It follows the whole analysis (`kinora.verify.analyzer.analyze`, steps 1-5): it reads
the tracks (`kinora.verify.tracks`), their directions by the same motion thresholds,
and the camera move.
"""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass

import numpy as np

from kinora.verify.results import Analysis, Track
from kinora.verify.tracks import MOVE_PX, MOVE_SIZE
from kinora.world.spec import ShotSpec

ISSUE_KINDS = ("missing", "extra", "wrong_color", "wrong_shape", "wrong_count", "wrong_motion", "wrong_camera",
               "unexplained")
# Spec direction (relative to the camera at the start) -> the screen direction it shows.
SCREEN_OF = {"left": "left", "right": "right", "forward": "away", "backward": "toward"}
SHAPE_DOUBT = 0.2  # a wrong shape is flagged when the spec's shape has less probability than this
MIN_TRACK_FRAMES = 3  # a track seen in fewer frames (and less than half the clip) is noise, not an object


@dataclass
class Issue:
    kind: str  # one of ISSUE_KINDS
    message: str
    object: str | None = None  # spec object id
    track: int | None = None
    expected: str | None = None
    found: str | None = None


@dataclass
class Report:
    passed: bool
    issues: list[Issue]
    scores: dict[str, float]  # color, shape, count, motion, camera (fractions), overall = their mean
    matches: dict[str, int | None]  # spec object id -> track id (None: missing)

    def to_dict(self) -> dict:
        return asdict(self)

    def __str__(self) -> str:
        head = "PASS" if self.passed else f"FAIL ({len(self.issues)} issue{'s' * (len(self.issues) != 1)})"
        scores = "  ".join(f"{k} {v:.2f}" for k, v in self.scores.items())
        return "\n".join([f"{head}  {scores}"] + [f"  - {i.kind}: {i.message}" for i in self.issues])


def expected_direction(spec: ShotSpec, oid: str) -> str | None:
    """The screen direction a spec object should show, or None when the spec does not
    pin it down (toppling, or a still object that something pushes or stands on)."""
    o = spec.object(oid)
    if o.motion == "still":
        acted_on = any(p.target == o.id or p.on == o.id for p in spec.objects)
        return None if acted_on else "still"
    if o.motion == "fall":
        return "down"
    if o.motion in ("roll", "slide", "push"):
        return SCREEN_OF[o.direction or "right"]
    return None


def direction_agrees(track: Track, expected: str, frame_height: int) -> bool:
    """Does the track move the expected way? Its dominant direction, or a clear component
    of its motion: a ball meant to roll right that rolls right and a little towards the
    camera does roll right; a fall that bounces sideways still comes down."""
    if track.direction == expected:
        return True
    if expected == "still" or track.direction == "still":
        return False
    s = frame_height / 64.0
    dx, dy = track.displacement
    move = max(MOVE_PX * s, MOVE_SIZE * track.size)
    return {
        "left": dx <= -move, "right": dx >= move, "down": dy >= move,
        "toward": dy >= 0.6 * MOVE_PX * s and track.log_area_change > 0,
        "away": dy <= -0.6 * MOVE_PX * s,  # up the screen on the floor: nothing in the world rises for long
        "up": dy <= -move,
    }[expected]


def significant_tracks(analysis: Analysis) -> list[Track]:
    """Tracks that are objects rather than noise: seen in MIN_TRACK_FRAMES frames or in
    at least half of a short clip."""
    need = min(MIN_TRACK_FRAMES, max(1, (analysis.num_frames + 1) // 2))
    return [t for t in analysis.tracks if len(t.frames) >= need]


def _assign(cost: np.ndarray, unmatched: float) -> list[tuple[int, int]]:
    """Minimum-cost matching of rows to columns, either side may stay unmatched at
    `unmatched` each. Exhaustive for the micro-world's few objects, greedy beyond."""
    n, m = cost.shape
    if n == 0 or m == 0:
        return []
    if max(n, m) <= 7:
        best, best_c = [], float("inf")
        big = max(n, m)
        pad = np.full((big, big), unmatched * 2)
        pad[:n, :m] = np.minimum(cost, unmatched * 2)
        for perm in itertools.permutations(range(big), n):
            c = sum(pad[i, j] if j < m else unmatched for i, j in enumerate(perm))
            if c < best_c:
                best_c, best = c, [(i, j) for i, j in enumerate(perm) if j < m and cost[i, j] < unmatched * 2]
        return best
    pairs, used_r, used_c = [], set(), set()
    for i, j in sorted(np.ndindex(n, m), key=lambda ij: cost[ij]):
        if i not in used_r and j not in used_c and cost[i, j] < unmatched * 2:
            pairs.append((i, j))
            used_r.add(i)
            used_c.add(j)
    return pairs


def compare(analysis: Analysis, spec: ShotSpec, check_permanence: bool = True) -> Report:
    """Check a video's analysis against the spec it should show.

    Spec objects are matched to tracks by minimum total cost (colour disagreement 3,
    shape 1 - p(shape), direction 0.5; leaving an object or a track unmatched 2.5), so a
    red ball rendered blue reads as one wrong colour, not a missing and an extra
    object. A shape is wrong when the track gives the spec's shape less than SHAPE_DOUBT
    (a mostly hidden object stays undecided rather than wrong); a motion is wrong when
    the track does not move the expected way (`direction_agrees`). Every disagreement
    becomes an Issue; the report passes when there are none."""
    tracks = significant_tracks(analysis)
    objs = spec.objects
    cost = np.zeros((len(objs), len(tracks)))
    for i, o in enumerate(objs):
        exp = expected_direction(spec, o.id)
        for j, tr in enumerate(tracks):
            cost[i, j] = (3.0 * (tr.color != o.color) + (1.0 - tr.shape_probs[o.shape])
                          + 0.5 * (exp is not None and not direction_agrees(tr, exp, analysis.height)))
    pairs = _assign(cost, unmatched=2.5)
    issues: list[Issue] = []
    matches: dict[str, int | None] = {o.id: None for o in objs}
    n_color = n_shape = n_motion = n_motion_checked = 0
    for i, j in pairs:
        o, tr = objs[i], tracks[j]
        matches[o.id] = tr.id
        desc = f"{o.id} ({o.color} {o.shape})"
        if tr.color != o.color:
            issues.append(Issue("wrong_color", f"{desc} appears {tr.color}", o.id, tr.id, o.color, tr.color))
        else:
            n_color += 1
        if tr.shape_probs[o.shape] < SHAPE_DOUBT:
            issues.append(Issue("wrong_shape", f"{desc} looks like a {tr.shape}", o.id, tr.id, o.shape, tr.shape))
        else:
            n_shape += 1
        exp = expected_direction(spec, o.id)
        if exp is not None:
            n_motion_checked += 1
            if not direction_agrees(tr, exp, analysis.height):
                issues.append(Issue("wrong_motion", f"{desc} should move {exp} but moves {tr.direction}",
                                    o.id, tr.id, exp, tr.direction))
            else:
                n_motion += 1
    matched_t = {j for _, j in pairs}
    for o in objs:
        if matches[o.id] is None:
            issues.append(Issue("missing", f"{o.id} ({o.color} {o.shape}) is not in the video", o.id, None,
                                f"{o.color} {o.shape}", None))
    for j, tr in enumerate(tracks):
        if j not in matched_t:
            issues.append(Issue("extra", f"a {tr.color} {tr.shape} (track {tr.id}) that the spec does not have",
                                None, tr.id, None, f"{tr.color} {tr.shape}"))
    if len(tracks) != len(objs):
        issues.append(Issue("wrong_count", f"{len(tracks)} objects in the video, {len(objs)} in the spec",
                            expected=str(len(objs)), found=str(len(tracks))))
    if analysis.camera.motion != spec.camera.motion:
        issues.append(Issue("wrong_camera", f"camera should be {spec.camera.motion} but is {analysis.camera.motion}",
                            expected=spec.camera.motion, found=analysis.camera.motion))
    if check_permanence:
        sig = {t.id for t in tracks}
        for u in analysis.unexplained():
            if u["track"] in sig:
                msg = f"the {u['color']} object {u['event']} without cause at frame {u['frame']}"
                issues.append(Issue("unexplained", msg, None, u["track"]))
    n = max(len(objs), 1)
    scores = {
        "color": n_color / n if objs else float(not tracks),
        "shape": n_shape / n if objs else float(not tracks),
        "count": float(len(tracks) == len(objs)),
        "motion": n_motion / n_motion_checked if n_motion_checked else 1.0,
        "camera": float(analysis.camera.motion == spec.camera.motion),
    }
    scores["overall"] = sum(scores.values()) / len(scores)
    scores = {k: round(v, 4) for k, v in scores.items()}
    return Report(passed=not issues, issues=issues, scores=scores, matches=matches)
