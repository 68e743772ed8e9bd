"""ResNets on log-mel spectrograms (MMV's audio backbone was ResNet-50 on log-mel).

The spectrogram is a one-channel image ``(B, 1, n_mels, frames)``; the network is
torchvision's ResNet with a one-channel first convolution, globally average-pooled over
frequency and time. ImageNet state dicts load: their RGB first-layer kernels are summed
over the colour channels (:meth:`AudioResNetEncoder.adapt_state_dict`), the usual way to
start a grey-scale network from them.
"""

from __future__ import annotations

from torch import Tensor, nn
from torchvision.models.resnet import BasicBlock, Bottleneck

from mmssl.models.checkpointing import run_stages
from mmssl.models.registries import AUDIO_ENCODERS
from mmssl.models.scaled_resnets import ScaledResNet

REAL_WIDTHS = (64, 128, 256, 512)


class AudioResNetEncoder(nn.Module):
    """BatchNorm2d(1) on the log-mel (a learnt level and scale), then a 2D ResNet, then
    the mean over (F', T').

    Input ``(B, 1, n_mels, frames)``; output ``(B, out_dim)`` (512 for ResNet-18, 2048
    for ResNet-50). The stem and stages downsample by 32 in both axes: 40 mels × 101
    frames end at 2 × 4 before the pool.
    """

    def __init__(self, block, layers, widths=REAL_WIDTHS,
                 gradient_checkpointing: bool = False) -> None:
        super().__init__()
        self.input_norm = nn.BatchNorm2d(1)
        self.backbone = ScaledResNet(block, layers, widths, in_channels=1)
        self.out_dim = self.backbone.out_dim
        self.gradient_checkpointing = gradient_checkpointing

    def forward(self, mel: Tensor) -> Tensor:
        """``(B, 1, n_mels, frames)`` -> ``(B, out_dim)``."""
        b = self.backbone
        stem = nn.Sequential(self.input_norm, b.conv1, b.bn1, b.relu, b.maxpool)
        x = run_stages((stem, b.layer1, b.layer2, b.layer3, b.layer4), mel,
                       self.gradient_checkpointing)
        return x.mean(dim=(2, 3))

    @staticmethod
    def adapt_state_dict(state: dict) -> dict:
        """An RGB ``conv1.weight`` (out, 3, k, k) becomes (out, 1, k, k) by summing over
        the input channels (a grey image x·(1,1,1) gives the same response)."""
        weight = state.get("conv1.weight")
        if weight is not None and weight.ndim == 4 and weight.shape[1] == 3:
            state = {**state, "conv1.weight": weight.sum(dim=1, keepdim=True)}
        return state


@AUDIO_ENCODERS.register("audio_resnet18")
def audio_resnet18(gradient_checkpointing: bool = False) -> AudioResNetEncoder:
    """ResNet-18 on log-mel, 512-d features, 11.2M parameters."""
    return AudioResNetEncoder(BasicBlock, (2, 2, 2, 2),
                              gradient_checkpointing=gradient_checkpointing)


@AUDIO_ENCODERS.register("audio_resnet50")
def audio_resnet50(gradient_checkpointing: bool = False) -> AudioResNetEncoder:
    """ResNet-50 on log-mel (MMV's audio backbone), 2048-d features, 23.5M parameters."""
    return AudioResNetEncoder(Bottleneck, (3, 4, 6, 3),
                              gradient_checkpointing=gradient_checkpointing)


@AUDIO_ENCODERS.register("audio_resnet_tiny")
def audio_resnet_tiny(width: int = 8, gradient_checkpointing: bool = False
                      ) -> AudioResNetEncoder:
    """One BasicBlock per stage, widths ``width·(1, 2, 4, 8)``."""
    if width < 1:
        raise ValueError(f"audio_resnet_tiny: width must be >= 1, got {width}")
    return AudioResNetEncoder(BasicBlock, (1, 1, 1, 1), (width, 2 * width, 4 * width, 8 * width),
                              gradient_checkpointing)
