"""MMV's fine-and-coarse (FAC) embedding spaces.

Video and audio meet in a fine space S_va; text meets them in a coarser space S_vat,
reached from S_va by a further projection g_{va→vat} (Alayrac et al., NeurIPS 2020)::

    z_v^va  = W_v f_v            z_a^va  = W_a f_a            (B, va_dim)
    z_v^vat = g(z_v^va)          z_a^vat = g(z_a^va)          (B, vat_dim)
    z_t^vat = W_t f_t                                         (B, vat_dim)

At test time audio reaches text through the same g as video. All projections are linear,
as in MMV's best FAC setting.
"""

from __future__ import annotations

from torch import Tensor, nn


class FACSpaces(nn.Module):
    def __init__(self, video_dim: int, audio_dim: int, text_dim: int, va_dim: int, vat_dim: int):
        super().__init__()
        self.video_to_va = nn.Linear(video_dim, va_dim)
        self.audio_to_va = nn.Linear(audio_dim, va_dim)
        self.va_to_vat = nn.Linear(va_dim, vat_dim)
        self.text_to_vat = nn.Linear(text_dim, vat_dim)

    def video(self, features: Tensor) -> tuple[Tensor, Tensor]:
        """(B, video_dim) → (z^va (B, va_dim), z^vat (B, vat_dim))."""
        fine = self.video_to_va(features)
        return fine, self.va_to_vat(fine)

    def audio(self, features: Tensor) -> tuple[Tensor, Tensor]:
        """(B, audio_dim) → (z^va, z^vat) through the same g_{va→vat} as video."""
        fine = self.audio_to_va(features)
        return fine, self.va_to_vat(fine)

    def text(self, features: Tensor) -> Tensor:
        """(B, text_dim) → z^vat (B, vat_dim)."""
        return self.text_to_vat(features)
