"""The bidirectional max-margin ranking loss of HowTo100M (Miech et al. 2019)."""

from __future__ import annotations

import functools

import torch.nn.functional as F
from torch import Tensor, nn

from mmssl.losses.checks import kept_pair_rows
from mmssl.losses.row_blocks import row_block_sum


class MaxMarginRankingLoss(nn.Module):
    """Hinge on every (positive, negative) score pair, in both retrieval directions.

    Reference:
        Miech, Zhukov, Alayrac, Tapaswi, Laptev & Sivic, "HowTo100M: Learning a Text-Video
        Embedding by Watching Hundred Million Narrated Video Clips", ICCV 2019, Sec. 4.
        Reference code: github.com/antoine77340/howto100m (``loss.py``,
        ``MaxMarginRankingLoss`` without its optional negative weighting).

    With scores S_ij = x_i·y_j (the reference: cosine similarities of its gated embedding
    units; no temperature, which would only rescale δ) and margin δ::

        L = (1/B²) Σ_i Σ_j [ max(0, δ + S_ij − S_ii) + max(0, δ + S_ij − S_jj) ]

    Row i ranks y_i above every y_j for x_i (first hinge); column j ranks x_j above every
    x_i for y_j (second hinge). As in the reference, the mean runs over all B² entries of
    the score matrix, the diagonal included: each diagonal entry adds the constant 2δ (no
    gradient), so the loss of a perfectly ranked batch is 2δ/B, not 0.

    Gather embeddings across processes with :func:`mmssl.distributed.gather_with_grad`
    *before* calling this loss to use cross-process negatives.

    Memory: with ``chunk_size`` > 0 the rows of x are scored ``chunk_size`` at a time
    (:func:`~mmssl.losses.row_blocks.row_block_sum`; the diagonal S_jj is computed first,
    O(B)), never holding the B×B scores; the value and gradients are the same.

    Args:
        margin: δ ≥ 0. The reference class defaults to 1.0; HowTo100M trains with 0.1.
        chunk_size: rows of x per block (0: all at once).

    Shapes:
        x: (B, D); y: (B, D); mask: (B,) bool, optional (rows where it is False are removed
        entirely). Returns a scalar.
    """

    def __init__(self, margin: float = 0.1, chunk_size: int = 0) -> None:
        super().__init__()
        if margin < 0:
            raise ValueError(f"MaxMarginRankingLoss: margin must be >= 0, got {margin}")
        self.margin = float(margin)
        self.chunk_size = int(chunk_size)

    def forward(self, x: Tensor, y: Tensor, mask: Tensor | None = None) -> Tensor:
        """Compute the loss; a zero connected to x and y when no row is kept."""
        x, y, zero = kept_pair_rows("MaxMarginRankingLoss", x, y, mask)
        if x.shape[0] < 1:
            return zero
        positives = (x * y).sum(dim=1)  # S_ii
        rows = functools.partial(_row_hinges, margin=self.margin)
        total = row_block_sum(rows, (x, positives), (y, positives), self.chunk_size)
        return total / x.shape[0] ** 2


def _row_hinges(x_rows: Tensor, row_positives: Tensor, y: Tensor, positives: Tensor,
                margin: float) -> Tensor:
    """Σ_{i∈rows} Σ_j max(0, δ + S_ij − S_ii) + max(0, δ + S_ij − S_jj)."""
    scores = x_rows @ y.t()
    return (F.relu(margin + scores - row_positives[:, None])
            + F.relu(margin + scores - positives[None, :])).sum()

