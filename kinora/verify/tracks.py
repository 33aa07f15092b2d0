"""Step 5 of the analyzer (`kinora.verify.analyzer`): tracks and what each object does.

5. tracks: detections linked frame to frame (same colour, nearest predicted centroid,
   similar size), broken tracks of one colour re-joined; each track gets a consensus
   shape (views cut by the border or partly hidden count less), a net direction
   relative to the floor under it (left/right/up/down/toward/away/still; toward and
   away also from the change of apparent size), bounces (down-up turns of its
   height), the frame it stops, and how it appeared and vanished (clip start or end,
   frame edge, behind another object, or without cause).

It follows the detections (step 3, `kinora.verify.detect`) and the floor motion of
the camera estimate (step 4, `kinora.verify.camera`); `kinora.verify.compare` (step 6)
checks the tracks against a ShotSpec.
"""

from __future__ import annotations

import math

import numpy as np

from kinora.verify.camera import flow_at
from kinora.verify.results import Detection, Track
from kinora.verify.shapes import SHAPE_NAMES

ANCHOR = 0.6  # the floor under an object: this far from its centroid to the bottom of its box
MAX_GAP = 4  # frames a track may go unseen (behind something) and still be continued
EDGE_WEIGHT = 0.2  # weight of a view cut by the border in the track's shape vote
SHAPE_PRIOR_WEIGHT = 0.5  # weight of a uniform pseudo-view in that vote


def _gap(a: tuple, b: tuple) -> int:
    """Pixels between two boxes (0 when they touch or overlap)."""
    return max(0, max(a[0], b[0]) - min(a[2], b[2]), max(a[1], b[1]) - min(a[3], b[3]))


def _floor_shift(params: np.ndarray, f0: int, f1: int, d: Detection, w: int, h: int) -> tuple[float, float]:
    """How far the floor where detection d stands (frame f0) has moved by frame f1.

    Under an orbit the floor's motion changes with distance (parallax), so the reference
    must be the floor point at the object's depth, the one under its centre: not the
    centroid (over a floor point farther away), not the bottom of the box (the nearest
    edge of its footprint) but between them, ANCHOR of the way down (fitted on
    simulated orbits: mean error 0.14 px per frame against 0.25 at the box bottom)."""
    x, y = d.centroid[0], d.centroid[1] + ANCHOR * (d.bbox[3] - 0.5 - d.centroid[1])
    px, py = x, y
    for f in range(f0, f1):
        u, v = flow_at(params[f], px, py, w, h)
        px, py = px + u, py + v
    return px - x, py - y


def _step(a: Detection, b: Detection, w: int, h: int) -> tuple[float, float]:
    """Screen motion from detection a to b. Where the frame border cuts either view, the
    centroid lags the object, so that axis follows the box side away from the border."""
    out = []
    for axis, size in ((0, w), (1, h)):
        lo = a.bbox[axis] == 0 or b.bbox[axis] == 0
        hi = a.bbox[axis + 2] == size or b.bbox[axis + 2] == size
        if lo and not hi:
            out.append(float(b.bbox[axis + 2] - a.bbox[axis + 2]))
        elif hi and not lo:
            out.append(float(b.bbox[axis] - a.bbox[axis]))
        else:
            out.append(b.centroid[axis] - a.centroid[axis])
    return out[0], out[1]


