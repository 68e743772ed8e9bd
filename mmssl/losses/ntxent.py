"""NT-Xent: the normalised temperature-scaled cross-entropy of SimCLR."""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mmssl.distributed import gather_with_grad
from mmssl.losses.checks import check_pair
from mmssl.losses.row_blocks import row_block_sum, row_index


class NTXentLoss(nn.Module):
    """NT-Xent over the 2N views of a batch of N positive pairs.

    Reference:
        Chen, Kornblith, Norouzi & Hinton, "A Simple Framework for Contrastive Learning of
        Visual Representations", ICML 2020 (SimCLR), Sec. 2.1, Eq. (1) and Algorithm 1.

    The 2N embeddings e = [z1; z2] are L2-normalised; sim(a, b) = e_a·e_b / τ (cosine
    similarity over τ). Anchor a's positive pos(a) is its other view (a ± N); the other
    2N − 2 embeddings are its negatives; a itself is excluded from the denominator::

        ℓ(a) = -log( exp sim(a, pos(a)) / Σ_{k ≠ a} exp sim(a, k) )
        L    = (1 / 2N) · Σ_{a=1}^{2N} ℓ(a)

    With all embeddings equal, L = log(2N − 1).

    Temperature: the default τ = 0.1 is the paper's ImageNet default (the authors'
    ImageNet pre-training command in github.com/google-research/simclr, README, passes
    ``--temperature=0.1``; the paper studies τ in its Table 5). Their
    CIFAR-10 command uses 0.5, which is also lightly's default: pass ``temperature=0.5``.

    Distributed: with ``gather_distributed=True`` each process's z1 and z2 are gathered
    with :func:`mmssl.distributed.gather_with_grad` (rank order, gradients kept) and every
    process computes the same loss over the *global* 2N views, so all other processes'
    views are negatives too. Without it (or outside torch.distributed) the loss is over
    the local batch only.

    Memory: with ``chunk_size`` > 0 the anchors are taken ``chunk_size`` at a time
    (:func:`~mmssl.losses.row_blocks.row_block_sum`), never holding the 2N×2N logits; the
    value and gradients are the same.

    Args:
        temperature: τ > 0.
        gather_distributed: gather both views from every process first.
        chunk_size: anchors per block (0: all at once).

    Shapes:
        z1: (N, D); z2: (N, D), z2[i] being the other view of z1[i]. Returns a scalar.
    """

    def __init__(self, temperature: float = 0.1, gather_distributed: bool = False,
                 chunk_size: int = 0) -> None:
        super().__init__()
        if temperature <= 0:
            raise ValueError(f"NTXentLoss: temperature must be > 0, got {temperature}")
        self.temperature = float(temperature)
        self.gather_distributed = gather_distributed
        self.chunk_size = int(chunk_size)

    def forward(self, z1: Tensor, z2: Tensor) -> Tensor:
        """Compute the loss; see the class docstring for the formula and shapes."""
        check_pair("NTXentLoss", z1, z2, "z1, z2", "(N, D)")
        if self.gather_distributed:
            z1, z2 = gather_with_grad(z1), gather_with_grad(z2)
        e = F.normalize(torch.cat([z1, z2], dim=0), dim=-1)  # (2N, D)
        anchors = functools.partial(_anchor_terms, temperature=self.temperature)
        total = row_block_sum(anchors, (e, row_index(e)), (e,), self.chunk_size)
        return total / e.shape[0]


def _anchor_terms(e_rows: Tensor, index: Tensor, e: Tensor, temperature: float) -> Tensor:
    """Σ ℓ(a) over the anchors ``index`` (rows ``e_rows`` of the 2N views ``e``)."""
    logits = (e_rows @ e.t()) / temperature  # (rows, 2N)
    columns = torch.arange(e.shape[0], device=e.device)
    logits = logits.masked_fill(index[:, None] == columns[None, :], float("-inf"))
    n = e.shape[0] // 2
    targets = (index + n) % (2 * n)  # pos(a) = a + N for a < N, a - N after
    return F.cross_entropy(logits, targets, reduction="sum")
