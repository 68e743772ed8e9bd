"""Spatial augmentation of a clip, for methods that compare two views of it."""

from __future__ import annotations

import math
import random

import torch
import torch.nn.functional as F


def random_resized_crop(video: torch.Tensor, scale: tuple[float, float],
                        rng: random.Random) -> torch.Tensor:
    """A random crop covering a fraction in ``scale`` of the frame area (same aspect ratio,
    same box on every frame), resized back: (C, T, H, W) → (C, T, H, W)."""
    channels, frames, height, width = video.shape
    side = math.sqrt(rng.uniform(*scale))
    crop_h, crop_w = max(1, round(height * side)), max(1, round(width * side))
    top, left = rng.randint(0, height - crop_h), rng.randint(0, width - crop_w)
    crop = video[:, :, top : top + crop_h, left : left + crop_w]
    resized = F.interpolate(crop.transpose(0, 1), size=(height, width), mode="bilinear",
                            align_corners=False)
    return resized.transpose(0, 1).contiguous()
