"""The temporal shift of TSM (Lin, Gan & Han, "TSM: Temporal Shift Module for Efficient
Video Understanding", ICCV 2019), used by MMV's TSM-ResNet video backbone."""

from __future__ import annotations

import torch
from torch import Tensor, nn


def temporal_shift(x: Tensor, frames: int, fold_div: int = 8) -> Tensor:
    """Shift a fraction of the channels by one frame along time.

    ``x`` is ``(B·T, C, H, W)`` with the T frames of each clip consecutive. With
    ``f = C // fold_div``::

        out[b, t, c]       = x[b, t+1, c]   for c <  f        (0 at t = T-1)
        out[b, t, c]       = x[b, t-1, c]   for f <= c < 2f   (0 at t = 0)
        out[b, t, c]       = x[b, t,   c]   otherwise

    so a 2D convolution after it mixes information from neighbouring frames at zero
    extra FLOPs.
    """
    total, channels, height, width = x.shape
    if total % frames:
        raise ValueError(f"temporal_shift: batch of {total} frames is not a multiple of "
                         f"{frames} frames per clip")
    clips = x.view(total // frames, frames, channels, height, width)
    fold = channels // fold_div
    out = torch.zeros_like(clips)
    out[:, :-1, :fold] = clips[:, 1:, :fold]
    out[:, 1:, fold:2 * fold] = clips[:, :-1, fold:2 * fold]
    out[:, :, 2 * fold:] = clips[:, :, 2 * fold:]
    return out.view(total, channels, height, width)


class TemporalShiftHook:
    """Forward pre-hook that shifts a module's input (TSM's *residual* shift when hooked
    onto the first convolution of a residual branch). ``frames`` is set by the encoder
    before each forward, since T can change between calls.

    A hook, not a wrapper module, so the hooked network keeps torchvision's parameter
    names and its ImageNet state dicts load unchanged.
    """

    def __init__(self, fold_div: int = 8) -> None:
        self.fold_div = fold_div
        self.frames = 1

    def __call__(self, module: nn.Module, args: tuple) -> tuple:
        return (temporal_shift(args[0], self.frames, self.fold_div), *args[1:])
