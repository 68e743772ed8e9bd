"""Tiny 3D-conv video encoder: cheap on CPU, sees colour, shape, size and motion direction."""

from __future__ import annotations

from torch import Tensor, nn

from mmssl.models.registries import VIDEO_ENCODERS


def _block(c_in: int, c_out: int, kernel, stride, padding) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv3d(c_in, c_out, kernel, stride=stride, padding=padding, bias=False),
        nn.BatchNorm3d(c_out),
        nn.ReLU(inplace=True),
    )


@VIDEO_ENCODERS.register("tiny3d")
class Tiny3DEncoder(nn.Module):
    """Four Conv3d+BN+ReLU blocks and a global average pool.

    Input:  ``(B, 3, T, H, W)`` float, already normalised (T≈8, H×W≈48×64).
    Output: ``(B, out_dim)`` with ``out_dim = 4 * width``.

    Shapes for a 3×8×48×64 clip (C×T×H×W), w = width::

        1×3×3 s(1,2,2)  -> w/2 × 8 × 24 × 32   spatial only: colour and edges
        3×3×3 s(1,2,2)  -> w   × 8 × 12 × 16   first temporal kernel, full frame rate
        3×3×3 s(2,2,2)  -> 4w  × 4 ×  6 ×  8
        3×3×3 s(2,1,1)  -> 4w  × 2 ×  6 ×  8
        mean over (T, H, W) -> 4w

    The stem is narrow because it runs at the highest resolution (it dominated the cost).
    Time is downsampled only after a temporal kernel has seen the full frame rate, and the
    spatial grid stops shrinking at 6×8, so the later 3×3×3 kernels still compare *where*
    an object is in neighbouring frames: the sign of the displacement (left/right/up/down)
    decides which channels fire, and that survives the global pool.
    """

    def __init__(self, width: int = 32) -> None:
        super().__init__()
        if width < 2:
            raise ValueError(f"Tiny3DEncoder: width must be >= 2, got {width}")
        w = width
        self.features = nn.Sequential(
            _block(3, w // 2, (1, 3, 3), (1, 2, 2), (0, 1, 1)),
            _block(w // 2, w, 3, (1, 2, 2), 1),
            _block(w, 4 * w, 3, (2, 2, 2), 1),
            _block(4 * w, 4 * w, 3, (2, 1, 1), 1),
        )
        self.out_dim = 4 * w

    def forward(self, video: Tensor) -> Tensor:
        """``(B, 3, T, H, W)`` -> ``(B, out_dim)``."""
        return self.features(video).mean(dim=(2, 3, 4))
