"""Rectified flow: timesteps and shift, noising, task masks (data, not branches), the masked loss."""

import pytest
import torch

from kinora.diffusion.flow import (
    DEFAULT_TASK_PROBS,
    TASKS,
    add_noise,
    flow_loss,
    frames_mask,
    impose_known,
    resolution_shift,
    sample_masks,
    sample_t,
    shift_time,
)
from kinora.errors import KinoraError


def test_shift_keeps_endpoints_and_moves_towards_noise():
    t = torch.linspace(0, 1, 11)
    s = shift_time(t, 3.0)
    assert s[0] == 0 and s[-1] == 1
    assert (s[1:-1] > t[1:-1]).all()
    assert torch.equal(shift_time(t, 1.0), t)
    assert (s[1:] > s[:-1]).all()  # still monotone


def test_shift_grows_with_resolution_and_length():
    assert resolution_shift(9, 8, 8) == pytest.approx(2.0)  # 4 s of 64x64
    assert resolution_shift(1, 8, 8) == 1.0  # an image: clamped at 1
    assert resolution_shift(9, 16, 16) == pytest.approx(4.0)  # 128x128
    assert resolution_shift(17, 8, 8) > resolution_shift(9, 8, 8)


def test_logit_normal_timesteps():
    g = torch.Generator().manual_seed(0)
    t = sample_t(20000, generator=g)
    assert 0 < t.min() and t.max() < 1
    assert abs(t.median().item() - 0.5) < 0.02  # sigmoid(N(0,1)) is centred at 0.5
    # most mass in the middle: P(0.27 < t < 0.73) = P(|n| < 1) ~ 0.68
    assert 0.64 < ((t > 0.2689) & (t < 0.7311)).float().mean() < 0.72
    shifted = sample_t(20000, shift=3.0, generator=torch.Generator().manual_seed(0))
    assert shifted.median() > 0.7


def test_add_noise_endpoints():
    x0, eps = torch.randn(2, 3, 2, 2, 2), torch.randn(2, 3, 2, 2, 2)
    assert torch.equal(add_noise(x0, eps, torch.zeros(2)), x0)
    assert torch.equal(add_noise(x0, eps, torch.ones(2)), eps)
    mid = add_noise(x0, eps, torch.tensor([0.25, 0.75]))
    torch.testing.assert_close(mid[1], 0.25 * x0[1] + 0.75 * eps[1])


@pytest.mark.parametrize("shape", [(3, 3, 3), (5, 4, 6), (9, 8, 8)])  # (F < 3: see the image test)
def test_every_task_mask_is_valid(shape):
    F, h, w = shape
    for name, fn in TASKS.items():
        for seed in range(10):
            m = fn(F, h, w, torch.Generator().manual_seed(seed))
            assert m.shape == (F, h, w), name
            assert set(m.unique().tolist()) <= {0.0, 1.0}, name
            assert m.min() == 0, f"{name} leaves nothing to generate"


def test_task_masks_have_their_meaning():
    F, h, w = 5, 4, 4
    g = torch.Generator().manual_seed(0)
    assert TASKS["t2v"](F, h, w, g).sum() == 0
    i2v = TASKS["i2v"](F, h, w, g)
    assert i2v[0].min() == 1 and i2v[1:].max() == 0
    bridge = TASKS["bridge"](F, h, w, g)
    assert bridge[0].min() == 1 and bridge[-1].min() == 1 and bridge[1:-1].max() == 0
    for seed in range(20):
        g = torch.Generator().manual_seed(seed)
        per_frame = TASKS["extend_forward"](F, h, w, g).amax((1, 2))
        k = int(per_frame.sum())
        assert 1 <= k < F and per_frame[:k].min() == 1  # a prefix
        per_frame = TASKS["extend_backward"](F, h, w, g).amax((1, 2))
        k = int(per_frame.sum())
        assert 1 <= k < F and per_frame[F - k:].min() == 1  # a suffix
        hole = 1 - TASKS["inpaint"](F, h, w, g)
        idx = hole.nonzero()
        lo, hi = idx.min(0).values, idx.max(0).values
        box = hole[lo[0]:hi[0] + 1, lo[1]:hi[1] + 1, lo[2]:hi[2] + 1]
        assert box.min() == 1 and hole.sum() == box.numel()  # one solid box


