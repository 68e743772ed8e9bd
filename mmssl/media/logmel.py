"""The log-mel front end shared by every audio encoder, computed in batches on the model's
device.

Batches carry the clips' waveforms, (B, N) float32 mono at 16 kHz; the method turns them
into log-mel spectrograms on its device (:meth:`mmssl.methods.towers.Towers.inputs`), so
training, evaluation and export all compute them one way, with the run's settings::

    S = |STFT(x)|²                 Hann window of ``window_ms``, hop ``hop_ms``, centred
                                   (reflect padding), one-sided: (B, n_fft / 2 + 1, frames)
    M = Fᵀ S                       F: ``n_mels`` triangular HTK-mel filters, 0 Hz – rate / 2
    log-mel = log(M + 1e-6)        (B, 1, n_mels, frames),  frames = 1 + N // hop

(torchaudio's ``MelSpectrogram(power=2)`` followed by the log.) A clip without audio is a
zero waveform — the log-mel of silence, log(1e-6) everywhere — masked by ``audio_mask``.
AVLnet's front end is 40 mels with a 25 ms window and a 10 ms hop, the defaults here.
"""

from __future__ import annotations

import torch
import torchaudio
from torch import Tensor, nn

FLOOR = 1e-6


class LogMel(nn.Module):
    """Waveforms (B, N) at ``sample_rate`` → log-mel (B, 1, n_mels, frames).

    The window and the filter bank are non-persistent buffers: they follow the module to
    its device and dtype, and are never part of a checkpoint (they come from the config).
    :class:`~mmssl.methods.towers.Towers` holds the same buffers and calls :func:`log_mel`.
    """

    window: Tensor
    filters: Tensor

    def __init__(self, sample_rate: int = 16000, n_mels: int = 40, window_ms: float = 25.0,
                 hop_ms: float = 10.0):
        super().__init__()
        n_fft = int(round(sample_rate * window_ms / 1000))
        self.hop = int(round(sample_rate * hop_ms / 1000))
        self.n_mels = n_mels
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)
        filters = torchaudio.functional.melscale_fbanks(
            n_fft // 2 + 1, 0.0, sample_rate / 2, n_mels, sample_rate, norm=None,
            mel_scale="htk")
        self.register_buffer("filters", filters, persistent=False)  # (n_fft / 2 + 1, n_mels)

    @classmethod
    def from_config(cls, data_config) -> LogMel:
        """The front end of a :class:`~mmssl.config.DataConfig` (``n_mels``, ``window_ms``,
        ``hop_ms``)."""
        return cls(n_mels=data_config.n_mels, window_ms=data_config.window_ms,
                   hop_ms=data_config.hop_ms)

    def num_frames(self, num_samples: int) -> int:
        return 1 + num_samples // self.hop

    def forward(self, waveform: Tensor) -> Tensor:
        return log_mel(waveform, self.window, self.filters, self.hop)


@torch.no_grad()
def log_mel(waveform: Tensor, window: Tensor, filters: Tensor, hop: int) -> Tensor:
    """Waveforms (B, N) → log-mel (B, 1, n_mels, frames) with a :class:`LogMel`'s
    ``window`` (n_fft,) and ``filters`` (n_fft / 2 + 1, n_mels), on their device.

    Computed in float32 (float64 when the filters are) and returned in the filters' dtype.
    """
    if waveform.dim() != 2 or not waveform.is_floating_point():
        raise ValueError(f"audio enters a method as waveforms (B, samples) float, got "
                         f"{tuple(waveform.shape)} {waveform.dtype}")
    out_dtype = filters.dtype
    dtype = torch.float64 if out_dtype == torch.float64 else torch.float32
    window = window.to(dtype)
    spectrum = torch.stft(waveform.to(dtype), len(window), hop, window=window, center=True,
                          pad_mode="reflect", return_complex=True)
    power = spectrum.real.square() + spectrum.imag.square()  # (B, n_fft / 2 + 1, frames)
    mel = torch.matmul(power.transpose(1, 2), filters.to(dtype)).transpose(1, 2)
    return torch.log(mel + FLOOR)[:, None].to(out_dtype)
