"""Supervised contrastive loss (SupCon, L_out form)."""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mmssl.distributed import gather_with_grad
from mmssl.losses.row_blocks import row_block_sum, row_index


class SupConLoss(nn.Module):
    """Supervised contrastive loss: every same-label sample/view is a positive.

    Reference:
        Khosla, Teterwak, Wang, Sarna, Tian, Isola, Maschinot, Liu & Krishnan, "Supervised
        Contrastive Learning", NeurIPS 2020, Eq. (2) (L^sup_out, the form the paper
        recommends). Reference code: github.com/HobbitLong/SupContrast (``losses.py``).

    The B·V features are L2-normalised to z_a. For anchor a, A(a) is every other
    feature (all views of all samples except a itself) and P(a) ⊂ A(a) those whose
    label equals a's (a's other views included)::

        ℓ(a) = -(1/|P(a)|) Σ_{p∈P(a)} log( exp(z_a·z_p/τ) / Σ_{k∈A(a)} exp(z_a·z_k/τ) )
        L    = mean over the anchors with |P(a)| > 0 of ℓ(a)

    Conventions:
        * The paper sums ℓ(a) over anchors; like the reference code this loss averages.
        * Anchors without a positive (a label seen once, with V = 1) are skipped: left out
          of the mean, not counted as zero. If no anchor has a positive, the loss is a
          zero still connected to the inputs.
        * The reference code multiplies the loss by τ / τ_base (τ_base = 0.07); that
          factor is not in the paper's equation and is not applied here.
        * ``labels=None`` gives every sample its own label, so the positives are only
          its other views; with V = 2 this is exactly SimCLR's NT-Xent
          (:class:`~mmssl.losses.ntxent.NTXentLoss` on features[:, 0], features[:, 1]).

    Distributed: with ``gather_distributed=True`` features and labels are gathered with
    :func:`mmssl.distributed.gather_with_grad` (rank order), so positives and negatives
    come from the global batch and every process computes the same loss.

    Memory: with ``chunk_size`` > 0 the anchors are taken ``chunk_size`` at a time
    (:func:`~mmssl.losses.row_blocks.row_block_sum`), never holding the (B·V)² logits or
    masks; |P(a)| comes from counting labels. The value and gradients are the same.

    Args:
        temperature: τ > 0 (default 0.1; the reference code's default is 0.07).
        gather_distributed: gather features and labels from every process first.
        chunk_size: anchors per block (0: all at once).

    Shapes:
        features: (B, V, D), V views of each of B samples; labels: (B,) integer class
        ids, optional. Returns a scalar.
    """

    def __init__(self, temperature: float = 0.1, gather_distributed: bool = False,
                 chunk_size: int = 0) -> None:
        super().__init__()
        if temperature <= 0:
            raise ValueError(f"SupConLoss: temperature must be > 0, got {temperature}")
        self.temperature = float(temperature)
        self.gather_distributed = gather_distributed
        self.chunk_size = int(chunk_size)

    def forward(self, features: Tensor, labels: Tensor | None = None) -> Tensor:
        """Compute the loss; see the class docstring for the formula and shapes."""
        if features.ndim != 3:
            raise ValueError(f"SupConLoss: expected features (B, V, D), got "
                             f"{tuple(features.shape)}")
        if labels is not None and labels.shape != features.shape[:1]:
            raise ValueError(f"SupConLoss: labels must have shape ({features.shape[0]},), "
                             f"got {tuple(labels.shape)}")
        if self.gather_distributed:
            features = gather_with_grad(features)
            labels = None if labels is None else gather_with_grad(labels)
        b, v, d = features.shape
        if labels is None:
            labels = torch.arange(b, device=features.device)
        z = F.normalize(features.reshape(b * v, d), dim=-1)  # row b_i·V + view
        sample_labels = labels.repeat_interleave(v)  # (B·V,)
        _, inverse, counts = torch.unique(sample_labels, return_inverse=True, return_counts=True)
        has_pos = counts[inverse] > 1  # |P(a)| = (copies of a's label) − 1
        if not bool(has_pos.any()):
            return features.sum() * 0
        anchors = functools.partial(_anchor_terms, temperature=self.temperature)
        total = row_block_sum(anchors, (z, row_index(z), sample_labels), (z, sample_labels),
                              self.chunk_size)
        return total / has_pos.sum()


def _anchor_terms(z_rows: Tensor, index: Tensor, row_labels: Tensor, z: Tensor,
                  labels: Tensor, temperature: float) -> Tensor:
    """Σ ℓ(a) over the anchors ``index`` that have a positive (rows ``z_rows`` of ``z``)."""
    logits = (z_rows @ z.t()) / temperature  # (rows, B·V)
    columns = torch.arange(z.shape[0], device=z.device)
    is_self = index[:, None] == columns[None, :]
    positive = (row_labels[:, None] == labels[None, :]) & ~is_self
    log_denominator = torch.logsumexp(logits.masked_fill(is_self, float("-inf")), dim=1)
    log_prob = logits - log_denominator[:, None]
    n_pos = positive.sum(dim=1)
    has_pos = n_pos > 0
    sum_log_prob_pos = log_prob.masked_fill(~positive, 0.0).sum(dim=1)[has_pos]
    return -(sum_log_prob_pos / n_pos[has_pos]).sum()
