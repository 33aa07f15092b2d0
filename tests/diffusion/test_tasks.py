"""Tasks as data: the task named from the inputs, edit regions and their masks, windows."""

import numpy as np
import pytest
import torch

from kinora.diffusion.tasks import EditRegion, latent_known_mask, task_of, window_spans
from kinora.errors import KinoraError


def test_edit_mask_covers_the_box_and_the_span():
    m = EditRegion((0.5, 0, 1, 0.25), (1, 2)).pixel_mask(32, 64, 64, 8)
    assert m[8:16, :16, 32:].all() and m.sum() == 8 * 16 * 32
    assert EditRegion((0, 0, 0.01, 0.01)).pixel_mask(4, 64, 64, 8).sum() == 4  # at least one pixel a frame


@pytest.mark.parametrize("box, span", [((0.5, 0, 0.4, 1), None), ((0, 0, 1, 1.5), None),
                                       ((0, 0, 1, float("nan")), None), ((0, 0, 1, 1), (3, 1)),
                                       ((0, 0, 1, 1), (-1, 1))])
def test_bad_edit_regions_are_refused(box, span):
    with pytest.raises(KinoraError, match="edit"):
        EditRegion(box, span)


def test_edit_time_after_the_video_is_refused():
    with pytest.raises(KinoraError, match="after the video"):
        EditRegion((0, 0, 1, 1), (5, 6)).pixel_mask(16, 64, 64, 8)


@pytest.mark.parametrize("inputs, task", [
    ({}, "t2v"), ({"image": True}, "i2v"), ({"image": True, "last_image": True}, "bridge"), ({"loop": True}, "loop"),
    ({"loop": True, "image": True}, "loop"), ({"video": True}, "extend"),
    ({"video": True, "backward": True}, "extend_backward"),
    ({"video": True, "edit_mask": True}, "inpaint"),
])
def test_task_is_named_from_the_inputs(inputs, task):
    assert task_of(**inputs).name == task


@pytest.mark.parametrize("inputs, message", [
    ({"last_image": True}, "needs a first image"), ({"loop": True, "video": True}, "loop"),
    ({"image": True, "video": True}, "not both"), ({"edit_mask": True}, "needs the video"),
    ({"backward": True}, "needs the video"), ({"video": True, "edit_mask": True, "backward": True}, "backward"),
])
def test_inputs_that_cannot_go_together_are_refused(inputs, message):
    with pytest.raises(KinoraError, match=message):
        task_of(**inputs)


def test_latent_mask_needs_every_pixel_of_a_cell():
    known = torch.zeros(9, 16, 16, dtype=torch.bool)
    known[0] = True  # the first frame: latent frame 0 alone
    known[1:4] = True  # three of the four frames of latent frame 1: not known
    known[5:9, :8, :8] = True  # all four frames of latent frame 2, one 8x8 cell
    m = latent_known_mask(known)
    assert m.shape == (1, 1, 3, 2, 2)
    assert m[0, 0, 0].all() and not m[0, 0, 1].any() and m[0, 0, 2].sum() == 1 and m[0, 0, 2, 0, 0] == 1


def test_windows_overlap_by_the_context_and_cover_the_clip():
    spans = window_spans(80, 33, 9)
    assert spans[0] == (0, 33) and spans[-1][1] == 80
    assert all(b[0] == a[1] - 9 for a, b in zip(spans, spans[1:]))
    assert window_spans(20, 33) == [(0, 20)]
    assert np.diff([s for s, _ in window_spans(200, 9, 100)]).min() >= 1  # context capped: always progress
