"""The contrastive loss of Hadsell, Chopra & LeCun (2006): Euclidean distances, similar
pairs pulled together, dissimilar ones pushed beyond a margin."""

from __future__ import annotations

import functools

import torch
from torch import Tensor, nn

from mmssl.losses.checks import check_pair
from mmssl.losses.row_blocks import row_block_sum, row_index


class HadsellContrastiveLoss(nn.Module):
    """Pull similar pairs together, push dissimilar pairs beyond a margin ε.

    Reference:
        Hadsell, Chopra & LeCun, "Dimensionality Reduction by Learning an Invariant
        Mapping", CVPR 2006, Eq. 4 (with L_S = ½D², L_D = ½max(0, m - D)²).

    For pairs (x_i, y_i) with label l_i ∈ {0 = similar, 1 = dissimilar} (the paper's Y)
    and Euclidean distance d_i = ||x_i - y_i||_2::

        L = mean_i [ (1 - l_i)·½·d_i²  +  l_i·½·max(0, ε - d_i)² ]

    :meth:`forward` takes explicit pairs. :meth:`forward_batch` forms all B×B pairs
    (x_i, y_j) of two paired batches — (x_i, y_i) similar, i ≠ j dissimilar — and takes
    the same formula's mean over those B² pairs, so it drops in where the other
    cross-modal losses go. It is the plain mean over pairs: the B positives carry 1/B of
    the weight and the B² - B negatives the rest, and the loss is 0 exactly when every
    positive pair coincides and every negative pair is at least ε apart. Gather
    embeddings across processes with :func:`mmssl.distributed.gather_with_grad` before
    calling :meth:`forward_batch` to use cross-process negatives.

    The inputs are used as given (the paper does not normalise); ε must suit their
    scale — for L2-normalised embeddings d ∈ [0, 2].

    Memory: with ``chunk_size`` > 0, :meth:`forward_batch` takes the rows of x
    ``chunk_size`` at a time (:func:`~mmssl.losses.row_blocks.row_block_sum`), never
    holding the B×B distances; the value and gradients are the same.

    Args:
        margin: ε > 0; dissimilar pairs farther apart than ε cost nothing.
        chunk_size: rows of x per block in :meth:`forward_batch` (0: all at once).

    Shapes:
        forward: x (N, D), y (N, D), label (N,) of 0/1 (bool or number). forward_batch:
        x (B, D), y (B, D). Both return a scalar.
    """

    def __init__(self, margin: float = 1.0, chunk_size: int = 0) -> None:
        super().__init__()
        if margin <= 0:
            raise ValueError(f"HadsellContrastiveLoss: margin must be > 0, got {margin}")
        self.margin = float(margin)
        self.chunk_size = int(chunk_size)

    def forward(self, x: Tensor, y: Tensor, label: Tensor) -> Tensor:
        """Mean loss over the N explicit pairs (x_i, y_i) with labels l_i (1 = dissimilar)."""
        if x.ndim != 2 or x.shape != y.shape or label.shape != x.shape[:1]:
            raise ValueError(f"HadsellContrastiveLoss: expected x, y (N, D) and label (N,), "
                             f"got {tuple(x.shape)}, {tuple(y.shape)}, {tuple(label.shape)}")
        distance = torch.linalg.vector_norm(x - y, dim=-1)
        return _pair_losses(distance, label.to(torch.bool), self.margin).mean()

    def forward_batch(self, x: Tensor, y: Tensor) -> Tensor:
        """Mean loss over all B×B pairs (x_i, y_j); i = j similar, i ≠ j dissimilar."""
        check_pair("HadsellContrastiveLoss", x, y)
        rows = functools.partial(_batch_rows, margin=self.margin)
        total = row_block_sum(rows, (x, row_index(x)), (y,), self.chunk_size)
        return total / x.shape[0] ** 2


def _pair_losses(distance: Tensor, dissimilar: Tensor, margin: float) -> Tensor:
    """½d² where similar, ½max(0, ε - d)² where dissimilar; same shape as ``distance``."""
    pull = 0.5 * distance.pow(2)
    push = 0.5 * (margin - distance).clamp(min=0).pow(2)
    return torch.where(dissimilar, push, pull)


def _batch_rows(x_rows: Tensor, index: Tensor, y: Tensor, margin: float) -> Tensor:
    """Σ over the pairs (x_i, y_j) of the rows i of x: i = j similar, i ≠ j dissimilar."""
    # Exact differences, not the |x|² + |y|² - 2x·y shortcut, which loses precision
    # (and can go negative) exactly for the near-coincident positives.
    distance = torch.cdist(x_rows, y, compute_mode="donot_use_mm_for_euclid_dist")
    columns = torch.arange(y.shape[0], device=y.device)
    return _pair_losses(distance, index[:, None] != columns[None, :], margin).sum()