def test_sample_masks_follows_probabilities():
    g = torch.Generator().manual_seed(0)
    masks, tasks = sample_masks(400, 5, 4, 4, {"t2v": 0.25, "i2v": 0.75}, g)
    assert masks.shape == (400, 1, 5, 4, 4)
    assert 0.68 < tasks.count("i2v") / 400 < 0.82
    for m, name in zip(masks, tasks):
        assert torch.equal(m[0], TASKS[name](5, 4, 4))
    _, tasks = sample_masks(50, 5, 4, 4, DEFAULT_TASK_PROBS, g)
    assert set(tasks) <= set(TASKS)


def test_images_never_get_fully_known_masks():
    masks, tasks = sample_masks(20, 1, 2, 2, {"i2v": 1.0, "bridge": 1.0}, torch.Generator().manual_seed(0))
    assert masks.max() == 0 and set(tasks) == {"t2v"}


def test_sample_masks_rejects_bad_tables():
    with pytest.raises(KinoraError, match="unknown tasks"):
        sample_masks(2, 3, 2, 2, {"teleport": 1.0})
    with pytest.raises(KinoraError):
        sample_masks(2, 3, 2, 2, {"t2v": 0.0})


def test_frames_mask_and_impose_known():
    m = frames_mask(4, 2, 2, [0, -1])
    assert m.shape == (1, 4, 2, 2) and m[0, 0].min() == 1 and m[0, 3].min() == 1 and m[0, 1:3].max() == 0
    with pytest.raises(KinoraError):
        frames_mask(4, 2, 2, [4])
    x, known = torch.randn(1, 3, 4, 2, 2), torch.randn(1, 3, 4, 2, 2)
    y = impose_known(x, {"mask": m[None], "known": known * m[None]})
    assert torch.equal(y[:, :, 0], known[:, :, 0]) and torch.equal(y[:, :, 1], x[:, :, 1])
    assert impose_known(x, {}) is x


class Spy:
    """A 'model' that records its inputs and returns a chosen velocity."""

    def __init__(self, out):
        self.out = out

    def __call__(self, x, t, cond):
        self.x, self.t, self.cond = x, t, cond
        return self.out(x, t, cond)


def test_loss_only_on_unknown_positions_and_known_is_clean():
    g = torch.Generator().manual_seed(0)
    x0, eps = torch.randn(2, 3, 4, 2, 2, generator=g), torch.randn(2, 3, 4, 2, 2, generator=g)
    mask = torch.zeros(2, 1, 4, 2, 2)
    mask[:, :, :2] = 1
    target = eps - x0
    # right on the unknown frames, garbage on the known ones: zero loss
    spy = Spy(lambda x, t, c: target + 100 * mask)
    t = torch.tensor([0.3, 0.8])
    loss, per = flow_loss(spy, x0, {"text": None, "text_mask": None, "mask": mask}, t, eps, per_sample=True)
    assert loss.item() == 0 and per.shape == (2,)
    # the model saw clean latents where known, noisy ones elsewhere, and the known latents in cond
    assert torch.equal(spy.x[:, :, :2], x0[:, :, :2])
    torch.testing.assert_close(spy.x[:, :, 2:], add_noise(x0, eps, t)[:, :, 2:])
    assert torch.equal(spy.cond["known"], x0 * mask)
    # an error of 1 on every unknown element gives loss 1
    spy = Spy(lambda x, t, c: target + 1)
    assert flow_loss(spy, x0, {"mask": mask}, t, eps).item() == pytest.approx(1.0)
    # without a mask every position counts
    assert flow_loss(Spy(lambda x, t, c: target + 2), x0, {}, t, eps).item() == pytest.approx(4.0)
