"""Step 3 of the analyzer (`kinora.verify.analyzer`): detections, the objects in every
frame.

3. detections: colour, centroid, area, box, how much of the outline touches another
   object, and a shape (sphere / cube / cylinder) from the classifier in
   `kinora.verify.shapes`.

It follows steps 1-2 (`kinora.verify.pixels`: colour classes and 4-connected
components) and mends their output first: pieces of one object cut in two by a thin
occluder are merged. H.264 stores colour per 2x2 block, which leaves specks and, where
two objects meet, strips of a mixed hue (cyan and purple make blue): specks rejoin the
object they broke off or are dropped, strips whose hue lies between their two
neighbours' are dropped. The camera (`kinora.verify.camera`) and the tracks
(`kinora.verify.tracks`) follow.
"""

from __future__ import annotations

import itertools

import numpy as np

from kinora.verify.pixels import COLOR_NAMES, _hue_between, classify_pixels, label_components
from kinora.verify.results import Detection
from kinora.verify.shapes import SHAPE_NAMES, shape_features, shape_probabilities

# Everything below is in pixels of a 64-pixel-high frame and scaled by height / 64.
MIN_AREA = 4.0  # a detection has at least this many pixels (at 64 high)
SPECK_AREA = 10.0  # smaller components next to a bigger one are compression artefacts
MERGE_GAP = 2.0  # two pieces of one colour this close, with another object between, are one
MAX_PIECES = 48  # a frame with more components than this is noise: no merging or speck passes


