"""DAVEnet, Harwath et al.'s spoken-audio CNN (2018).

Harwath, Recasens, Surís, Chuang, Torralba & Glass, "Jointly Discovering Visual Objects
and Spoken Words from Raw Sensory Input", ECCV 2018 (DAVEnet, on 40-mel spectrograms,
25 ms window, 10 ms hop). AVLnet's audio network is its residual successor, ResDavenet
(``mmssl.models.resdavenet``), whose released weights load there, not here.

Layers (C×F×T, w = ``width``, 128 in the paper)::

    BatchNorm2d(1)                                1 × n_mels × T
    conv n_mels×1 (all mels at once) + ReLU       w  × 1 × T
    conv 1×11 + ReLU, maxpool 1×3 stride 2       2w  × 1 × T/2
    conv 1×17 + ReLU, maxpool 1×3 stride 2       4w  × 1 × T/4
    conv 1×17 + ReLU, maxpool 1×3 stride 2       4w  × 1 × T/8
    conv 1×17 + ReLU                             8w  × 1 × T/8
    max over time                                8w                 (1024 in the paper)

so after the first layer it is a 1D CNN over time with a receptive field of ~1.6 s at a
10 ms hop; the final max over time pools the frames into one vector.
"""

from __future__ import annotations

from torch import Tensor, nn

from mmssl.models.checkpointing import run_stages
from mmssl.models.registries import AUDIO_ENCODERS


def _conv_relu(c_in: int, c_out: int, kernel: tuple[int, int]) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, kernel, padding=(0, kernel[1] // 2)), nn.ReLU(inplace=True)]


def _pool() -> nn.Module:
    return nn.MaxPool2d((1, 3), stride=(1, 2), padding=(0, 1))


class DAVEnetEncoder(nn.Module):
    """Input ``(B, 1, n_mels, frames)``; output ``(B, 8 · width)``."""

    def __init__(self, n_mels: int = 40, width: int = 128,
                 gradient_checkpointing: bool = False) -> None:
        super().__init__()
        if width < 1:
            raise ValueError(f"DAVEnet: width must be >= 1, got {width}")
        w = width
        self.stages = nn.ModuleList([
            nn.Sequential(nn.BatchNorm2d(1), *_conv_relu(1, w, (n_mels, 1)),
                          *_conv_relu(w, 2 * w, (1, 11)), _pool()),
            nn.Sequential(*_conv_relu(2 * w, 4 * w, (1, 17)), _pool()),
            nn.Sequential(*_conv_relu(4 * w, 4 * w, (1, 17)), _pool()),
            nn.Sequential(*_conv_relu(4 * w, 8 * w, (1, 17))),
        ])
        self.n_mels = n_mels
        self.out_dim = 8 * w
        self.gradient_checkpointing = gradient_checkpointing

    def forward(self, mel: Tensor) -> Tensor:
        """``(B, 1, n_mels, frames)`` -> ``(B, out_dim)``."""
        if mel.shape[2] != self.n_mels:
            raise ValueError(f"DAVEnet built for {self.n_mels} mels got input {tuple(mel.shape)}")
        x = run_stages(self.stages, mel, self.gradient_checkpointing)  # (B, 8w, 1, T')
        return x.amax(dim=(2, 3))


@AUDIO_ENCODERS.register("davenet")
def davenet(n_mels: int = 40, gradient_checkpointing: bool = False) -> DAVEnetEncoder:
    """DAVEnet (Harwath et al. 2018): 1024-d features, 16.0M parameters at 40 mels."""
    return DAVEnetEncoder(n_mels, 128, gradient_checkpointing)


@AUDIO_ENCODERS.register("davenet_tiny")
def davenet_tiny(n_mels: int = 40, width: int = 8,
                 gradient_checkpointing: bool = False) -> DAVEnetEncoder:
    """DAVEnet's layers with ``width`` channels in the first layer instead of 128."""
    return DAVEnetEncoder(n_mels, width, gradient_checkpointing)
