"""Masked Margin Softmax (MMS), the AVLnet objective."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mmssl.losses.checks import check_pair, connected_zero, row_mask
from mmssl.losses.chunked import row_col_logsumexp


class MaskedMarginSoftmaxLoss(nn.Module):
    """Masked Margin Softmax loss, in the form of the AVLnet reference code.

    References:
        Ilharco, Zhang & Baldridge, "Large-Scale Representation Learning from Visually
        Grounded Untranscribed Speech", CoNLL 2019 (MMS).
        Rouditchenko et al., "AVLnet: Learning Audio-Visual Language Representations from
        Instructional Videos", Interspeech 2021.
        Reference code: github.com/roudimit/AVLnet (``loss.py``, ``MMS_loss``).

    With similarities S_ij = x_i·y_j (raw dot products by default, as in AVLnet) and
    margin δ subtracted from the positives only::

        L = -(1/B) Σ_i [ log( e^{S_ii-δ} / (e^{S_ii-δ} + Σ_{j≠i, N_ij} e^{S_ij}) )
                       + log( e^{S_ii-δ} / (e^{S_ii-δ} + Σ_{j≠i, N_ji} e^{S_ji}) ) ]

    i.e. the *sum* (not the mean) of the x→y and y→x cross-entropies of S - δ·I, each
    averaged over the batch: exactly ``I2C_loss + C2I_loss`` of the reference code, whose
    default margin is δ = 0.001. With δ = 0 and no masks this is 2 × the symmetric
    :class:`~mmssl.losses.nce.NCELoss` with temperature 1 and no normalisation.

    N = ``negative_mask`` (B, B) bool, indexed like S: N_ij False removes S_ij from the
    row-i and the column-j denominator (e.g. x_i and y_j come from the same video, so y_j
    is no true negative for x_i). The diagonal is always the positive and is never
    removed. Gather embeddings (and build N over the gathered batch) with
    :func:`mmssl.distributed.gather_with_grad` *before* calling this loss to use
    cross-process negatives.

    Memory: with ``chunk_size`` > 0 the B×B similarities are never held: the row and
    column log-sum-exps of S come blockwise from
    :func:`~mmssl.losses.chunked.row_col_logsumexp`, and the margin on the diagonal is put
    in afterwards, lse_j(S_ij − δ·[i = j]) = row_i + log1p(p_ii·(e^{−δ} − 1)) with
    p_ii = e^{S_ii − row_i} ≤ 1 (so the argument stays above −1). Same value and gradients;
    ``negative_mask`` (B×B itself) is not available in that form.

    Args:
        margin: δ, subtracted from the positive similarities.
        normalize: L2-normalise x and y first (AVLnet does not).
        chunk_size: rows per block (0: the whole matrix at once).

    Shapes:
        x: (B, D); y: (B, D); mask: (B,) bool, optional (rows where False are removed
        entirely, like AVLnet's ``has_audio``); negative_mask: (B, B) bool, optional.
        Returns a scalar.
    """

    def __init__(self, margin: float = 0.001, normalize: bool = False,
                 chunk_size: int = 0) -> None:
        super().__init__()
        self.margin = float(margin)
        self.normalize = normalize
        self.chunk_size = int(chunk_size)

    def forward(
        self,
        x: Tensor,
        y: Tensor,
        mask: Tensor | None = None,
        negative_mask: Tensor | None = None,
    ) -> Tensor:
        """Compute the loss; see the class docstring for the formula and shapes.

        With no kept row the result is a zero still connected to x and y.
        """
        check_pair("MaskedMarginSoftmaxLoss", x, y)
        b = x.shape[0]
        zero = connected_zero(x, y)
        if negative_mask is not None and self.chunk_size:
            raise ValueError("MaskedMarginSoftmaxLoss: negative_mask is not available with "
                             "chunk_size (it is a B×B matrix itself)")
        if negative_mask is not None and negative_mask.shape != (b, b):
            raise ValueError(f"MaskedMarginSoftmaxLoss: negative_mask must have shape "
                             f"({b}, {b}), got {tuple(negative_mask.shape)}")
        keep = row_mask("MaskedMarginSoftmaxLoss", mask, b)
        if keep is not None:
            x, y = x[keep], y[keep]
            if negative_mask is not None:
                negative_mask = negative_mask[keep][:, keep]
        if x.shape[0] < 1:
            return zero
        if self.normalize:
            x = F.normalize(x, dim=-1)
            y = F.normalize(y, dim=-1)
        if self.chunk_size:
            return self._chunked(x, y)
        return self._margin_softmax(x @ y.t(), negative_mask)

    def _chunked(self, x: Tensor, y: Tensor) -> Tensor:
        """The same sum of cross-entropies from blockwise row/column log-sum-exps."""
        row, col = row_col_logsumexp(x, y, x.new_ones(()), self.chunk_size)
        positives = (x * y).sum(dim=1)  # S_ii
        shift = math.expm1(-self.margin)  # e^{−δ} − 1
        row = row + torch.log1p(torch.exp(positives - row) * shift)
        col = col + torch.log1p(torch.exp(positives - col) * shift)
        return (row.mean() + col.mean()) - 2 * (positives - self.margin).mean()

    def _margin_softmax(self, sim: Tensor, negative_mask: Tensor | None) -> Tensor:
        """Sum of the row and column cross-entropies of (B, B) ``sim`` - δ·I."""
        eye = torch.eye(sim.shape[0], dtype=torch.bool, device=sim.device)
        logits = sim - self.margin * eye.to(sim.dtype)
        if negative_mask is not None:
            # The diagonal stays, so every softmax keeps at least its positive.
            logits = logits.masked_fill(~(negative_mask.to(torch.bool) | eye), float("-inf"))
        targets = torch.arange(sim.shape[0], device=sim.device)
        return F.cross_entropy(logits, targets) + F.cross_entropy(logits.t(), targets)