def _components(frames: np.ndarray):
    """Per-frame components after occlusion-split merging and speck removal.

    Returns (cls (T, H, W) int8 pixel classes, labels (T, H, W) int16 with per-frame
    component indices, per frame a list of dicts with class, area, centroid and box).
    The pairwise passes only look at components of at least MIN_AREA pixels, and skip
    a frame with more than MAX_PIECES of them (noise, not a scene: no object there
    needs mending)."""
    t, h, w, _ = frames.shape
    s = h / 64.0
    cls = classify_pixels(frames)
    raw = label_components(cls)
    fg = raw >= 0
    keys, inv = np.unique(raw[fg], return_inverse=True)
    n = len(keys)
    labels = np.full((t, h, w), -1, np.int16)
    if n == 0:
        return cls, labels, [[] for _ in range(t)]
    tt, yy, xx = np.nonzero(fg)
    area = np.bincount(inv, minlength=n)
    frame_of = np.zeros(n, np.int64)
    frame_of[inv] = tt
    klass = np.zeros(n, np.int64)
    klass[inv] = cls[tt, yy, xx]
    x0 = np.full(n, w, np.int64)
    y0 = np.full(n, h, np.int64)
    x1 = np.zeros(n, np.int64)
    y1 = np.zeros(n, np.int64)
    np.minimum.at(x0, inv, xx)
    np.minimum.at(y0, inv, yy)
    np.maximum.at(x1, inv, xx + 1)
    np.maximum.at(y1, inv, yy + 1)
    # Merge pieces of one colour split by a thin occluder: boxes within MERGE_GAP and
    # another object's box overlapping the gap between them.
    parent = np.arange(n)

    def find(a):
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    gap = MERGE_GAP * s
    big = area >= MIN_AREA * s * s
    pieces = np.bincount(frame_of[big], minlength=t)
    candidate = big & (pieces[frame_of] <= MAX_PIECES)
    for f in range(t):
        ids = np.nonzero((frame_of == f) & candidate)[0]
        if len(ids) < 2:
            continue
        for a, b in itertools.combinations(ids, 2):
            if klass[a] != klass[b]:
                continue
            gx = max(x0[a], x0[b]) - min(x1[a], x1[b])
            gy = max(y0[a], y0[b]) - min(y1[a], y1[b])
            if max(gx, gy) > gap:
                continue
            ux0, uy0 = min(x0[a], x0[b]), min(y0[a], y0[b])
            ux1, uy1 = max(x1[a], x1[b]), max(y1[a], y1[b])
            for c in ids:
                if klass[c] != klass[a] and area[c] >= MIN_AREA * s * s and \
                        x0[c] < ux1 and x1[c] > ux0 and y0[c] < uy1 and y1[c] > uy0:
                    parent[find(b)] = find(a)
                    break
    # Specks: video compression stores colour per 2x2 block, so where two objects meet
    # (or at a ragged edge) a few pixels take a mixed hue (cyan + purple reads blue) or
    # break off. A speck touching a component at least twice its size joins it when of
    # the same colour and is dropped otherwise.
    # A strip of mixed hue where two objects overlap is larger: up to three times that,
    # touching two bigger components of two other colours whose hues it lies between
    # (cyan and purple mix to blue), it is dropped too; a small object of another hue
    # peeking out between two others is kept.
    dropped = np.zeros(n, bool)
    for a in np.nonzero(candidate & (area < 3 * SPECK_AREA * s * s))[0]:
        speck = area[a] < SPECK_AREA * s * s
        others: set[int] = set()
        for b in np.nonzero((frame_of == frame_of[a]) & candidate)[0]:
            if b == a or area[b] < 2 * area[a]:
                continue
            if max(max(x0[a], x0[b]) - min(x1[a], x1[b]), max(y0[a], y0[b]) - min(y1[a], y1[b])) > 1:
                continue
            if speck:
                if klass[b] == klass[a]:
                    parent[find(a)] = find(b)
                else:
                    dropped[a] = True
                break
            if klass[b] != klass[a]:
                others.add(int(klass[b]))
        if any(_hue_between(int(klass[a]), c1, c2) for c1, c2 in itertools.combinations(others, 2)):
            dropped[a] = True
        if speck and not dropped[a] and find(a) == a:
            # A speck of an object's colour broken off it (a chroma block a pixel or two away).
            for b in np.nonzero((frame_of == frame_of[a]) & candidate & (klass == klass[a]) & (area >= 4 * area[a]))[0]:
                if max(max(x0[a], x0[b]) - min(x1[a], x1[b]), max(y0[a], y0[b]) - min(y1[a], y1[b])) <= 3 * s:
                    parent[find(a)] = find(b)
                    break
    roots = np.array([find(a) for a in range(n)])
    uroots, rinv = np.unique(roots, return_inverse=True)
    m = len(uroots)
    area_r = np.bincount(rinv, weights=area, minlength=m)
    keep = (area_r >= MIN_AREA * s * s) & np.bincount(rinv, weights=~dropped, minlength=m).astype(bool)
    comp_of_pixel = rinv[inv]
    ok = keep[comp_of_pixel]
    tt, yy, xx, cp = tt[ok], yy[ok], xx[ok], comp_of_pixel[ok]
    # Per-frame indices in order of first pixel.
    frame_r = np.zeros(m, np.int64)
    frame_r[cp] = tt
    order = np.nonzero(keep)[0]
    per_frame_index = np.full(m, -1, np.int64)
    comps: list[list[dict]] = [[] for _ in range(t)]
    for r in order:
        f = int(frame_r[r])
        per_frame_index[r] = len(comps[f])
        comps[f].append({"root": int(r)})
    labels[tt, yy, xx] = per_frame_index[cp]
    sx = np.bincount(cp, weights=xx, minlength=m)
    sy = np.bincount(cp, weights=yy, minlength=m)
    bx0 = np.full(m, w)
    by0 = np.full(m, h)
    bx1 = np.zeros(m, np.int64)
    by1 = np.zeros(m, np.int64)
    np.minimum.at(bx0, cp, xx)
    np.minimum.at(by0, cp, yy)
    np.maximum.at(bx1, cp, xx + 1)
    np.maximum.at(by1, cp, yy + 1)
    cnt = np.bincount(cp, minlength=m)
    kl = np.zeros(m, np.int64)
    kl[cp] = cls[tt, yy, xx]
    for f in range(t):
        for d in comps[f]:
            r = d["root"]
            d.update(klass=int(kl[r]), area=int(cnt[r]), cx=float(sx[r] / cnt[r]), cy=float(sy[r] / cnt[r]),
                     bbox=(int(bx0[r]), int(by0[r]), int(bx1[r]), int(by1[r])))
    return cls, labels, comps


