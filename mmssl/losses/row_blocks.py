"""Memory-bounded form of a loss whose rows are independent: a sum over blocks of rows, each
block recomputed in backward instead of kept.

A loss of that kind is L = Σ_i ℓ_i(a_i, S) / n, where row i's term depends on its own
rows a_i of some inputs and on tensors S shared by every row (the other side of the score
matrix, a queue, labels): NT-Xent, MoCo, SupCon, SigLIP, ALBEF's distilled cross-entropy,
max-margin ranking, Hadsell's contrastive loss. The plain forms build the whole (B, N)
score matrix and its temporaries; :func:`row_block_sum` evaluates ``block_loss`` on
``chunk`` rows at a time under :func:`torch.utils.checkpoint.checkpoint`, so autograd keeps
only each block's inputs (views of the full tensors) and recomputes one chunk×N block at a
time in backward. Values and gradients are those of the plain form (up to the order of the
floating-point sums); memory is O(chunk·N + B·D) instead of O(B·N).

Losses whose rows share a normaliser over the columns (symmetric InfoNCE, MIL-NCE, MMS)
need the column log-sum-exp of every row first: :mod:`mmssl.losses.chunked` does those.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor
from torch.utils.checkpoint import checkpoint


def row_block_sum(block_loss: Callable[..., Tensor], rows: tuple[Tensor, ...],
                  shared: tuple[Tensor, ...], chunk: int) -> Tensor:
    """Σ over blocks of ``chunk`` rows of ``block_loss(*row_blocks, *shared)``.

    Args:
        block_loss: deterministic function of (rows of each tensor in ``rows``, then every
            tensor in ``shared``) returning the scalar sum of those rows' terms. It draws no
            random numbers (it runs twice per block).
        rows: tensors of equal first dimension B, cut into blocks along it (pass
            ``torch.arange(B)`` among them when a row's term needs its own index).
        shared: tensors every block sees whole.
        chunk: rows per block; 0 (or chunk ≥ B) computes all rows at once, without
            checkpointing.

    Returns:
        The scalar sum over all B rows.
    """
    if chunk < 0:
        raise ValueError(f"chunk_size must be >= 0, got {chunk}")
    size = rows[0].shape[0]
    if chunk == 0 or size <= chunk:
        return block_loss(*rows, *shared)
    total = None
    for start in range(0, size, chunk):
        block = tuple(t[start:start + chunk] for t in rows)
        part = checkpoint(block_loss, *block, *shared, use_reentrant=False)
        total = part if total is None else total + part
    return total


def row_index(x: Tensor) -> Tensor:
    """``arange(B)`` on ``x``'s device: each row's own index, cut into blocks with the rows."""
    return torch.arange(x.shape[0], device=x.device)
