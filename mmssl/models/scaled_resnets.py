"""torchvision's ResNet (2D) and VideoResNet (3D) at any stage widths.

torchvision fixes the widths at 64-128-256-512. The tiny variants used in tests and CPU
demos keep the exact block structure, module names and initialisation of the real
networks and only scale the channels, so a tiny and a real encoder run the same code.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn
from torchvision.models.resnet import ResNet
from torchvision.models.video.resnet import VideoResNet


class ScaledResNet(ResNet):
    """2D ResNet with stage widths ``widths`` and ``in_channels`` input channels.

    Same modules as ``torchvision.models.resnet{18,50}`` (``conv1, bn1, relu, maxpool,
    layer1..4``) without the classifier; ``out_dim = widths[-1] * block.expansion``.
    """

    def __init__(self, block, layers: Sequence[int], widths: Sequence[int],
                 in_channels: int = 3) -> None:
        nn.Module.__init__(self)
        self._norm_layer = nn.BatchNorm2d
        self.inplanes, self.dilation, self.groups, self.base_width = widths[0], 1, 1, 64
        self.conv1 = nn.Conv2d(in_channels, widths[0], 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, widths[0], layers[0])
        self.layer2 = self._make_layer(block, widths[1], layers[1], stride=2)
        self.layer3 = self._make_layer(block, widths[2], layers[2], stride=2)
        self.layer4 = self._make_layer(block, widths[3], layers[3], stride=2)
        self.out_dim = widths[3] * block.expansion
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")


class ScaledVideoResNet(VideoResNet):
    """3D ResNet (R3D / MC3 / R(2+1)D layouts) with stage widths ``widths``.

    ``stem`` is ``"basic"`` (3×7×7 conv) or ``"r2plus1d"`` (1×7×7 then 3×1×1, with
    ``45/64`` of the width in between, as torchvision's). Module names match
    ``torchvision.models.video.r3d_18`` etc. without ``fc``.
    """

    def __init__(self, block, conv_makers, layers: Sequence[int], widths: Sequence[int],
                 stem: str = "basic") -> None:
        nn.Module.__init__(self)
        self.inplanes = widths[0]
        self.stem = _video_stem(stem, widths[0])
        strides = (1, 2, 2, 2)
        for i in range(4):
            setattr(self, f"layer{i + 1}", self._make_layer(block, conv_makers[i], widths[i],
                                                            layers[i], stride=strides[i]))
        self.out_dim = widths[3] * block.expansion
        for module in self.modules():
            if isinstance(module, nn.Conv3d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")


def _video_stem(kind: str, width: int) -> nn.Sequential:
    if kind == "basic":
        return nn.Sequential(
            nn.Conv3d(3, width, (3, 7, 7), stride=(1, 2, 2), padding=(1, 3, 3), bias=False),
            nn.BatchNorm3d(width), nn.ReLU(inplace=True))
    if kind == "r2plus1d":
        mid = max(1, width * 45 // 64)
        return nn.Sequential(
            nn.Conv3d(3, mid, (1, 7, 7), stride=(1, 2, 2), padding=(0, 3, 3), bias=False),
            nn.BatchNorm3d(mid), nn.ReLU(inplace=True),
            nn.Conv3d(mid, width, (3, 1, 1), padding=(1, 0, 0), bias=False),
            nn.BatchNorm3d(width), nn.ReLU(inplace=True))
    raise ValueError(f"unknown video stem {kind!r}; known: basic, r2plus1d")