def _contact(labels: np.ndarray) -> np.ndarray:
    """(T, K) share of each detection's outline pixels that are 4-adjacent to another
    detection: two objects side by side share a few pixels of outline, an object partly
    behind another shares a long stretch of it."""
    t = labels.shape[0]
    k = int(labels.max()) + 1 if labels.size else 0
    if k <= 0:
        return np.zeros((t, 0))
    pad = np.pad(labels, ((0, 0), (1, 1), (1, 1)), constant_values=-1)
    own = labels
    nbrs = [pad[:, :-2, 1:-1], pad[:, 2:, 1:-1], pad[:, 1:-1, :-2], pad[:, 1:-1, 2:]]
    edge = np.zeros(own.shape, bool)
    touch = np.zeros(own.shape, bool)
    for nl in nbrs:
        edge |= nl != own
        touch |= (nl >= 0) & (nl != own)
    sel = own >= 0
    key = (np.arange(t)[:, None, None] * k + own)[sel & edge]
    n_edge = np.bincount(key, minlength=t * k)
    n_touch = np.bincount((np.arange(t)[:, None, None] * k + own)[sel & touch], minlength=t * k)
    return (n_touch / np.maximum(n_edge, 1)).reshape(t, k)


def detect(frames: np.ndarray,
           classify: bool = True) -> tuple[list[list[Detection]], np.ndarray, list[list[np.ndarray]]]:
    """Find the objects in every frame: (detections per frame, labels (T, H, W), features).
    classify=False skips the shape classifier (uniform probabilities), for fitting it."""
    t, h, w, _ = frames.shape
    _, labels, comps = _components(frames)
    value = frames.max(-1)
    where = [(f, i) for f in range(t) for i in range(len(comps[f]))]
    feats = np.zeros((0, 0), np.float32)
    if where:
        boxes = np.array([comps[f][i]["bbox"] for f, i in where])
        sizes = np.stack([boxes[:, 3] - boxes[:, 1], boxes[:, 2] - boxes[:, 0]], 1)
        S = int(sizes.max())
        masks = np.zeros((len(where), S, S), bool)
        values = np.zeros((len(where), S, S), np.float32)
        for k, ((f, i), (x0, y0, x1, y1)) in enumerate(zip(where, boxes)):
            masks[k, : y1 - y0, : x1 - x0] = labels[f, y0:y1, x0:x1] == i
            values[k, : y1 - y0, : x1 - x0] = value[f, y0:y1, x0:x1]
        contact = _contact(labels)
        touching = np.array([contact[f, i] for f, i in where], np.float32)
        feats = np.concatenate([shape_features(masks, values, sizes, h), touching[:, None]], 1)
    if not where:
        probs = np.zeros((0, 3), np.float32)
    elif classify:
        probs = shape_probabilities(feats)
    else:
        probs = np.full((len(where), len(SHAPE_NAMES)), 1 / len(SHAPE_NAMES), np.float32)
    dets: list[list[Detection]] = [[] for _ in range(t)]
    per_frame_feats: list[list[np.ndarray]] = [[] for _ in range(t)]
    for k, (f, i) in enumerate(where):
        d = comps[f][i]
        x0, y0, x1, y1 = d["bbox"]
        p = probs[k]
        dets[f].append(Detection(
            frame=f, index=i, color=COLOR_NAMES[d["klass"]], shape=SHAPE_NAMES[int(p.argmax())],
            shape_probs={s: round(float(q), 4) for s, q in zip(SHAPE_NAMES, p)}, confidence=round(float(p.max()), 4),
            centroid=(round(d["cx"], 3), round(d["cy"], 3)), area=d["area"], bbox=d["bbox"],
            at_edge=x0 == 0 or y0 == 0 or x1 == w or y1 == h, contact=round(float(contact[f, i]), 3),
        ))
        per_frame_feats[f].append(feats[k])
    return dets, labels, per_frame_feats
