"""MMV with fine-and-coarse spaces: NCE between video and audio in S_va, MIL-NCE between
video and text in S_vat (Alayrac et al., "Self-Supervised MultiModal Versatile Networks",
NeurIPS 2020)::

    L = λ_va · NCE(z_v^va, z_a^va) + λ_vt · MIL-NCE(z_v^vat, {z_t^vat})
        [+ λ_at · MIL-NCE(z_a^vat, {z_t^vat})]

The bracketed audio-text term (off by default, ``loss.lambda_at``) trains the path MMV
uses at test time for audio (g_{va→vat}); it is what lets text words that only the sound
reveals reach S_vat. Clips without an audio track are left out of the audio terms.
Negatives come from the whole global batch through :func:`mmssl.distributed.gather_with_grad`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mmssl.config import LossConfig, ModelConfig
from mmssl.distributed import gather_with_grad
from mmssl.losses import MILNCELoss, NCELoss
from mmssl.models import AUDIO_ENCODERS, TEXT_ENCODERS, VIDEO_ENCODERS
from mmssl.models.fac import FACSpaces


class MMVFAC(nn.Module):
    """Encoders + FAC spaces + losses. ``training_step(batch) -> {"loss", "loss_va", ...}``."""

    def __init__(self, model: ModelConfig, loss: LossConfig, vocab_size: int, n_mels: int):
        super().__init__()
        self.video_encoder = VIDEO_ENCODERS.build(model.video_encoder, width=model.video_width)
        self.audio_encoder = AUDIO_ENCODERS.build(model.audio_encoder, width=model.audio_width,
                                                  n_mels=n_mels)
        self.text_encoder = TEXT_ENCODERS.build(model.text_encoder, vocab_size=vocab_size,
                                                word_dim=model.word_dim, width=model.text_width)
        self.spaces = FACSpaces(self.video_encoder.out_dim, self.audio_encoder.out_dim,
                                self.text_encoder.out_dim, model.va_dim, model.vat_dim)
        self.weights = loss
        self.normalize = loss.normalize
        self.nce = NCELoss(temperature=loss.temperature, normalize=False)
        self.milnce = MILNCELoss(temperature=loss.temperature if loss.normalize else None)

    def _unit(self, x: Tensor) -> Tensor:
        return F.normalize(x, dim=-1) if self.normalize else x

    def embed_video(self, video: Tensor) -> dict[str, Tensor]:
        """(B, 3, T, H, W) → {"va": (B, va_dim), "vat": (B, vat_dim)}."""
        fine, coarse = self.spaces.video(self.video_encoder(video))
        return {"va": self._unit(fine), "vat": self._unit(coarse)}

    def embed_audio(self, audio: Tensor) -> dict[str, Tensor]:
        """(B, 1, n_mels, frames) → {"va", "vat"}."""
        fine, coarse = self.spaces.audio(self.audio_encoder(audio))
        return {"va": self._unit(fine), "vat": self._unit(coarse)}

    def embed_text(self, text: Tensor) -> Tensor:
        """(..., L) token ids → (..., vat_dim)."""
        flat = text.reshape(-1, text.shape[-1])
        out = self._unit(self.spaces.text(self.text_encoder(flat)))
        return out.reshape(*text.shape[:-1], -1)

    def forward(self, batch: dict) -> dict[str, Tensor]:
        """Same as :meth:`training_step`; DDP synchronises gradients only through forward."""
        return self.training_step(batch)

    def training_step(self, batch: dict) -> dict[str, Tensor]:
        video = self.embed_video(batch["video"])
        audio = self.embed_audio(batch["audio"])
        text = self.embed_text(batch["text"])
        audio_mask = gather_with_grad(batch["audio_mask"].float()).bool()
        text_mask = gather_with_grad(batch["text_mask"].float()).bool()
        v_va, v_vat = gather_with_grad(video["va"]), gather_with_grad(video["vat"])
        a_va, a_vat = gather_with_grad(audio["va"]), gather_with_grad(audio["vat"])
        text = gather_with_grad(text)
        terms = {
            "loss_va": self.nce(v_va, a_va, mask=audio_mask),
            "loss_vt": self.milnce(v_vat, text, text_mask),
        }
        if self.weights.lambda_at:
            terms["loss_at"] = self.milnce(a_vat[audio_mask], text[audio_mask],
                                           text_mask[audio_mask])
        total = (self.weights.lambda_va * terms["loss_va"]
                 + self.weights.lambda_vt * terms["loss_vt"]
                 + self.weights.lambda_at * terms.get("loss_at", torch.zeros(())))
        return {"loss": total, **terms}
