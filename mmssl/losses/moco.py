"""MoCo: InfoNCE of a query against its momentum key and a queue of past keys."""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mmssl.losses.checks import check_pair, check_queue, connected_zero
from mmssl.losses.row_blocks import row_block_sum


class MoCoLoss(nn.Module):
    """Contrastive loss of Momentum Contrast (MoCo v1 / v2).

    References:
        He, Fan, Wu, Xie & Girshick, "Momentum Contrast for Unsupervised Visual
        Representation Learning", CVPR 2020, Eq. (1) and Algorithm 1.
        Chen, Fan, Girshick & He, "Improved Baselines with Momentum Contrastive Learning",
        arXiv:2003.04297, 2020 (MoCo v2: MLP head, stronger augmentation, τ = 0.2).
        Reference code: github.com/facebookresearch/moco, ``moco/builder.py``.

    Query q_i (online encoder), its key k_i (momentum encoder, another view of the same
    sample) and the queue of K past keys n_1..n_K; logits over 1 + K candidates, the
    positive in column 0::

        l_i = [q_i·k_i, q_i·n_1, …, q_i·n_K] / τ
        L   = mean_i [-log softmax(l_i)_0]

    Only sample i's own key is a positive and only queued keys are negatives: the other
    keys of the batch are not (as in the reference code). With all logits equal
    L = log(K + 1); with an empty queue (K = 0) L = 0.

    Inputs are expected L2-normalised (the reference normalises q and k in the model);
    the loss does not normalise them, so the same normalised keys can go into the queue.

    Keys and queue are constants: both are detached here (stop-gradient; the key encoder
    moves only by :func:`mmssl.methods.momentum.momentum_update`). The loss never mutates
    the queue: the Method calls ``queue.enqueue(k)`` (:class:`mmssl.methods.queue.FeatureQueue`)
    in ``after_step``, so the current keys join the queue only after serving as positives,
    the order of the reference's ``_dequeue_and_enqueue`` at the end of ``forward``.

    Distributed: the loss has no cross-sample terms within a batch, so it needs no gather;
    the queue is shared because ``FeatureQueue.enqueue`` gathers keys from every process.
    (The reference's shuffling BN across GPUs belongs to the Method's key encoder.)

    Memory: with ``chunk_size`` > 0 the queries are scored ``chunk_size`` at a time
    against the queue (:func:`~mmssl.losses.row_blocks.row_block_sum`), never holding the
    B×(1 + K) logits; the value and gradients are the same.

    Args:
        temperature: τ > 0; 0.07 in MoCo v1, 0.2 in MoCo v2 (README of the reference
            code: ``--moco-t 0.2``).
        chunk_size: queries per block (0: all at once).

    Shapes:
        q: (B, D); k: (B, D); queue: (K, D), K >= 0. Returns a scalar.
    """

    def __init__(self, temperature: float = 0.07, chunk_size: int = 0) -> None:
        super().__init__()
        if temperature <= 0:
            raise ValueError(f"MoCoLoss: temperature must be > 0, got {temperature}")
        self.temperature = float(temperature)
        self.chunk_size = int(chunk_size)

    def forward(self, q: Tensor, k: Tensor, queue: Tensor) -> Tensor:
        """Compute the loss; see the class docstring for the formula and shapes."""
        check_pair("MoCoLoss", q, k, "q, k")
        check_queue("MoCoLoss", queue, q.shape[1])
        if q.shape[0] == 0:
            return connected_zero(q)
        queries = functools.partial(_query_terms, temperature=self.temperature)
        total = row_block_sum(queries, (q, k.detach()), (queue.detach().to(q),),
                              self.chunk_size)
        return total / q.shape[0]


def _query_terms(q: Tensor, k: Tensor, negatives: Tensor, temperature: float) -> Tensor:
    """Σ_i −log softmax([q_i·k_i, q_i·n_1, …]/τ)_0 over the rows of ``q``, ``k``."""
    l_pos = (q * k).sum(dim=-1, keepdim=True)  # (B, 1)
    l_neg = q @ negatives.t()  # (B, K)
    logits = torch.cat([l_pos, l_neg], dim=1) / temperature
    targets = torch.zeros(q.shape[0], dtype=torch.long, device=q.device)
    return F.cross_entropy(logits, targets, reduction="sum")
