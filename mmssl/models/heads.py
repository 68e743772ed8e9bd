"""Projection heads from an encoder's features into an embedding space."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

HEAD_KINDS = ("linear", "mlp", "gated", "gated_linear", "identity")


class ContextGating(nn.Module):
    """``x ⊙ σ(W·x + b)`` (Miech, Laptev & Sivic, "Learnable pooling with Context Gating",
    2017): (B, D) → (B, D). Written as GLU over [x, W·x + b], as AVLnet's code does."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.fc = nn.Linear(dim, dim)

    def forward(self, x: Tensor) -> Tensor:
        return F.glu(torch.cat((x, self.fc(x)), dim=1), dim=1)


class GatedEmbeddingUnit(nn.Module):
    """Gated Embedding Unit (Miech et al., "Learning a Text-Video Embedding from Incomplete
    and Heterogeneous Data", 2018; AVLnet's heads)::

        y = W₁·x + b₁,   out = y ⊙ σ(W₂·y + b₂)

    (B, in_dim) → (B, out_dim). Parameter names ``fc``, ``cg.fc`` are AVLnet's
    (``GU_video``, ``GU_audio``, ``GU_text_captions`` in its released weights)."""

    def __init__(self, in_dim: int, out_dim: int) -> None:
        super().__init__()
        self.fc = nn.Linear(in_dim, out_dim)
        self.cg = ContextGating(out_dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.cg(self.fc(x))


def projection_head(in_dim: int, out_dim: int, kind: str = "linear") -> nn.Module:
    """A head (B, in_dim) → (B, out_dim) of ``kind``:

    - ``linear``: W·f + b;
    - ``mlp``: Linear → BatchNorm → ReLU → Linear (MMV's non-linear head; SimCLR's
      projector);
    - ``gated``: a :class:`GatedEmbeddingUnit` (AVLnet's video and text heads);
    - ``gated_linear``: a GatedEmbeddingUnit in_dim → in_dim, then Linear → out_dim
      (AVLnet's audio head: it gates in the lower dimension "for stability with
      mixed-precision training", then projects; ``0`` and ``1`` are its ``GU_audio`` and
      ``DAVEnet_projection``);
    - ``identity``: the features as they are, in_dim = out_dim (CLIP's towers end in their
      own projections).
    """
    if kind == "linear":
        return nn.Linear(in_dim, out_dim)
    if kind == "mlp":
        return nn.Sequential(nn.Linear(in_dim, in_dim), nn.BatchNorm1d(in_dim),
                             nn.ReLU(inplace=True), nn.Linear(in_dim, out_dim))
    if kind == "gated":
        return GatedEmbeddingUnit(in_dim, out_dim)
    if kind == "gated_linear":
        return nn.Sequential(GatedEmbeddingUnit(in_dim, in_dim), nn.Linear(in_dim, out_dim))
    if kind == "identity":
        if in_dim != out_dim:
            raise ValueError(f"an identity head needs equal sizes, got {in_dim} -> {out_dim}")
        return nn.Identity()
    raise ValueError(f"unknown head kind {kind!r}; known: {HEAD_KINDS}")
