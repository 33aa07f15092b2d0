"""Step 4 of the analyzer (`kinora.verify.analyzer`): camera motion from the floor
texture.

4. camera: block matching of the floor texture (object and sky pixels masked out)
   between consecutive frames, by masked SSD through FFT cross-correlation, and per
   frame pair the 8-parameter motion of a plane fitted to the blocks. From the
   accumulated translation, divergence (zoom scale) and vertical shear (the parallax
   of an orbit: near floor and far floor move in opposite directions) one of
   static / pan / orbit / zoom.

It follows the detections (step 3, `kinora.verify.detect`), whose pixels are masked
out of the floor; the tracks (step 5, `kinora.verify.tracks`) follow it and use the
per-pair floor motion to tell an object's own motion from the camera's.
"""

from __future__ import annotations

import math

import numpy as np

from kinora.verify.results import CameraMotion

SKY_VALUE = 230  # unsaturated and brighter than this = sky (no texture to match)
SEARCH_X, SEARCH_Y = 5, 3  # block matching search range per frame pair (working resolution)
BLOCK = 12  # block size for the floor flow (working resolution): 5 x 5 blocks at 64 x 64
STILL_DIFF = 1.0  # mean |grey difference| of the floor below which a frame pair has not moved
WORK_SIZE = 64  # frames larger than this are box-downsampled for the camera estimate


