"""S3D (MIL-NCE's video backbone) built from torchvision's S3D blocks, and a tiny variant.

Xie, Sun, Huang, Tu & Murphy, "Rethinking Spatiotemporal Feature Learning:
Speed-Accuracy Trade-offs in Video Classification", ECCV 2018 (S3D: Inception-v1 with
every 3×3×3 convolution separated into 1×3×3 then 3×1×1). Miech et al. (MIL-NCE,
CVPR 2020) train it from scratch on HowTo100M and take the 1024-d globally pooled
``mixed_5c`` output as the video feature; so do we.

The real network reproduces ``torchvision.models.video.s3d().features`` module by module
(so a torchvision S3D state dict loads, without ``classifier``); the tiny one keeps the
stem and one Inception block per stage, with every width scaled by ``width / 64``.
"""

from __future__ import annotations

from functools import partial

from torch import Tensor, nn
from torchvision.models.video.s3d import SepInceptionBlock3D, TemporalSeparableConv
from torchvision.ops.misc import Conv3dNormActivation

from mmssl.models.checkpointing import run_stages
from mmssl.models.registries import VIDEO_ENCODERS

# (b0_out, b1_mid, b1_out, b2_mid, b2_out, b3_out) per Inception block, by stage
# (mixed_3b-3c, mixed_4b-4f, mixed_5b-5c), as in the paper and torchvision.
INCEPTION_STAGES = (
    ((64, 96, 128, 16, 32, 32), (128, 128, 192, 32, 96, 64)),
    ((192, 96, 208, 16, 48, 64), (160, 112, 224, 24, 64, 64), (128, 128, 256, 24, 64, 64),
     (112, 144, 288, 32, 64, 64), (256, 160, 320, 32, 128, 128)),
    ((256, 160, 320, 32, 128, 128), (384, 192, 384, 48, 128, 128)),
)
# Max-pool (kernel, stride, padding) before each Inception stage.
STAGE_POOLS = (None, (3, 2, 1), (2, 2, 0))


def s3d_features(scale: float = 1.0, blocks_per_stage: int | None = None) -> nn.Sequential:
    """The S3D trunk ``(B, 3, T, H, W) -> (B, C, T/8, H/32, W/32)``.

    ``scale`` multiplies every width (1 = the paper's, C = 1024); ``blocks_per_stage``
    keeps only the first blocks of each Inception stage (None = all).
    """
    norm = partial(nn.BatchNorm3d, eps=0.001, momentum=0.001)

    def c(channels: int) -> int:
        return max(1, round(channels * scale))

    layers: list[nn.Module] = [
        TemporalSeparableConv(3, c(64), 7, 2, 3, norm),
        nn.MaxPool3d(kernel_size=(1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1)),
        Conv3dNormActivation(c(64), c(64), kernel_size=1, stride=1, norm_layer=norm),
        TemporalSeparableConv(c(64), c(192), 3, 1, 1, norm),
        nn.MaxPool3d(kernel_size=(1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1)),
    ]
    channels = c(192)
    for pool, blocks in zip(STAGE_POOLS, INCEPTION_STAGES, strict=True):
        if pool is not None:
            kernel, stride, padding = pool
            layers.append(nn.MaxPool3d(kernel, stride, padding))
        for spec in blocks[:blocks_per_stage]:
            b0, b1m, b1, b2m, b2, b3 = (c(x) for x in spec)
            layers.append(SepInceptionBlock3D(channels, b0, b1m, b1, b2m, b2, b3, norm))
            channels = b0 + b1 + b2 + b3
    trunk = nn.Sequential(*layers)
    trunk.out_channels = channels
    return trunk


class S3DEncoder(nn.Module):
    """S3D trunk, global average pool over (T, H, W).

    Input ``(B, 3, T, H, W)``; output ``(B, out_dim)``, ``out_dim = 1024`` for the real
    network. Overall stride 8 in time and 32 in space (MIL-NCE: 32×224×224 → 4×7×7).
    """

    def __init__(self, scale: float = 1.0, blocks_per_stage: int | None = None,
                 gradient_checkpointing: bool = False) -> None:
        super().__init__()
        self.features = s3d_features(scale, blocks_per_stage)
        self.out_dim = self.features.out_channels
        self.gradient_checkpointing = gradient_checkpointing

    def forward(self, video: Tensor) -> Tensor:
        """``(B, 3, T, H, W)`` -> ``(B, out_dim)``."""
        return run_stages(self.features, video, self.gradient_checkpointing).mean(dim=(2, 3, 4))


@VIDEO_ENCODERS.register("s3d")
def s3d(gradient_checkpointing: bool = False) -> S3DEncoder:
    """S3D as in MIL-NCE and torchvision, 1024-d features, 7.9M parameters."""
    return S3DEncoder(gradient_checkpointing=gradient_checkpointing)


@VIDEO_ENCODERS.register("s3d_tiny")
def s3d_tiny(width: int = 8, gradient_checkpointing: bool = False) -> S3DEncoder:
    """S3D with one Inception block per stage and widths scaled by ``width / 64``."""
    if width < 1:
        raise ValueError(f"s3d_tiny: width must be >= 1, got {width}")
    return S3DEncoder(width / 64, 1, gradient_checkpointing)
