"""What a video tower takes: frames as the batch holds them (uint8), normalised on the
device of the model with the model's own settings (``model.video_mean``/``video_std``).

Keeping clips uint8 until they reach the device is four times less to stack, copy and
transfer than float32, and it lets a checkpoint carry its normalisation: MIL-NCE's released
S3D-G takes frames in [0, 1] (mean 0, std 1), torchvision's video models Kinetics
statistics, the demo's tiny encoders 0.45 / 0.225.
"""

from __future__ import annotations

import torch
from torch import Tensor


def normalize_video(video: Tensor, mean: Tensor, std: Tensor) -> Tensor:
    """(B, 3, T, H, W) uint8 → ``(x / 255 − mean_c) / std_c`` in the dtype of ``mean`` and
    ``std``, (3,) float tensors on the video's device (float32 unless the model was cast)."""
    if video.dtype != torch.uint8:
        raise TypeError(f"video clips enter a method as uint8 frames (B, 3, T, H, W), got "
                        f"{video.dtype}: the method normalises them itself")
    shape = (1, 3, 1, 1, 1)
    return video.to(mean.dtype).div_(255.0).sub_(mean.view(shape)).div_(std.view(shape))
