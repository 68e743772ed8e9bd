"""A small transformer on log-mel patches (in the spirit of AST, Gong, Chung & Glass,
"AST: Audio Spectrogram Transformer", Interspeech 2021, at a size that trains from scratch).

The spectrogram is cut into non-overlapping ``patch_mels × patch_frames`` patches; each
patch is linearly embedded, gets a learnt embedding of its frequency band plus a
sinusoidal embedding of its time index (so any clip length works), and the sequence goes
through pre-norm transformer layers. Features are the final LayerNorm's output averaged
over all patches::

    x ∈ R^{B×1×F×T} → patches P ∈ R^{B×(F/pf · ⌈T/pt⌉)×D}
    z_0 = P + E_freq[band] + sin/cos(time index)
    z_l = TransformerLayer(z_{l-1}),  out = mean_n LayerNorm(z_L)[n]   (B, D)
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mmssl.models.checkpointing import run_stages
from mmssl.models.registries import AUDIO_ENCODERS


def sinusoidal_positions(length: int, dim: int, device=None) -> Tensor:
    """``(length, dim)``: PE[p, 2i] = sin(p / 10000^(2i/dim)), PE[p, 2i+1] = cos(...)."""
    position = torch.arange(length, device=device, dtype=torch.float32)[:, None]
    rate = torch.exp(torch.arange(0, dim, 2, device=device, dtype=torch.float32)
                     * (-math.log(10000.0) / dim))
    table = torch.zeros(length, dim, device=device)
    table[:, 0::2] = torch.sin(position * rate)
    table[:, 1::2] = torch.cos(position * rate[: dim // 2])
    return table


class AudioTransformerEncoder(nn.Module):
    """Input ``(B, 1, n_mels, frames)``; output ``(B, dim)``.

    ``n_mels`` must be a multiple of ``patch_mels``; ``frames`` is right-padded (after the
    input BatchNorm, with zeros) to a multiple of ``patch_frames``.
    """

    def __init__(self, n_mels: int = 40, dim: int = 256, depth: int = 4, heads: int = 4,
                 patch_mels: int = 8, patch_frames: int = 4, dropout: float = 0.0,
                 gradient_checkpointing: bool = False) -> None:
        super().__init__()
        if n_mels % patch_mels:
            raise ValueError(f"audio transformer: n_mels={n_mels} is not a multiple of "
                             f"patch_mels={patch_mels}")
        if dim % heads or dim % 2:
            raise ValueError(f"audio transformer: dim={dim} must be even and a multiple of "
                             f"heads={heads}")
        self.n_mels, self.patch_frames = n_mels, patch_frames
        self.input_norm = nn.BatchNorm2d(1)
        self.patch = nn.Conv2d(1, dim, (patch_mels, patch_frames), stride=(patch_mels,
                                                                            patch_frames))
        self.band = nn.Parameter(torch.randn(n_mels // patch_mels, dim) * 0.02)
        self.layers = nn.ModuleList(
            nn.TransformerEncoderLayer(dim, heads, 4 * dim, dropout, activation="gelu",
                                       batch_first=True, norm_first=True)
            for _ in range(depth))
        self.norm = nn.LayerNorm(dim)
        self.out_dim = dim
        self.gradient_checkpointing = gradient_checkpointing

    def forward(self, mel: Tensor) -> Tensor:
        """``(B, 1, n_mels, frames)`` -> ``(B, dim)``."""
        if mel.shape[2] != self.n_mels:
            raise ValueError(f"audio transformer built for {self.n_mels} mels got input "
                             f"{tuple(mel.shape)}")
        x = self.input_norm(mel)
        x = F.pad(x, (0, -x.shape[3] % self.patch_frames))
        x = self.patch(x)  # (B, D, bands, steps)
        steps = x.shape[3]
        x = x + self.band.T[:, :, None]
        x = x + sinusoidal_positions(steps, x.shape[1], x.device).T[:, None, :]
        tokens = x.flatten(2).transpose(1, 2)  # (B, bands·steps, D)
        tokens = run_stages(self.layers, tokens, self.gradient_checkpointing)
        return self.norm(tokens).mean(dim=1)


@AUDIO_ENCODERS.register("audio_transformer")
def audio_transformer(n_mels: int = 40, gradient_checkpointing: bool = False
                      ) -> AudioTransformerEncoder:
    """D = 256, 4 layers, 4 heads, 8-mel × 40-ms patches; 256-d features, 3.2M parameters."""
    return AudioTransformerEncoder(n_mels, gradient_checkpointing=gradient_checkpointing)


@AUDIO_ENCODERS.register("audio_transformer_tiny")
def audio_transformer_tiny(n_mels: int = 40, width: int = 32,
                           gradient_checkpointing: bool = False) -> AudioTransformerEncoder:
    """D = ``width``, 2 layers, 2 heads."""
    return AudioTransformerEncoder(n_mels, width, 2, 2,
                                   gradient_checkpointing=gradient_checkpointing)
