"""Spatial augmentation of a clip, for methods that compare two views of it.

A random resized crop is drawn and applied in two steps: :func:`random_crop_box` draws the
box from the frame size alone (so a training clip's plan can hold it before any frame is
decoded), :func:`resized_crop` cuts it out of the decoded frames.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class CropBox:
    """A box in a ``frame_height`` × ``frame_width`` frame, in pixels."""

    top: int
    left: int
    height: int
    width: int
    frame_height: int
    frame_width: int


def random_crop_box(height: int, width: int, scale: tuple[float, float],
                    rng: random.Random) -> CropBox:
    """A box covering a fraction ``s ~ U(scale)`` of the frame area with the frame's aspect
    ratio: sides ``max(1, round(H·√s))`` × ``max(1, round(W·√s))``, at a uniform position."""
    side = math.sqrt(rng.uniform(*scale))
    crop_h, crop_w = max(1, round(height * side)), max(1, round(width * side))
    top, left = rng.randint(0, height - crop_h), rng.randint(0, width - crop_w)
    return CropBox(top, left, crop_h, crop_w, height, width)


def resized_crop(video: torch.Tensor, box: CropBox) -> torch.Tensor:
    """``box`` cut out of every frame and resized back (bilinear): (C, T, H, W) → (C, T, H, W).
    The frames must have the size the box was drawn for."""
    height, width = video.shape[-2:]
    if (height, width) != (box.frame_height, box.frame_width):
        raise ValueError(f"a crop box drawn for {box.frame_height}×{box.frame_width} frames "
                         f"cannot cut {height}×{width} frames")
    crop = video[:, :, box.top : box.top + box.height, box.left : box.left + box.width]
    resized = F.interpolate(crop.transpose(0, 1), size=(height, width), mode="bilinear",
                            align_corners=False)
    return resized.transpose(0, 1).contiguous()
