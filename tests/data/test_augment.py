"""Fixed-size crops of frames of any size: a box drawn from the frame size, then cut and
scaled to the batch's size."""

import random

import pytest
import torch

from mmssl.data.augment import (
    center_crop_box,
    cover_crop_box,
    crop_to_size,
    random_resized_box,
)


def frames(height, width, t=3):
    return torch.randint(0, 256, (3, t, height, width), dtype=torch.uint8,
                         generator=torch.Generator().manual_seed(height * 1000 + width))


class CountingRandom(random.Random):
    """A random.Random that counts the draws made through randint and uniform."""

    def __init__(self, seed):
        super().__init__(seed)
        self.draws = 0

    def randint(self, a, b):
        self.draws += 1
        return super().randint(a, b)

    def uniform(self, a, b):
        self.draws += 1
        return super().uniform(a, b)


@pytest.mark.parametrize("height, width", [(48, 64), (48, 85), (85, 48), (112, 149), (30, 30)])
def test_every_frame_size_becomes_the_crop_size(height, width):
    video = frames(height, width)
    for box in (cover_crop_box(height, width, (48, 64), random.Random(0)),
                center_crop_box(height, width, (48, 64)),
                random_resized_box(height, width, (48, 64), (0.5, 1.0), random.Random(0))):
        out = crop_to_size(video, box, (48, 64))
        assert out.shape == (3, 3, 48, 64) and out.dtype == torch.uint8


def test_cover_box_keeps_the_aspect_of_the_output_and_spans_the_short_side():
    # 16:9 at short side 48 → the whole height, 64 of the 85 columns, at a random column
    box = cover_crop_box(48, 85, (48, 64), random.Random(1))
    assert (box.height, box.width) == (48, 64) and box.top == 0 and 0 <= box.left <= 21
    # vertical phone video: the whole width, the height that keeps 48:64
    box = cover_crop_box(85, 48, (48, 64), random.Random(1))
    assert (box.height, box.width) == (36, 48) and box.left == 0 and 0 <= box.top <= 49
    # square output from 4:3 frames of another size (a 112-px prep), as the papers crop
    box = center_crop_box(112, 149, (224, 224))
    assert (box.height, box.width) == (112, 112) and box.left == (149 - 112) // 2


def test_a_frame_of_the_output_size_is_used_as_it_is_and_draws_nothing():
    video = frames(48, 64)
    rng = CountingRandom(0)
    box = cover_crop_box(48, 64, (48, 64), rng)
    assert rng.draws == 0
    assert torch.equal(crop_to_size(video, box, (48, 64)), video)
    assert torch.equal(crop_to_size(video, center_crop_box(48, 64, (48, 64)), (48, 64)), video)


def test_random_boxes_move_and_the_centre_box_is_centred():
    positions = {cover_crop_box(48, 85, (48, 64), random.Random(seed)).left
                 for seed in range(20)}
    assert len(positions) > 5 and positions <= set(range(22))
    assert center_crop_box(48, 85, (48, 64)).left == 10


def test_a_crop_without_scaling_is_the_pixels_of_the_box():
    video = frames(48, 85)
    box = center_crop_box(48, 85, (48, 64))
    assert torch.equal(crop_to_size(video, box, (48, 64)), video[..., 10:74])


def test_random_resized_box_covers_its_share_of_the_area():
    rng = random.Random(4)
    for _ in range(50):
        box = random_resized_box(48, 64, (48, 64), (0.25, 0.5), rng)
        share = box.height * box.width / (48 * 64)
        assert 0.2 < share < 0.56
        assert 0 <= box.top <= 48 - box.height and 0 <= box.left <= 64 - box.width
    full = random_resized_box(48, 64, (48, 64), (1.0, 1.0), random.Random(0))
    assert (full.top, full.left, full.height, full.width) == (0, 0, 48, 64)


def test_same_box_on_every_frame():
    frame = frames(48, 64, t=1)
    video = frame.expand(3, 5, 48, 64).contiguous()
    box = random_resized_box(48, 64, (48, 64), (0.4, 0.6), random.Random(3))
    out = crop_to_size(video, box, (48, 64))
    assert not torch.equal(out, video)
    assert all(torch.equal(out[:, 0], out[:, t]) for t in range(5))


def test_a_box_only_cuts_frames_of_the_size_it_was_drawn_for():
    box = cover_crop_box(48, 85, (48, 64), random.Random(0))
    with pytest.raises(ValueError, match="drawn for 48×85 frames cannot cut 85×48"):
        crop_to_size(frames(85, 48), box, (48, 64))