def _downsample(a: np.ndarray, k: int, reduce) -> np.ndarray:
    """Box-reduce the last two axes by k (cropping the remainder)."""
    if k == 1:
        return a
    t, h, w = a.shape
    a = a[:, : h - h % k, : w - w % k].reshape(t, h // k, k, w // k, k)
    return reduce(a, axis=(2, 4))


def _match_blocks(ga: np.ndarray, va: np.ndarray, gb: np.ndarray, vb: np.ndarray, layout: tuple,
                  cnt0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Best shift of every block of frames ga in frames gb (masks va, vb), sub-pixel by a
    parabola through the neighbouring costs: (flow (P, nby, nbx, 2), trusted (P, nby, nbx))."""
    # Masked SSD for every shift d of every block b, by FFT cross-correlation:
    # sum_b v0 v1' (g1' - g0)^2 = sum v0 g0^2 v1' - 2 sum v0 g0 (v1 g1)' + sum v0 (v1 g1^2)'
    # where ' = frame t+1 shifted by d. Blocks come from frame t, search windows (block
    # plus the search margin) from frame t+1.
    oy, ox, nby, nbx, by, bx = layout
    sx, sy = SEARCH_X, SEARCH_Y
    p = len(ga)
    v0f = va.astype(np.float32)
    g0 = (ga - 128.0).astype(np.float32)  # smaller sums, less cancellation in float32
    def blk(a):  # (P, nby, nbx, by, bx) blocks of frame t
        return a[:, oy:oy + nby * by, ox:ox + nbx * bx].reshape(p, nby, by, nbx, bx).transpose(0, 1, 3, 2, 4)

    v1f = np.pad(vb.astype(np.float32), ((0, 0), (sy, sy), (sx, sx)))
    g1 = np.pad((gb - 128.0).astype(np.float32), ((0, 0), (sy, sy), (sx, sx)))
    rh, rw = by + 2 * sy, bx + 2 * sx
    fh, fw = rh, rw  # circular correlation: lags 0..2s of a block never wrap in a window this size

    def win(a):  # (P, nby, nbx, rh, rw) search windows of frame t+1
        wv = np.lib.stride_tricks.sliding_window_view(a, (rh, rw), axis=(1, 2))
        return wv[:, oy:oy + nby * by:by, ox:ox + nbx * bx:bx][:, :nby, :nbx]

    def spec(a):
        return np.fft.rfft2(a, s=(fh, fw))

    b_v, b_g, b_g2 = spec(blk(v0f)), spec(blk(v0f * g0)), spec(blk(v0f * g0 * g0))
    w_v, w_g, w_g2 = spec(win(v1f)), spec(win(v1f * g1)), spec(win(v1f * g1 * g1))

    def corr(a, b_):  # sum_x a[x] b[x + k] for k in the search range
        return np.fft.irfft2(np.conj(a) * b_, s=(fh, fw))[..., : 2 * sy + 1, : 2 * sx + 1]

    cnt = corr(b_v, w_v)
    ssd = corr(b_g2, w_v) - 2 * corr(b_g, w_g) + corr(b_v, w_g2)
    cost = np.where(cnt >= 0.4 * by * bx - 0.5, np.maximum(ssd, 0) / np.maximum(cnt, 1), np.inf)
    flat = cost.reshape(p, nby, nbx, -1)
    best = flat.argmin(-1)
    iy, ix = np.divmod(best, 2 * sx + 1)
    cmin = np.take_along_axis(flat, best[..., None], -1)[..., 0]
    cmed = np.median(np.where(np.isfinite(flat), flat, 1e9), -1)
    ok = np.isfinite(cmin) & (cmin < 0.5 * cmed) & (cmed > 4.0) & (cnt0 >= 0.4 * by * bx)

    def parabola(c_m, c_0, c_p):
        c_m, c_0, c_p = (np.where(np.isfinite(c), c, 0.0) for c in (c_m, c_0, c_p))
        den = c_m - 2 * c_0 + c_p
        off = 0.5 * (c_m - c_p) / np.where(den > 1e-6, den, 1.0)
        return np.where(den > 1e-6, np.clip(off, -0.5, 0.5), 0.0)

    def at(iy_, ix_):
        iy_ = np.clip(iy_, 0, 2 * sy)
        ix_ = np.clip(ix_, 0, 2 * sx)
        return np.take_along_axis(flat, (iy_ * (2 * sx + 1) + ix_)[..., None], -1)[..., 0]

    fx = parabola(at(iy, ix - 1), cmin, at(iy, ix + 1))
    fy = parabola(at(iy - 1, ix), cmin, at(iy + 1, ix))
    fx = np.where((ix > 0) & (ix < 2 * sx), fx, 0.0)
    fy = np.where((iy > 0) & (iy < 2 * sy), fy, 0.0)
    flow = np.stack([ix - sx + fx, iy - sy + fy], -1).astype(np.float32)
    return flow, ok


def floor_flow(frames: np.ndarray, cls: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Block matching of the floor between consecutive frames.

    Returns (flow (T-1, nby, nbx, 2) pixels at working resolution, ok (T-1, nby, nbx)
    bool, block centres (nby, nbx, 2) as (x, y), k the downsampling factor). Object and
    sky pixels are masked out of the sum of squared differences; a block is trusted when
    enough floor is left and its best shift stands out from the others (the checker is
    periodic, the search range stays below half its period).
    """
    t, h, w, _ = frames.shape
    k = max(1, int(round(min(h, w) / WORK_SIZE)))
    g = frames.astype(np.float32).mean(-1)
    valid = (cls < 0) & (frames.max(-1) < SKY_VALUE)
    g = _downsample(g, k, np.mean)
    valid = _downsample(valid, k, np.all)
    _, hh, ww = g.shape
    nby, nbx = max(1, hh // BLOCK), max(1, ww // BLOCK)
    by, bx = min(BLOCK, hh), min(BLOCK, ww)
    oy, ox = (hh - nby * by) // 2, (ww - nbx * bx) // 2
    p = t - 1
    if p < 1:
        return np.zeros((0, nby, nbx, 2)), np.zeros((0, nby, nbx), bool), np.zeros((nby, nbx, 2)), k
    crop = (slice(None), slice(oy, oy + nby * by), slice(ox, ox + nbx * bx))
    cnt_all = valid[crop].reshape(t, nby, by, nbx, bx).sum((2, 4))  # floor pixels per block
    # A pair whose floor barely changes (mean |difference| under STILL_DIFF grey levels;
    # a slow pan or zoom changes it by 1.4 or more) has not moved: no block matching.
    both = valid[1:] & valid[:-1]
    diff = (np.abs(g[1:] - g[:-1]) * both).sum((1, 2)) / np.maximum(both.sum((1, 2)), 1)
    flow = np.zeros((p, nby, nbx, 2), np.float32)
    ok = cnt_all[:-1] >= 0.4 * by * bx
    moving = np.nonzero(diff >= STILL_DIFF)[0]
    if len(moving):
        f_m, ok_m = _match_blocks(g[moving], valid[moving], g[moving + 1], valid[moving + 1],
                                  (oy, ox, nby, nbx, by, bx), cnt_all[moving])
        flow[moving], ok[moving] = f_m, ok_m
    cy_, cx_ = np.meshgrid(oy + (np.arange(nby) + 0.5) * by, ox + (np.arange(nbx) + 0.5) * bx, indexing="ij")
    centres = np.stack([cx_ - 0.5, cy_ - 0.5], -1)
    return flow, ok, centres, k


def _row_median(x: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Median of each row of x over its masked entries (0 for an empty row)."""
    n = mask.sum(1)
    srt = np.sort(np.where(mask, x, np.inf), 1)
    lo = np.take_along_axis(srt, np.maximum((n - 1) // 2, 0)[:, None], 1)[:, 0]
    hi = np.take_along_axis(srt, np.maximum(n // 2, 0)[:, None], 1)[:, 0]
    return np.where(n > 0, (lo + hi) / 2, 0.0)


def fit_floor_motion(flow: np.ndarray, ok: np.ndarray, centres: np.ndarray, w: int, h: int) -> np.ndarray:
    """Per frame pair, the 8-parameter motion of a plane seen by a moving camera
    (pseudo-perspective: exact to first order for any small rotation, and for a
    translation in front of a flat floor):

        u = a0 + a1 x + a2 y + c1 x^2 + c2 x y
        v = b0 + b1 x + b2 y + c1 x y + c2 y^2,   x = (px - W/2) / H, y = (py - H/2) / H

    Least squares over the trusted blocks, refitted twice without the blocks far off the
    fit (aliasing on the periodic checker). Fewer than 8 blocks: affine (c = 0); fewer
    than 4: the median translation; none: zeros. Returns (P, 8) [a0 a1 a2 b0 b1 b2 c1 c2]."""
    p = flow.shape[0]
    if p == 0:
        return np.zeros((0, 8))
    x = ((centres[..., 0] + 0.5 - w / 2) / h).reshape(-1)
    y = ((centres[..., 1] + 0.5 - h / 2) / h).reshape(-1)
    z, o = np.zeros_like(x), np.ones_like(x)
    rows_u = np.stack([o, x, y, z, z, z, x * x, x * y], 1)  # (B, 8)
    rows_v = np.stack([z, z, z, o, x, y, x * y, y * y], 1)
    u = flow[..., 0].reshape(p, -1).astype(np.float64)
    v = flow[..., 1].reshape(p, -1).astype(np.float64)
    wgt = ok.reshape(p, -1).astype(np.float64)
    n0 = wgt.sum(1)
    out = np.zeros((p, 8))
    for _ in range(3):
        n = wgt.sum(1)
        # Ridge: tiny on the affine terms, strong on the quadratic ones when blocks are few.
        ridge = np.zeros((p, 8, 8))
        ridge[:, range(6), range(6)] = 1e-6
        ridge[:, [6, 7], [6, 7]] = np.where(n >= 8, 1e-3, 1e6)[:, None]
        ata = np.einsum("pb,bi,bj->pij", wgt, rows_u, rows_u) + np.einsum("pb,bi,bj->pij", wgt, rows_v, rows_v) + ridge
        atb = np.einsum("pb,bi,pb->pi", wgt, rows_u, u) + np.einsum("pb,bi,pb->pi", wgt, rows_v, v)
        out = np.linalg.solve(ata, atb[..., None])[..., 0]
        r = np.hypot(out @ rows_u.T - u, out @ rows_v.T - v)  # (P, B)
        med = _row_median(r, wgt > 0)
        new = wgt * (r <= np.maximum(1.0, 2.5 * med)[:, None])
        wgt = np.where((new.sum(1) >= 6)[:, None], new, wgt)
    okf = ok.reshape(p, -1)
    for i in np.nonzero((n0 > 0) & (n0 < 4))[0]:
        out[i] = [np.median(u[i][okf[i]]), 0, 0, np.median(v[i][okf[i]]), 0, 0, 0, 0]
    out[n0 == 0] = 0.0
    return out


def flow_at(params: np.ndarray, px: float, py: float, w: int, h: int) -> tuple[float, float]:
    """Floor displacement (full-resolution pixels) at pixel (px, py) for one frame pair."""
    x, y = (px + 0.5 - w / 2) / h, (py + 0.5 - h / 2) / h
    a0, a1, a2, b0, b1, b2, c1, c2 = params
    return a0 + a1 * x + a2 * y + c1 * x * x + c2 * x * y, b0 + b1 * x + b2 * y + c1 * x * y + c2 * y * y


# Thresholds on the accumulated motion, in pixels of a 64-high frame (calibrated on
# simulated clips of every camera move at every speed, see kinora.verify.validate).
CAM_TRANSLATE = 3.0  # |tx| beyond this: the camera turned (pan); static stays below 0.3
CAM_SHEAR = 6.0  # |shear| beyond this and beyond 2 |tx|: orbit (a pan's own shear is ~0.5 |tx|)
CAM_ZOOM = 0.08  # |log scale| beyond this: zoom


def classify_camera(tx: float, ty: float, log_scale: float, shear: float) -> str:
    """One of CAMERA_MOTIONS from accumulated floor motion (64-high pixels).

    A pan turns the camera: the whole floor shifts the other way (pan left: floor
    moves right, tx > 0). An orbit circles the look-at point: the floor behind it moves
    with the camera and the floor in front against it, a vertical shear (orbit right:
    shear < 0 as the near, lower floor moves left). A zoom scales about the centre."""
    if abs(log_scale) >= CAM_ZOOM and abs(log_scale) * 32 >= 0.5 * max(abs(tx), abs(shear)):
        return "zoom_in" if log_scale > 0 else "zoom_out"
    if abs(shear) >= CAM_SHEAR and abs(shear) >= 2.0 * abs(tx):
        return "orbit_right" if shear < 0 else "orbit_left"
    if abs(tx) >= CAM_TRANSLATE:
        return "pan_left" if tx > 0 else "pan_right"
    return "static"


def estimate_camera(frames: np.ndarray, cls: np.ndarray) -> tuple[CameraMotion, np.ndarray]:
    """Camera move and the per-pair floor motion (P, 8) in full-resolution pixels."""
    t, h, w, _ = frames.shape
    flow, ok, centres, k = floor_flow(frames, cls)
    params = fit_floor_motion(flow, ok, centres, w // k, h // k) * k  # to full-resolution pixels
    s64 = 64.0 / h
    tx, ty = float(params[:, 0].sum()), float(params[:, 3].sum())
    log_scale = float(((params[:, 1] + params[:, 5]) / (2 * h)).sum())
    shear = float(params[:, 2].sum())
    motion = classify_camera(tx * s64, ty * s64, log_scale, shear * s64)
    per = [[round(float(a), 3), round(float(b), 3), round(float((c + d) / (2 * h)), 5), round(float(e), 3)]
           for a, b, c, d, e in zip(params[:, 0], params[:, 3], params[:, 1], params[:, 5], params[:, 2])]
    cam = CameraMotion(motion=motion, translation=(round(tx, 3), round(ty, 3)), scale=round(math.exp(log_scale), 4),
                       shear=round(shear, 3), per_frame=per)
    return cam, params