def link_tracks(dets: list[list[Detection]], params: np.ndarray, w: int, h: int) -> list[list[tuple[int, int]]]:
    """Link detections into tracks: lists of (frame, detection index).

    Frame by frame, each live track predicts its next centroid (last position, plus its
    last velocity, plus the floor's motion there) and takes the nearest unclaimed
    detection of its colour within a gate that grows with the object's size and the
    gap. Afterwards a track that starts where a track of the same colour ended (no
    overlap in time, plausibly near) continues it: an object seen again after an
    occlusion is the same object."""
    s = h / 64.0
    tracks: list[list[tuple[int, int]]] = []
    for f, fd in enumerate(dets):
        by_color: dict[str, list[int]] = {}
        for di, d in enumerate(fd):
            by_color.setdefault(d.color, []).append(di)
        cands = []
        for ti, tr in enumerate(tracks):
            lf, li = tr[-1]
            if f - lf > MAX_GAP or lf == f:
                continue
            last = dets[lf][li]
            vx = vy = 0.0
            if len(tr) >= 2:
                pf, pi = tr[-2]
                prev = dets[pf][pi]
                cu, cv = _floor_shift(params, pf, lf, prev, w, h)
                vx = (last.centroid[0] - prev.centroid[0] - cu) / (lf - pf)
                vy = (last.centroid[1] - prev.centroid[1] - cv) / (lf - pf)
            cu, cv = _floor_shift(params, lf, f, last, w, h)
            px = last.centroid[0] + cu + vx * (f - lf)
            py = last.centroid[1] + cv + vy * (f - lf)
            for di in by_color.get(last.color, ()):
                d = fd[di]
                size = math.sqrt(max(last.area, d.area))
                dist = math.hypot(d.centroid[0] - px, d.centroid[1] - py)
                if dist <= 4 * s + 1.2 * size + 3 * s * (f - lf - 1):
                    change = abs(math.log(d.area / last.area))  # objects keep their size from frame to frame
                    cands.append((dist / (size + 1) + 0.5 * change + 0.5 * (f - lf - 1), ti, di))
        taken_t, taken_d = set(), set()
        for _, ti, di in sorted(cands):
            if ti in taken_t or di in taken_d:
                continue
            tracks[ti].append((f, di))
            taken_t.add(ti)
            taken_d.add(di)
        for di in range(len(fd)):
            if di not in taken_d:
                tracks.append([(f, di)])
    # Re-join: same colour, B starts after A ends; nearest such A, within reach.
    tracks.sort(key=lambda tr: tr[0][0])
    merged: list[list[tuple[int, int]]] = []
    for tr in tracks:
        f0, i0 = tr[0]
        first = dets[f0][i0]
        best, best_d = None, float("inf")
        for m in merged:
            lf, li = m[-1]
            last = dets[lf][li]
            if last.color != first.color or lf >= f0:
                continue
            cu, cv = _floor_shift(params, lf, f0, last, w, h)
            dist = math.hypot(first.centroid[0] - last.centroid[0] - cu, first.centroid[1] - last.centroid[1] - cv)
            reach = max(24 * s, 3 * math.sqrt(max(first.area, last.area))) + 4 * s * (f0 - lf)
            if dist <= reach and dist < best_d:
                best, best_d = m, dist
        if best is not None:
            best.extend(tr)
        else:
            merged.append(list(tr))
    return merged


def _cause(dets: list[list[Detection]], f: int, d: Detection, nbr_frame: int | None, s: float) -> str:
    """Why an object (re)appears or disappears next to frame f: edge, occlusion or none."""
    if d.at_edge:
        return "edge"
    for g in (f, nbr_frame):
        if g is None or not 0 <= g < len(dets):
            continue
        for o in dets[g]:
            if o is not d and o.color != d.color and _gap(o.bbox, d.bbox) <= 2 * s:
                return "occlusion"
    return "none"


def _log_size_change(ds: list[Detection], frames: list[int], dets: list[list[Detection]], params: np.ndarray,
                     w: int, h: int) -> float:
    """log(apparent area at the end / at the start) with the zoom removed, from whole
    views only (not cut by the border, not touching another object; mean of the first
    two and of the last two). An object cut by the top or
    bottom border keeps its width, so 2 log(width) stands in when too few views are
    whole. 0 when neither works."""
    log_zoom = np.concatenate([[0.0], np.cumsum((params[:, 1] + params[:, 5]) / (2 * h))])
    free = [d.contact == 0 for d in ds]  # touching nothing that may hide part of it
    whole = [k for k, d in enumerate(ds) if free[k] and not d.at_edge]
    measure = lambda k: math.log(ds[k].area)  # noqa: E731
    if len(whole) < 2 or whole[-1] - whole[0] < 2:
        whole = [k for k, d in enumerate(ds) if free[k] and d.bbox[0] > 0 and d.bbox[2] < w]
        measure = lambda k: 2 * math.log(ds[k].bbox[2] - ds[k].bbox[0])  # noqa: E731
        if len(whole) < 2 or whole[-1] - whole[0] < 2:
            return 0.0
    a0 = np.mean([measure(k) - 2 * log_zoom[frames[k]] for k in whole[:2]])
    a1 = np.mean([measure(k) - 2 * log_zoom[frames[k]] for k in whole[-2:]])
    return float(a1 - a0)


