"""Random resized crops of a clip: a box drawn from the frame size, then cut and resized."""

import random

import pytest
import torch

from mmssl.data.augment import random_crop_box, resized_crop


def random_resized_crop(video, scale, rng):
    return resized_crop(video, random_crop_box(*video.shape[-2:], scale, rng))


def test_crop_keeps_shape_and_full_scale_is_identity():
    video = torch.rand(3, 4, 12, 16)
    out = random_resized_crop(video, (0.5, 0.8), random.Random(0))
    assert out.shape == video.shape and not torch.allclose(out, video)
    same = random_resized_crop(video, (1.0, 1.0), random.Random(0))
    torch.testing.assert_close(same, video)


def test_same_box_on_every_frame():
    frame = torch.rand(3, 1, 12, 16)
    video = frame.expand(3, 5, 12, 16).contiguous()
    out = random_resized_crop(video, (0.4, 0.6), random.Random(3))
    assert all(torch.equal(out[:, 0], out[:, t]) for t in range(5))


def test_a_box_only_cuts_frames_of_the_size_it_was_drawn_for():
    box = random_crop_box(12, 16, (0.5, 0.8), random.Random(0))
    assert 0 <= box.top <= 12 - box.height and 0 <= box.left <= 16 - box.width
    with pytest.raises(ValueError, match="drawn for 12×16 frames cannot cut 16×12"):
        resized_crop(torch.rand(3, 2, 16, 12), box)
