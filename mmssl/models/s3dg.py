"""S3D-G, MIL-NCE's released video network, with the parameter names of its weights.

Xie, Sun, Huang, Tu & Murphy, "Rethinking Spatiotemporal Feature Learning", ECCV 2018
(S3D-G: separable 3D Inception with feature gating); Miech, Alayrac, Smaira, Laptev, Sivic
& Zisserman, "End-to-End Learning of Visual Representations from Uncurated Instructional
Videos", CVPR 2020 (MIL-NCE), whose HowTo100M weights were released as the PyTorch port
``s3d_howto100m.pth``. Module names here are that port's, so its video weights load as
they are (everything but ``fc.*``, the projection into the joint space, which mmssl keeps
in the method's heads, and ``text_module.*``, the text tower).

What differs from torchvision's S3D (``mmssl.models.s3d``):

- **self-gating** after every Inception branch and after the stem's ``conv_2c``:
  ``x ← σ(W·mean_{t,h,w}(x) + b) ⊙ x`` per channel (:class:`SelfGating`);
- **TF "SAME" max-pooling** between stages: zero padding of ``max(k − s, 0)`` split
  ``⌊·/2⌋`` before and the rest after, then a ceil-mode pool (:class:`TFSamePool3d`);
  the inputs are post-ReLU (≥ 0), so zero padding never wins a max over real values;
- **space-to-depth stem** (the released weights, trained on TPUs): each 2×2×2 block of
  pixels becomes 8·3 = 24 channels, ``(B, 3, T, H, W) → (B, 24, T/2, H/2, W/2)`` with
  channel index ``(dt·4 + dh·2 + dw)·3 + c``, then a 2×4×4 convolution (stride 1,
  padding (1, 2, 2)) whose first row, column and frame are dropped — together the same
  receptive field and stride 2 as the plain stem's 3×7×7 stride-2 convolution
  (``s3dg_conv7``, what MIL-NCE's PyTorch training code builds).

Shapes for the released input, 32 frames of 224×224 in [0, 1] (mean 0, std 1)::

    space-to-depth + conv1 2×4×4        64 × 16 × 112 × 112
    maxpool_2a 1×3×3 /1,2,2             64 × 16 ×  56 ×  56
    conv_2b 1×1×1, conv_2c 3×3×3 sep.  192 × 16 ×  56 ×  56   then gating
    maxpool_3a 1×3×3 /1,2,2            192 × 16 ×  28 ×  28
    mixed_3b, mixed_3c                 480 × 16 ×  28 ×  28
    maxpool_4a 3×3×3 /2                480 ×  8 ×  14 ×  14
    mixed_4b … mixed_4f                832 ×  8 ×  14 ×  14
    maxpool_5a 2×2×2 /2                832 ×  4 ×   7 ×   7
    mixed_5b, mixed_5c                1024 ×  4 ×   7 ×   7
    mean over (T, H, W)               1024                    (the encoder's output)

BatchNorm keeps PyTorch's defaults (eps 1e-5), as the port that produced the weights.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from mmssl.models.checkpointing import run_stages
from mmssl.models.registries import VIDEO_ENCODERS
from mmssl.models.s3d import INCEPTION_STAGES

BLOCK_NAMES = (("mixed_3b", "mixed_3c"),
               ("mixed_4b", "mixed_4c", "mixed_4d", "mixed_4e", "mixed_4f"),
               ("mixed_5b", "mixed_5c"))


class STConv3d(nn.Module):
    """Conv3d → BatchNorm → ReLU; ``separable`` splits a k×k×k kernel into a 1×k×k spatial
    convolution (``conv1``/``bn1``) then a k×1×1 temporal one (``conv2``/``bn2``), each
    followed by BatchNorm and ReLU."""

    def __init__(self, c_in: int, c_out: int, kernel, stride=1, padding=0,
                 separable: bool = False) -> None:
        super().__init__()
        self.separable = separable
        if separable:
            k, p = kernel[0], padding
            self.conv1 = nn.Conv3d(c_in, c_out, (1, k, k), (1, stride, stride), (0, p, p),
                                   bias=False)
            self.bn1 = nn.BatchNorm3d(c_out)
            self.conv2 = nn.Conv3d(c_out, c_out, (k, 1, 1), (stride, 1, 1), (p, 0, 0),
                                   bias=False)
            self.bn2 = nn.BatchNorm3d(c_out)
        else:
            self.conv1 = nn.Conv3d(c_in, c_out, kernel, stride, padding, bias=False)
            self.bn1 = nn.BatchNorm3d(c_out)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        x = self.relu(self.bn1(self.conv1(x)))
        if self.separable:
            x = self.relu(self.bn2(self.conv2(x)))
        return x


class SelfGating(nn.Module):
    """``x · σ(fc(mean_{t,h,w} x))`` per channel: (B, C, T, H, W) → same shape."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.fc = nn.Linear(channels, channels)

    def forward(self, x: Tensor) -> Tensor:
        weights = self.fc(x.mean(dim=(2, 3, 4))).sigmoid()
        return x * weights[:, :, None, None, None]