def summarize_track(tid: int, members: list[tuple[int, int]], dets: list[list[Detection]], params: np.ndarray,
                    w: int, h: int, num_frames: int) -> Track:
    """Consensus shape, net direction, bounces, stop, appearance and vanishing of one track."""
    s = h / 64.0
    ds = [dets[f][i] for f, i in members]
    frames = [f for f, _ in members]
    # Shape: weighted mean of per-frame log-probabilities; views cut by the border or
    # partly hidden (long shared outline with another object) count less.
    logp, total = np.zeros(len(SHAPE_NAMES)), 0.0
    for d in ds:
        wgt = (EDGE_WEIGHT if d.at_edge else 1.0) * max(0.05, 1.0 - 4.0 * d.contact)
        logp += wgt * np.log(np.maximum([d.shape_probs[n] for n in SHAPE_NAMES], 1e-4))
        total += wgt
    # A uniform pseudo-view: a track seen only in poor views stays undecided.
    logp = (logp + SHAPE_PRIOR_WEIGHT * math.log(1 / len(SHAPE_NAMES))) / (total + SHAPE_PRIOR_WEIGHT)
    p = np.exp(logp - logp.max())
    p /= p.sum()
    shape = SHAPE_NAMES[int(p.argmax())]
    for d in ds:
        d.shape = shape
        d.track = tid
    # Positions relative to the floor: each step's displacement minus the floor's there.
    pos = [np.array(ds[0].centroid, dtype=np.float64)]
    for a, b in zip(ds, ds[1:]):
        cu, cv = _floor_shift(params, a.frame, b.frame, a, w, h)
        mx, my = _step(a, b, w, h)
        pos.append(pos[-1] + np.array([mx - cu, my - cv]))
    pos = np.stack(pos)
    dx, dy = (pos[-1] - pos[0]).tolist()
    size = math.sqrt(float(np.median([d.area for d in ds])))
    la = _log_size_change(ds, frames, dets, params, w, h)
    direction = _direction(dx, dy, la, size, s)
    bounces = _bounces(frames, pos[:, 1], size, s)
    stop = _stop_frame(frames, pos, size, s, ds[-1].at_edge, num_frames)
    f_first, f_last = frames[0], frames[-1]
    appear = {"frame": f_first, "cause": "start" if f_first == 0 else _cause(dets, f_first, ds[0], f_first - 1, s)}
    vanish = {"frame": f_last,
              "cause": "end" if f_last == num_frames - 1 else _cause(dets, f_last, ds[-1], f_last + 1, s)}
    hidden = []
    for (fa, da), (fb, db) in zip(zip(frames, ds), zip(frames[1:], ds[1:])):
        if fb - fa > 1:
            c1, c2 = _cause(dets, fa, da, fa + 1, s), _cause(dets, fb, db, fb - 1, s)
            hidden.append({"from": fa + 1, "to": fb - 1, "cause": c1 if c1 != "none" else c2})
    return Track(id=tid, color=ds[0].color, shape=shape,
                 shape_probs={n: round(float(q), 4) for n, q in zip(SHAPE_NAMES, p)}, size=round(size, 3),
                 frames=frames, detections=[i for _, i in members], direction=direction,
                 displacement=(round(dx, 3), round(dy, 3)), log_area_change=round(la, 4), bounces=bounces,
                 stop_frame=stop, appear=appear, vanish=vanish, hidden=hidden)


# What Track.direction can be (see _direction).
DIRECTIONS = ("still", "left", "right", "up", "down", "toward", "away")

# Motion thresholds (pixels of a 64-high frame, or of the object's size sqrt(area)).
MOVE_PX = 2.5  # a net displacement below max(this, MOVE_SIZE * size) is still ...
MOVE_SIZE = 0.3
MOVE_LOG_AREA = 0.15  # ... unless it also grows or shrinks this much while moving down or up
DEPTH_LOG_AREA = 0.1  # moving down (up) while growing (shrinking) by this much: toward (away)
TOWARD_PER_PX = 0.022  # toward also grows by this much per pixel it moves down; a fall far less


