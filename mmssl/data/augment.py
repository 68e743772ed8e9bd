"""Where a clip's pixels come from: fixed-size crops of frames of any size.

Every clip of a batch is ``size = (height, width)`` pixels, whatever the aspect ratio or
the prepared size of its source (16:9, 4:3, vertical phone video, shards prepared at other
settings). A crop is decided in two steps: a :class:`CropBox` is drawn from the frame size
alone (so a training clip's plan can hold it before any frame is decoded), then
:func:`crop_to_size` cuts it out of the decoded frames and scales it to ``size``.

Boxes, for an ``H × W`` frame and an output of ``h × w``:

- :func:`cover_crop_box` (training): the frame scaled by ``s = max(h / H, w / W)`` covers
  the output (aspect kept; MIL-NCE's loader resizes the short side to the crop, then crops),
  so the box is ``h / s × w / s`` source pixels at a uniform random position;
- :func:`center_crop_box` (evaluation, export): the same box in the centre;
- :func:`random_resized_box` (the second view of SimCLR/BYOL): a fraction ``a ~ U(scale)``
  of the frame area with the *output's* aspect ratio, at a uniform position.

A box that is the whole frame at the output size is used as it is (no resampling): clips of
sources prepared at the batch's size are the decoded pixels themselves, and a box with no
room to move draws no random number.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

import torch
from torchvision.transforms.v2 import functional as TF

from mmssl.media.reader import expect_frame_size


@dataclass(frozen=True)
class CropBox:
    """A box in a ``frame_height`` × ``frame_width`` frame, in pixels."""

    top: int
    left: int
    height: int
    width: int
    frame_height: int
    frame_width: int


def _box(frame_h: int, frame_w: int, crop_h: int, crop_w: int, rng: random.Random | None
         ) -> CropBox:
    """The ``crop_h × crop_w`` box at a random position (``rng``) or in the centre (None);
    no draw where the box spans the frame."""
    room_h, room_w = frame_h - crop_h, frame_w - crop_w
    if rng is None:
        top, left = room_h // 2, room_w // 2
    else:
        top = rng.randint(0, room_h) if room_h else 0
        left = rng.randint(0, room_w) if room_w else 0
    return CropBox(top, left, crop_h, crop_w, frame_h, frame_w)


def _cover(frame_h: int, frame_w: int, size: tuple[int, int]) -> tuple[int, int]:
    """Height and width of the source box that scales to ``size`` when the frame, scaled
    by s = max(h / H, w / W), covers it: (h / s, w / s), rounded, within the frame."""
    out_h, out_w = size
    inverse = min(frame_h / out_h, frame_w / out_w)  # 1 / s
    return (min(frame_h, max(1, round(out_h * inverse))),
            min(frame_w, max(1, round(out_w * inverse))))


def cover_crop_box(frame_h: int, frame_w: int, size: tuple[int, int],
                   rng: random.Random) -> CropBox:
    """The box that, scaled to cover ``size``, fills it; at a random position."""
    return _box(frame_h, frame_w, *_cover(frame_h, frame_w, size), rng)


def center_crop_box(frame_h: int, frame_w: int, size: tuple[int, int]) -> CropBox:
    """The box that, scaled to cover ``size``, fills it; in the centre."""
    return _box(frame_h, frame_w, *_cover(frame_h, frame_w, size), None)


def random_resized_box(frame_h: int, frame_w: int, size: tuple[int, int],
                       scale: tuple[float, float], rng: random.Random) -> CropBox:
    """A box of a fraction ``a ~ U(scale)`` of the largest ``size``-shaped box the frame
    holds, at a uniform position (SimCLR's random resized crop, aspect fixed to ``size``)."""
    full_h, full_w = _cover(frame_h, frame_w, size)
    side = math.sqrt(rng.uniform(*scale))
    crop_h, crop_w = max(1, round(full_h * side)), max(1, round(full_w * side))
    top, left = rng.randint(0, frame_h - crop_h), rng.randint(0, frame_w - crop_w)
    return CropBox(top, left, crop_h, crop_w, frame_h, frame_w)


def training_crops(frame_h: int, frame_w: int, size: tuple[int, int], views: int,
                   scale: tuple[float, float], rng: random.Random) -> tuple[CropBox, ...]:
    """A training clip's crop box per view: one :func:`cover_crop_box` for one view; two
    :func:`random_resized_box` (each its own scale and place) for two views."""
    if views == 2:
        return (random_resized_box(frame_h, frame_w, size, scale, rng),
                random_resized_box(frame_h, frame_w, size, scale, rng))
    return (cover_crop_box(frame_h, frame_w, size, rng),)


def check_frame_size(box: CropBox, height: int, width: int) -> None:
    """A :class:`ValueError` unless the frames are the size ``box`` was drawn for."""
    expect_frame_size((box.frame_height, box.frame_width), (height, width))


def is_plain_cut(box: CropBox, size: tuple[int, int]) -> bool:
    """Whether ``box`` is already the output size (cut out, nothing resampled)."""
    return (box.height, box.width) == tuple(size)


def crop_to_size(video: torch.Tensor, box: CropBox, size: tuple[int, int]) -> torch.Tensor:
    """``box`` cut out of every frame and scaled to ``size`` (bilinear, antialiased):
    (C, T, H, W) uint8 → (C, T, h, w) uint8. The frames must have the size the box was
    drawn for (a :class:`ValueError` otherwise)."""
    check_frame_size(box, *video.shape[-2:])
    crop = video[:, :, box.top : box.top + box.height, box.left : box.left + box.width]
    if is_plain_cut(box, size):
        return crop.contiguous()
    resized = TF.resize(crop.transpose(0, 1), list(size), antialias=True)
    return resized.transpose(0, 1).contiguous()
