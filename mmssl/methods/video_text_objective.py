"""The objective of a video–text dual tower, chosen by ``loss.kind``, and the plain or
memory-linear (``loss.chunk_size``) form of each contrastive loss.

=================  ==========================================  ================================
kind               loss (``mmssl.losses``)                     scores
=================  ==========================================  ================================
``infonce``        symmetric InfoNCE (CLIP)                    s(v, t) = v̂·t̂/τ (or raw dots)
``milnce``         MIL-NCE over the K candidate narrations     the same, every candidate
``siglip``         SigLIP's sigmoid loss, learnt bias b        s(v, t) + b
``mms``            masked margin softmax (δ = ``loss.margin``)  s(v, t)
``margin_ranking`` HowTo100M's max-margin ranking loss          v̂·t̂ (δ = ``loss.ranking_margin``)
``hadsell``        Hadsell's contrastive loss                  ‖v̂ − t̂‖ (m = ``loss.hadsell_margin``)
=================  ==========================================  ================================

Every kind but ``milnce`` compares a clip with its anchor narration only (candidate 0).
The temperature (fixed, or learnt as CLIP's logit scale) is applied once, by multiplying
the video embeddings by 1/τ (:meth:`~mmssl.methods.scoring.Scoring.scale`), so every loss
runs at unit temperature: s(v, t) = (v/τ)·t. The two margin kinds compare plain
(normalised) embeddings, where a temperature would only rescale the margin, so they take
none. Negatives come from the global batch (the method gathers before calling).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from mmssl.config import LossConfig
from mmssl.losses import (
    ChunkedMILNCELoss,
    ChunkedNCELoss,
    HadsellContrastiveLoss,
    MaskedMarginSoftmaxLoss,
    MaxMarginRankingLoss,
    MILNCELoss,
    NCELoss,
    SigLIPLoss,
)
from mmssl.methods.scoring import SCORING_FIELDS

KINDS = ("infonce", "milnce", "siglip", "mms", "margin_ranking", "hadsell")
MARGIN_KINDS = ("margin_ranking", "hadsell")  # compare embeddings without a temperature
SIGLIP_INITIAL_BIAS = -10.0  # SigLIP, Sec. 3.3: keeps the many easy negatives from dominating


def nce_loss(temperature: float, chunk_size: int) -> nn.Module:
    """Symmetric InfoNCE on embeddings as given (no normalisation), plain or in blocks."""
    if chunk_size:
        return ChunkedNCELoss(temperature, normalize=False, chunk_size=chunk_size)
    return NCELoss(temperature, normalize=False)


def milnce_loss(temperature: float | None, chunk_size: int) -> nn.Module:
    """MIL-NCE (the reference's symmetric form), plain or in blocks."""
    if chunk_size:
        return ChunkedMILNCELoss(temperature, chunk_size=chunk_size)
    return MILNCELoss(temperature)


def objective_fields(kind: str) -> set[str]:
    """The ``loss.*`` fields a video–text method with objective ``kind`` reads."""
    scoring = {"loss.normalize"} if kind in MARGIN_KINDS else set(SCORING_FIELDS)
    own = {"mms": {"loss.margin"}, "margin_ranking": {"loss.ranking_margin"},
           "hadsell": {"loss.hadsell_margin"}}.get(kind, set())
    return scoring | own | {"loss.kind", "loss.chunk_size", "loss.weights"}


def chosen_kind(loss: LossConfig, method: str, default: str) -> str:
    """``loss.kind``, or ``default`` (the method's own) when empty; an unknown kind is an
    error naming the ones there are."""
    kind = loss.kind or default
    if kind not in KINDS:
        raise ValueError(f"{method}: loss.kind={kind!r} is not available; it takes "
                         f"{list(KINDS)} (empty: {default})")
    return kind


class VideoTextObjective(nn.Module):
    """``objective(features) -> scalar``: the loss ``kind`` over gathered features
    ``video`` (B, D), ``text`` (B, K, D) (the K candidates; all but ``milnce`` read k = 0),
    ``text_mask`` (B, K), and the 0-dim entries of :meth:`features` and of the method's
    scoring. ``scale`` is 1/τ (a float, or a 0-dim tensor when learnt)."""

    def __init__(self, kind: str, loss: LossConfig):
        super().__init__()
        self.kind = kind
        chunk = loss.chunk_size
        if chunk < 0:
            raise ValueError(f"loss.chunk_size must be >= 0, got {chunk}")
        self.bias = None
        if kind == "infonce":
            self.loss = nce_loss(1.0, chunk)
        elif kind == "milnce":
            self.loss = milnce_loss(None, chunk)
        elif kind == "siglip":
            self.loss = SigLIPLoss(init_log_scale=0.0, learnable=False, normalize=False,
                                   chunk_size=chunk)
            self.bias = nn.Parameter(torch.tensor(SIGLIP_INITIAL_BIAS))
        elif kind == "mms":
            self.loss = MaskedMarginSoftmaxLoss(loss.margin, chunk_size=chunk)
        elif kind == "margin_ranking":
            self.loss = MaxMarginRankingLoss(loss.ranking_margin, chunk_size=chunk)
        else:
            self.loss = HadsellContrastiveLoss(loss.hadsell_margin, chunk_size=chunk)

    @property
    def uses_candidates(self) -> bool:
        """Whether the objective reads all K candidate narrations (else the anchor only)."""
        return self.kind == "milnce"

    def features(self) -> dict[str, Tensor]:
        """``{"siglip_bias": ()}`` for SigLIP (a learnt parameter of the loss, carried with
        the features like a learnt temperature), else ``{}``."""
        return {"siglip_bias": self.bias} if self.bias is not None else {}

    def forward(self, f: dict[str, Tensor], scale: float | Tensor) -> Tensor:
        video, text = f["video"], f["text"]
        if self.kind == "milnce":
            return self.loss(video * scale, text, f["text_mask"])
        anchor = text[:, 0]
        if self.kind in MARGIN_KINDS:
            if self.kind == "hadsell":
                return self.loss.forward_batch(video, anchor)
            return self.loss(video, anchor)
        if self.kind == "siglip":
            return self.loss(video * scale, anchor, bias=f["siglip_bias"])
        return self.loss(video * scale, anchor)
