"""Tiny 2D-conv log-mel encoder that keeps frequency position (pitch, register)."""

from __future__ import annotations

from torch import Tensor, nn

from mmssl.models.registries import AUDIO_ENCODERS


def _block(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, stride=2, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


def _halved(size: int, times: int) -> int:
    """Length after ``times`` stride-2, kernel-3, padding-1 convolutions."""
    for _ in range(times):
        size = (size - 1) // 2 + 1
    return size


@AUDIO_ENCODERS.register("tiny_audio")
class TinyAudioEncoder(nn.Module):
    """BatchNorm on the input, three stride-2 Conv2d+BN+ReLU blocks, mean over time only.

    Input:  log-mel ``(B, 1, n_mels, frames)`` (frames≈101 for 1 s at a 10 ms hop).
    Output: ``(B, out_dim)`` with ``out_dim = 4 * width``; a linear map of the pooled
    features (no final ReLU, so a projection head sees signed features).

    Shapes for n_mels=40, frames=101 (C×F×T)::

        BatchNorm2d(1)           1 × 40 × 101   (per-dataset level/scale, no tuning)
        3×3 s2                   w × 20 × 51
        3×3 s2                  2w × 10 × 26
        3×3 s2                  4w ×  5 × 13
        mean over time          4w ×  5
        flatten, Linear        4w·5 -> 4w

    Frequency is *not* pooled: the flatten keeps which band each channel fired in, so the
    absolute register (big objects sound lower) stays visible. Pitch glides and loudness
    ramps are local time-frequency slopes that the 3×3 kernels pick up before the time pool.
    """

    def __init__(self, width: int = 32, n_mels: int = 40) -> None:
        super().__init__()
        w = width
        self.input_norm = nn.BatchNorm2d(1)
        self.features = nn.Sequential(_block(1, w), _block(w, 2 * w), _block(2 * w, 4 * w))
        self.out_dim = 4 * w
        self.proj = nn.Linear(4 * w * _halved(n_mels, 3), self.out_dim)

    def forward(self, mel: Tensor) -> Tensor:
        """``(B, 1, n_mels, frames)`` -> ``(B, out_dim)``."""
        x = self.features(self.input_norm(mel))  # (B, 4w, F', T')
        return self.proj(x.mean(dim=3).flatten(1))
