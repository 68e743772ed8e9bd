"""3D ResNets from torchvision's video models: R3D-18, MC3-18 and R(2+1)D-18, plus tiny
variants with the same layouts at a fraction of the width.

Tran et al., "A Closer Look at Spatiotemporal Convolutions for Action Recognition",
CVPR 2018: R3D uses 3×3×3 convolutions throughout; MC3 ("mixed convolutions") uses them
in the first stage only and 1×3×3 after; R(2+1)D factorises each 3×3×3 convolution into
a 1×3×3 spatial and a 3×1×1 temporal one with M_i = ⌊3·3·3·N_{i-1}·N_i /
(3·3·N_{i-1} + 3·N_i)⌋ channels in between (same parameter count as the 3D kernel).

Module names match ``torchvision.models.video.{r3d_18, mc3_18, r2plus1d_18}`` (without
``fc``), so their Kinetics state dicts load as they are (see :mod:`mmssl.models.weights`).
"""

from __future__ import annotations

from torch import Tensor, nn
from torchvision.models.video.resnet import (
    BasicBlock,
    Conv2Plus1D,
    Conv3DNoTemporal,
    Conv3DSimple,
)

from mmssl.models.checkpointing import run_stages
from mmssl.models.registries import VIDEO_ENCODERS
from mmssl.models.scaled_resnets import ScaledVideoResNet

LAYOUTS = {
    "r3d": ([Conv3DSimple] * 4, "basic"),
    "mc3": ([Conv3DSimple] + [Conv3DNoTemporal] * 3, "basic"),
    "r2plus1d": ([Conv2Plus1D] * 4, "r2plus1d"),
}
REAL_WIDTHS = (64, 128, 256, 512)


class VideoResNetEncoder(nn.Module):
    """A 3D ResNet, global average pool over (T, H, W).

    Input ``(B, 3, T, H, W)``; output ``(B, out_dim)`` with ``out_dim = widths[3]``
    (512 for the real networks). The stem and ``layer2..4`` halve H and W (the stem
    by stride 2, each later stage by 2; R3D/R(2+1)D also halve T in ``layer2..4``, MC3
    never does), so a 16×112×112 clip ends at 2×7×7 (R3D) before the pool.
    """

    def __init__(self, layout: str, layers=(2, 2, 2, 2), widths=REAL_WIDTHS,
                 gradient_checkpointing: bool = False) -> None:
        super().__init__()
        conv_makers, stem = LAYOUTS[layout]
        self.backbone = ScaledVideoResNet(BasicBlock, conv_makers, layers, widths, stem)
        self.out_dim = self.backbone.out_dim
        self.gradient_checkpointing = gradient_checkpointing

    def forward(self, video: Tensor) -> Tensor:
        """``(B, 3, T, H, W)`` -> ``(B, out_dim)``."""
        b = self.backbone
        stages = (b.stem, b.layer1, b.layer2, b.layer3, b.layer4)
        return run_stages(stages, video, self.gradient_checkpointing).mean(dim=(2, 3, 4))


def _tiny_widths(width: int) -> tuple[int, ...]:
    if width < 1:
        raise ValueError(f"tiny video ResNet: width must be >= 1, got {width}")
    return (width, 2 * width, 4 * width, 8 * width)


@VIDEO_ENCODERS.register("r3d_18")
def r3d_18(gradient_checkpointing: bool = False) -> VideoResNetEncoder:
    """R3D-18 (torchvision ``r3d_18``), 512-d features, 33.2M parameters."""
    return VideoResNetEncoder("r3d", gradient_checkpointing=gradient_checkpointing)


@VIDEO_ENCODERS.register("mc3_18")
def mc3_18(gradient_checkpointing: bool = False) -> VideoResNetEncoder:
    """MC3-18 (torchvision ``mc3_18``), 512-d features, 11.5M parameters."""
    return VideoResNetEncoder("mc3", gradient_checkpointing=gradient_checkpointing)


@VIDEO_ENCODERS.register("r2plus1d_18")
def r2plus1d_18(gradient_checkpointing: bool = False) -> VideoResNetEncoder:
    """R(2+1)D-18 (torchvision ``r2plus1d_18``), 512-d features, 31.3M parameters."""
    return VideoResNetEncoder("r2plus1d", gradient_checkpointing=gradient_checkpointing)


@VIDEO_ENCODERS.register("r3d_tiny")
def r3d_tiny(width: int = 8, gradient_checkpointing: bool = False) -> VideoResNetEncoder:
    """R3D layout, one block per stage, widths ``width·(1, 2, 4, 8)``."""
    return VideoResNetEncoder("r3d", (1, 1, 1, 1), _tiny_widths(width), gradient_checkpointing)


@VIDEO_ENCODERS.register("mc3_tiny")
def mc3_tiny(width: int = 8, gradient_checkpointing: bool = False) -> VideoResNetEncoder:
    """MC3 layout, one block per stage, widths ``width·(1, 2, 4, 8)``."""
    return VideoResNetEncoder("mc3", (1, 1, 1, 1), _tiny_widths(width), gradient_checkpointing)


@VIDEO_ENCODERS.register("r2plus1d_tiny")
def r2plus1d_tiny(width: int = 8, gradient_checkpointing: bool = False) -> VideoResNetEncoder:
    """R(2+1)D layout, one block per stage, widths ``width·(1, 2, 4, 8)``."""
    return VideoResNetEncoder("r2plus1d", (1, 1, 1, 1), _tiny_widths(width),
                              gradient_checkpointing)
