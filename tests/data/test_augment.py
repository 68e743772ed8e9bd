"""Random resized crops of a clip."""

import random

import torch

from mmssl.data.augment import random_resized_crop


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