class TFSamePool3d(nn.Module):
    """Max-pool with TensorFlow's "SAME" padding as the released port computes it: pad each
    of (T, H, W) with zeros, ``⌊(k − s)⁺/2⌋`` before and the rest after, then a ceil-mode
    max-pool with no padding of its own."""

    def __init__(self, kernel: tuple[int, int, int], stride: tuple[int, int, int]) -> None:
        super().__init__()
        pads = []
        for k, s in zip(reversed(kernel), reversed(stride), strict=True):  # W, H, T
            total = max(k - s, 0)
            pads += [total // 2, total - total // 2]
        self.pad = nn.ConstantPad3d(tuple(pads), 0.0)
        self.pool = nn.MaxPool3d(kernel, stride, ceil_mode=True)

    def forward(self, x: Tensor) -> Tensor:
        return self.pool(self.pad(x))


class GatedInceptionBlock(nn.Module):
    """Four branches — 1×1×1; 1×1×1 → separable 3×3×3; 1×1×1 → separable 3×3×3;
    3×3×3 max-pool → 1×1×1 — each self-gated, concatenated along channels."""

    def __init__(self, c_in: int, b0: int, b1_mid: int, b1: int, b2_mid: int, b2: int,
                 b3: int) -> None:
        super().__init__()
        self.conv_b0 = STConv3d(c_in, b0, (1, 1, 1))
        self.conv_b1_a = STConv3d(c_in, b1_mid, (1, 1, 1))
        self.conv_b1_b = STConv3d(b1_mid, b1, (3, 3, 3), padding=1, separable=True)
        self.conv_b2_a = STConv3d(c_in, b2_mid, (1, 1, 1))
        self.conv_b2_b = STConv3d(b2_mid, b2, (3, 3, 3), padding=1, separable=True)
        self.maxpool_b3 = nn.MaxPool3d(3, stride=1, padding=1)
        self.conv_b3_b = STConv3d(c_in, b3, (1, 1, 1))
        self.gating_b0, self.gating_b1 = SelfGating(b0), SelfGating(b1)
        self.gating_b2, self.gating_b3 = SelfGating(b2), SelfGating(b3)
        self.out_channels = b0 + b1 + b2 + b3

    def forward(self, x: Tensor) -> Tensor:
        b0 = self.gating_b0(self.conv_b0(x))
        b1 = self.gating_b1(self.conv_b1_b(self.conv_b1_a(x)))
        b2 = self.gating_b2(self.conv_b2_b(self.conv_b2_a(x)))
        b3 = self.gating_b3(self.conv_b3_b(self.maxpool_b3(x)))
        return torch.cat((b0, b1, b2, b3), dim=1)


def space_to_depth(video: Tensor) -> Tensor:
    """(B, C, T, H, W) → (B, 8C, T/2, H/2, W/2), channel ``(dt·4 + dh·2 + dw)·C + c``."""
    b, c, t, h, w = video.shape
    if t % 2 or h % 2 or w % 2:
        raise ValueError(f"S3D-G's space-to-depth stem needs an even number of frames, "
                         f"height and width, got {tuple(video.shape)}")
    x = video.view(b, c, t // 2, 2, h // 2, 2, w // 2, 2).permute(0, 3, 5, 7, 1, 2, 4, 6)
    return x.reshape(b, 8 * c, t // 2, h // 2, w // 2)


class S3DGEncoder(nn.Module):
    """S3D-G trunk, global average pool over (T, H, W) (see the module docstring).

    Input ``(B, 3, T, H, W)``; output ``(B, out_dim)``, 1024 at full width (``mixed_5c``).
    ``scale`` multiplies every width (the tiny variant); ``space_to_depth`` picks the stem.
    """

    def __init__(self, space_to_depth: bool = True, scale: float = 1.0,
                 gradient_checkpointing: bool = False) -> None:
        super().__init__()

        def c(channels: int) -> int:
            return max(1, round(channels * scale))

        self.space_to_depth = space_to_depth
        if space_to_depth:
            self.conv1 = STConv3d(24, c(64), (2, 4, 4), stride=1, padding=(1, 2, 2))
        else:
            self.conv1 = STConv3d(3, c(64), (3, 7, 7), stride=2, padding=(1, 3, 3))
        self.conv_2b = STConv3d(c(64), c(64), (1, 1, 1))
        self.conv_2c = STConv3d(c(64), c(192), (3, 3, 3), padding=1, separable=True)
        self.gating = SelfGating(c(192))
        self.maxpool_2a = TFSamePool3d((1, 3, 3), (1, 2, 2))
        self.maxpool_3a = TFSamePool3d((1, 3, 3), (1, 2, 2))
        self.maxpool_4a = TFSamePool3d((3, 3, 3), (2, 2, 2))
        self.maxpool_5a = TFSamePool3d((2, 2, 2), (2, 2, 2))
        channels = c(192)
        for names, specs in zip(BLOCK_NAMES, INCEPTION_STAGES, strict=True):
            for name, spec in zip(names, specs, strict=True):
                block = GatedInceptionBlock(channels, *(c(x) for x in spec))
                setattr(self, name, block)
                channels = block.out_channels
        self.out_dim = channels
        self.gradient_checkpointing = gradient_checkpointing

    def stem(self, video: Tensor) -> Tensor:
        """Input → after ``maxpool_2a`` (the first convolution and its pool)."""
        if self.space_to_depth:
            # The 2×4×4 kernel with padding (1, 2, 2) reproduces TF's "SAME" padding once
            # the first frame, row and column of its output are dropped.
            x = self.conv1(space_to_depth(video))[:, :, 1:, 1:, 1:]
        else:
            x = self.conv1(video)
        return self.maxpool_2a(x)

    def stages(self) -> list:
        """The network as a sequence of callables (the units of gradient checkpointing)."""
        blocks = [getattr(self, name) for names in BLOCK_NAMES for name in names]
        return [self.stem, self.conv_2b, self.conv_2c, self.gating, self.maxpool_3a,
                *blocks[:2], self.maxpool_4a, *blocks[2:7], self.maxpool_5a, *blocks[7:]]

    def forward(self, video: Tensor) -> Tensor:
        """``(B, 3, T, H, W)`` -> ``(B, out_dim)``."""
        x = run_stages(self.stages(), video, self.gradient_checkpointing)
        return x.mean(dim=(2, 3, 4))


@VIDEO_ENCODERS.register("s3dg")
def s3dg(gradient_checkpointing: bool = False) -> S3DGEncoder:
    """S3D-G with the space-to-depth stem: MIL-NCE's released HowTo100M network
    (``s3d_howto100m.pth``), 1024-d features, 9.1M parameters (the gates add 1.2M to
    S3D's)."""
    return S3DGEncoder(True, gradient_checkpointing=gradient_checkpointing)


@VIDEO_ENCODERS.register("s3dg_conv7")
def s3dg_conv7(gradient_checkpointing: bool = False) -> S3DGEncoder:
    """S3D-G with the plain 3×7×7 stride-2 stem (MIL-NCE's PyTorch training code)."""
    return S3DGEncoder(False, gradient_checkpointing=gradient_checkpointing)


@VIDEO_ENCODERS.register("s3dg_tiny")
def s3dg_tiny(width: int = 8, gradient_checkpointing: bool = False) -> S3DGEncoder:
    """S3D-G's layout (space-to-depth stem, every block) with widths scaled by
    ``width / 64``."""
    if width < 1:
        raise ValueError(f"s3dg_tiny: width must be >= 1, got {width}")
    return S3DGEncoder(True, width / 64, gradient_checkpointing)
