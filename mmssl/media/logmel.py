"""The log-mel front end shared by every audio encoder."""

from __future__ import annotations

import torch
import torchaudio
from torch import nn


class LogMel(nn.Module):
    """Waveform (..., N) at ``sample_rate`` → log-mel (..., n_mels, frames).

    ``frames = 1 + N // hop`` (centred STFT). Values are ``log(mel + 1e-6)``. AVLnet's
    front end is 40 mels with a 25 ms window and a 10 ms hop, the defaults here.
    """

    def __init__(self, sample_rate: int = 16000, n_mels: int = 40, window_ms: float = 25.0,
                 hop_ms: float = 10.0):
        super().__init__()
        window = int(round(sample_rate * window_ms / 1000))
        self.hop = int(round(sample_rate * hop_ms / 1000))
        self.mel = torchaudio.transforms.MelSpectrogram(
            sample_rate=sample_rate, n_fft=window, win_length=window, hop_length=self.hop,
            n_mels=n_mels, power=2.0,
        )

    def num_frames(self, num_samples: int) -> int:
        return 1 + num_samples // self.hop

    @torch.no_grad()
    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        return torch.log(self.mel(waveform) + 1e-6)
