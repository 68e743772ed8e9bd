"""Video through a 2D ResNet applied to every frame: TSM-ResNet (MMV's video backbone)
and the plain frame-wise baseline, each averaged over time.

Alayrac et al., "Self-Supervised MultiModal Versatile Networks", NeurIPS 2020 (MMV):
TSM-ResNet50 (and its ×2 wider version) on 32 frames at 200×200. Lin et al., ICCV 2019
(TSM): a temporal shift (:func:`~mmssl.models.temporal_shift.temporal_shift`) at the
start of every residual branch turns a 2D ResNet into a spatio-temporal network.
"""

from __future__ import annotations

from torch import Tensor, nn
from torchvision.models.resnet import BasicBlock, Bottleneck

from mmssl.models.checkpointing import run_stages
from mmssl.models.registries import VIDEO_ENCODERS
from mmssl.models.scaled_resnets import ScaledResNet
from mmssl.models.temporal_shift import TemporalShiftHook

RESNET50 = (Bottleneck, (3, 4, 6, 3), (64, 128, 256, 512))


class FrameResNetEncoder(nn.Module):
    """Input ``(B, 3, T, H, W)``: frames ``(B·T, 3, H, W)`` → 2D ResNet → average over
    (H', W') and then over T → ``(B, out_dim)`` (2048 for ResNet-50).

    ``temporal_shift=True`` makes it TSM (1/8 of the channels shifted forward and 1/8
    backward in time before each block's first convolution); without it the frames never
    see each other until the final average. Module names match
    ``torchvision.models.resnet*`` without ``fc``.
    """

    def __init__(self, block, layers, widths, temporal_shift: bool,
                 gradient_checkpointing: bool = False) -> None:
        super().__init__()
        self.backbone = ScaledResNet(block, layers, widths)
        self.out_dim = self.backbone.out_dim
        self.gradient_checkpointing = gradient_checkpointing
        self.shifts: list[TemporalShiftHook] = []
        if temporal_shift:
            for stage in (self.backbone.layer1, self.backbone.layer2, self.backbone.layer3,
                          self.backbone.layer4):
                for residual_block in stage:
                    hook = TemporalShiftHook()
                    residual_block.conv1.register_forward_pre_hook(hook)
                    self.shifts.append(hook)

    def forward(self, video: Tensor) -> Tensor:
        """``(B, 3, T, H, W)`` -> ``(B, out_dim)``."""
        batch, channels, frames, height, width = video.shape
        for hook in self.shifts:
            hook.frames = frames
        x = video.transpose(1, 2).reshape(batch * frames, channels, height, width)
        b = self.backbone
        stem = nn.Sequential(b.conv1, b.bn1, b.relu, b.maxpool)
        x = run_stages((stem, b.layer1, b.layer2, b.layer3, b.layer4), x,
                       self.gradient_checkpointing)
        return x.mean(dim=(2, 3)).view(batch, frames, -1).mean(dim=1)


def _tiny(width: int, temporal_shift: bool, gradient_checkpointing: bool):
    if width < 1:
        raise ValueError(f"tiny frame ResNet: width must be >= 1, got {width}")
    widths = (width, 2 * width, 4 * width, 8 * width)
    return FrameResNetEncoder(BasicBlock, (1, 1, 1, 1), widths, temporal_shift,
                              gradient_checkpointing)


@VIDEO_ENCODERS.register("tsm_resnet50")
def tsm_resnet50(gradient_checkpointing: bool = False) -> FrameResNetEncoder:
    """TSM-ResNet50 (MMV), 2048-d features, 23.5M parameters."""
    return FrameResNetEncoder(*RESNET50, temporal_shift=True,
                              gradient_checkpointing=gradient_checkpointing)


@VIDEO_ENCODERS.register("framewise_resnet50")
def framewise_resnet50(gradient_checkpointing: bool = False) -> FrameResNetEncoder:
    """ResNet-50 on each frame, averaged over time, 2048-d features."""
    return FrameResNetEncoder(*RESNET50, temporal_shift=False,
                              gradient_checkpointing=gradient_checkpointing)


@VIDEO_ENCODERS.register("tsm_tiny")
def tsm_tiny(width: int = 8, gradient_checkpointing: bool = False) -> FrameResNetEncoder:
    """TSM on a ResNet with one BasicBlock per stage, widths ``width·(1, 2, 4, 8)``."""
    return _tiny(width, True, gradient_checkpointing)


@VIDEO_ENCODERS.register("framewise_tiny")
def framewise_tiny(width: int = 8, gradient_checkpointing: bool = False) -> FrameResNetEncoder:
    """The same tiny ResNet per frame without the shift, averaged over time."""
    return _tiny(width, False, gradient_checkpointing)
