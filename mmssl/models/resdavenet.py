"""ResDavenet, AVLnet's audio network, with the parameter names of AVLnet's releases.

Rouditchenko et al., "AVLnet: Learning Audio-Visual Language Representations from
Instructional Videos", Interspeech 2021 (``model_davenet.py`` of its code, the ``DAVEnet.*``
weights of ``AVLnet_release.pth`` / ``AVLnet_Text_*_release.pth``); the residual successor
of Harwath et al.'s DAVEnet (``mmssl.models.davenet``).

On a log-mel spectrogram (B, 1, n_mels, T), widths w = (128, 128, 256, 512, 1024)::

    conv1 n_mels×1 (all mels at once), BN, ReLU   w₀ × 1 × T
    layer1..layer4: 2 residual blocks each, the first with stride 2
        block: conv 1×9 → BN → ReLU → conv 1×9 → BN, + shortcut (1×1 conv + BN where the
        shape changes), ReLU                       w₄ × 1 × T/16
    mean over time                                 w₄                (1024)

The mean is over every output frame in training (AVLnet averages padding too) and, when
``lengths`` (real input frames per row) are given, over the first ``max(1, ⌊len/r⌋)``
output frames only, r = round(T / T') (16 for long inputs) — AVLnet's evaluation, which
leaves out the zero padding of short clips. ``batchnorm1`` exists in the released
weights but AVLnet's forward never applies it; it is kept (unused, and frozen) so that
they load as they are.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from mmssl.models.checkpointing import run_stages
from mmssl.models.registries import AUDIO_ENCODERS

WIDTHS = (128, 128, 256, 512, 1024)
DEPTHS = (2, 2, 2, 2)
KERNEL = 9


class SpeechBasicBlock(nn.Module):
    """Two 1×k convolutions with BatchNorm and a residual connection."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int = 1) -> None:
        super().__init__()
        pad = (0, kernel // 2)
        self.conv1 = nn.Conv2d(c_in, c_out, (1, kernel), stride, pad, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(c_out, c_out, (1, kernel), 1, pad, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.downsample = None
        if stride != 1 or c_in != c_out:
            self.downsample = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False),
                                            nn.BatchNorm2d(c_out))

    def forward(self, x: Tensor) -> Tensor:
        residual = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(out)) + residual)


class ResDavenetEncoder(nn.Module):
    """Input ``(B, 1, n_mels, frames)`` log-mel; output ``(B, widths[-1])``."""

    def __init__(self, n_mels: int = 40, widths=WIDTHS, depths=DEPTHS, kernel: int = KERNEL,
                 gradient_checkpointing: bool = False) -> None:
        super().__init__()
        if len(widths) != 5 or len(depths) != 4:
            raise ValueError(f"ResDavenet takes 5 widths and 4 depths, got {widths}, {depths}")
        self.n_mels = n_mels
        self.batchnorm1 = nn.BatchNorm2d(1)  # in the released weights, unused (see above)
        self.batchnorm1.requires_grad_(False)
        self.conv1 = nn.Conv2d(1, widths[0], (n_mels, 1), bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU(inplace=True)
        c_in = widths[0]
        for index, (c_out, depth) in enumerate(zip(widths[1:], depths, strict=True), start=1):
            blocks = [SpeechBasicBlock(c_in if i == 0 else c_out, c_out, kernel,
                                       2 if i == 0 else 1) for i in range(depth)]
            setattr(self, f"layer{index}", nn.Sequential(*blocks))
            c_in = c_out
        self.out_dim = widths[-1]
        self.gradient_checkpointing = gradient_checkpointing

    def stem(self, mel: Tensor) -> Tensor:
        return self.relu(self.bn1(self.conv1(mel)))

    def forward(self, mel: Tensor, lengths: Tensor | None = None) -> Tensor:
        """``(B, 1, n_mels, frames)`` (and optional ``lengths`` (B,) real frames) ->
        ``(B, out_dim)``."""
        if mel.shape[2] != self.n_mels:
            raise ValueError(f"ResDavenet built for {self.n_mels} mels got input "
                             f"{tuple(mel.shape)}")
        stages = (self.stem, self.layer1, self.layer2, self.layer3, self.layer4)
        x = run_stages(stages, mel, self.gradient_checkpointing).squeeze(2)  # (B, C, T')
        if lengths is None:
            return x.mean(dim=2)
        ratio = round(mel.shape[3] / x.shape[2])  # AVLnet's pooling ratio, 16 for long inputs
        valid = (lengths.to(x.device) // ratio).clamp(min=1, max=x.shape[2])
        mask = torch.arange(x.shape[2], device=x.device)[None] < valid[:, None]
        return (x * mask[:, None]).sum(dim=2) / valid[:, None].to(x.dtype)


@AUDIO_ENCODERS.register("resdavenet")
def resdavenet(n_mels: int = 40, gradient_checkpointing: bool = False) -> ResDavenetEncoder:
    """ResDavenet as in AVLnet: 1024-d features, 40 mels in the released weights."""
    return ResDavenetEncoder(n_mels, gradient_checkpointing=gradient_checkpointing)


@AUDIO_ENCODERS.register("resdavenet_tiny")
def resdavenet_tiny(n_mels: int = 40, width: int = 8,
                    gradient_checkpointing: bool = False) -> ResDavenetEncoder:
    """ResDavenet's layout with one block per stage and widths ``width·(1, 1, 2, 4, 8)``."""
    if width < 1:
        raise ValueError(f"resdavenet_tiny: width must be >= 1, got {width}")
    widths = tuple(width * m for m in (1, 1, 2, 4, 8))
    return ResDavenetEncoder(n_mels, widths, (1, 1, 1, 1),
                             gradient_checkpointing=gradient_checkpointing)