def _direction(dx: float, dy: float, la: float, size: float, s: float) -> str:
    """Net motion relative to the floor, from the displacement (dx, dy) in pixels and the
    change la of log apparent area.

    Sideways motion keeps the size. Rolling away moves up the screen and shrinks;
    rolling towards the camera moves down and grows, and on a flat floor the growth
    and the descent go together (both follow 1 / distance: about 0.05 per pixel of a
    64-high frame at the default camera). A fall also moves down, but at about the same
    size (it shrinks a little as the camera looks down on it; a tumbling cube changes
    its outline by up to 30 %), so down with little growth per pixel is a fall."""
    d = math.hypot(dx, dy)
    depth_cue = abs(la) >= MOVE_LOG_AREA and abs(dy) >= 0.6 * MOVE_PX * s and la * dy > 0
    if d < max(MOVE_PX * s, MOVE_SIZE * size) and not depth_cue:
        return "still"
    if abs(dx) >= abs(dy):
        return "right" if dx > 0 else "left"
    if dy > 0:
        return "toward" if la > DEPTH_LOG_AREA and la >= TOWARD_PER_PX * dy / s else "down"
    return "away" if la < -DEPTH_LOG_AREA else "up"  # nothing in the world rises for long but a bounce


BOUNCE_PX = 1.0  # a bounce: down then up by at least max(this, BOUNCE_SIZE * size)
BOUNCE_SIZE = 0.12


def _bounces(frames: list[int], y: np.ndarray, size: float, s: float) -> list[int]:
    """Frames where the object's height turns from falling to rising: a local maximum of
    its screen y (y grows downwards) with a drop before and a rise after it."""
    thr = max(BOUNCE_PX * s, BOUNCE_SIZE * size)
    out = []
    n = len(y)
    for k in range(1, n - 1):
        if frames[k + 1] - frames[k - 1] != 2:
            continue
        if not (y[k] >= y[k - 1] and y[k] > y[k + 1]):
            continue
        lo = max(0, k - 3)
        fall = y[k] - y[lo:k].min()
        rise = y[k] - y[k + 1:k + 4].min()
        if fall >= thr and rise >= thr:
            out.append(frames[k])
    return out


STOP_SPEED_PX = 0.45  # at rest: every later step below max(this, STOP_SPEED_SIZE * size) per frame ...
STOP_SPEED_SIZE = 0.04
STOP_DRIFT_PX = 1.5  # ... and never farther than max(this, STOP_DRIFT_SIZE * size) from where it stopped
STOP_DRIFT_SIZE = 0.15


def _stop_frame(frames: list[int], pos: np.ndarray, size: float, s: float, ends_at_edge: bool,
                num_frames: int) -> int | None:
    """First frame from which the object stays put to the end of the clip, after having
    moved; None if it never moved, never settled, or left the frame. "Stays put" allows
    the small per-frame drift of the camera compensation (a step limit plus a looser
    limit on the total), so a moving camera does not postpone the stop."""
    if ends_at_edge or len(frames) < 4 or frames[-1] < num_frames - 1:
        return None
    v_rest = max(STOP_SPEED_PX * s, STOP_SPEED_SIZE * size)
    drift = max(STOP_DRIFT_PX * s, STOP_DRIFT_SIZE * size)
    move = max(MOVE_PX * s, MOVE_SIZE * size)
    steps = np.hypot(*np.diff(pos, axis=0).T) / np.maximum(np.diff(frames), 1)  # (n-1,) pixels per frame
    k = len(frames) - 1
    while k > 0 and steps[k - 1] <= v_rest and np.hypot(*(pos[k - 1:] - pos[k - 1]).T).max() <= drift:
        k -= 1
    if k == 0 or k > len(frames) - 3:  # never moved, or fewer than three frames of rest
        return None
    if np.hypot(*(pos[:k] - pos[k]).T).max() < move:
        return None
    return frames[k]
