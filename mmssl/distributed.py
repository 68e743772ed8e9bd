"""Process-group helpers: world size, rank, an autograd-aware gather and a gather of
constants.

This is a leaf module (it imports only torch) and the one place that calls
``torch.distributed`` collectives. Losses that want negatives from other processes get
them through :func:`gather_with_grad`; tensors that carry no gradient (a feature queue's
momentum keys) through :func:`gather_constants`.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import Tensor


def _initialised() -> bool:
    return dist.is_available() and dist.is_initialized()


def world_size() -> int:
    """Number of processes in the default group; 1 when torch.distributed is not initialised."""
    return dist.get_world_size() if _initialised() else 1


def rank() -> int:
    """Rank of this process in the default group; 0 when torch.distributed is not initialised."""
    return dist.get_rank() if _initialised() else 0


def gather_with_grad(x: Tensor, group: dist.ProcessGroup | None = None) -> Tensor:
    """Concatenate ``x`` from every process along dim 0, in rank order, keeping the graph.

    Args:
        x: local tensor of shape (B, ...). Every process must pass the same shape
            (pad and mask if local batches can differ).
        group: process group; the default (world) group when None.

    Returns:
        Tensor of shape (W·B, ...) where W is the group size; rows
        ``[p·B, (p+1)·B)`` are process p's ``x``. When W == 1, ``x`` itself is returned.

    Why gradients must flow: in a contrastive loss the other processes' embeddings are
    *negatives* for the local queries, and the local embeddings are negatives for theirs.
    The global loss L therefore depends on every process's embeddings through every
    process's softmax. A plain ``dist.all_gather`` returns detached copies, so each
    process would only get the part of ∂L/∂x_p that flows through its own copy; the part
    that flows through the other processes' copies (x_p serving as their negatives) would
    be lost. ``torch.distributed.nn.functional.all_gather``
    is differentiable: its backward sums, over all processes q, the gradient that q's copy
    of process p's slice received, and hands that sum to process p.

    Gradient scale: if every process computes the *same* full loss L on the gathered
    batch, process p's local ``x`` receives Σ_q ∂L/∂x_p = W·∂L/∂x_p. DDP then *averages*
    parameter gradients over the W processes, which gives exactly ∂L/∂θ — the
    single-process gradient of the global batch. (tests/test_distributed.py checks this.)
    """
    if not _initialised() or dist.get_world_size(group) == 1:
        return x
    # Imported lazily: torch.distributed.nn also imports the RPC RemoteModule machinery,
    # which single-process use never needs.
    from torch.distributed.nn.functional import all_gather

    parts = all_gather(x) if group is None else all_gather(x, group=group)
    return torch.cat(parts, dim=0)


@torch.no_grad()
def gather_constants(x: Tensor) -> Tensor:
    """Concatenate ``x`` from every process along dim 0, in rank order, *without* autograd.

    For constants of a loss only: keys of a momentum encoder (computed under no_grad,
    stop-gradient in MoCo and ALBEF) have no gradient to send back to the process that
    produced them, so a plain ``all_gather`` is right. Embeddings that serve as negatives
    with a gradient go through :func:`gather_with_grad` instead.

    Shapes: x (B, ...), the same on every process → (W·B, ...); ``x`` itself when W == 1.
    """
    if not _initialised() or dist.get_world_size() == 1:
        return x
    parts = [torch.empty_like(x) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, x.contiguous())
    return torch.cat(parts, dim=0)


def gather_features(features: dict[str, Tensor]) -> dict[str, Tensor]:
    """:func:`gather_with_grad` applied to every per-sample entry of a method's features.

    Entries of shape (B, ...) become (W·B, ...) in rank order; boolean masks travel as
    floats and come back boolean; 0-dim entries (shared parameters such as CLIP's
    ``logit_scale``) are the same on every process and are returned as they are.
    """
    out = {}
    for key, value in features.items():
        if value.ndim == 0:
            out[key] = value
        elif value.dtype == torch.bool:
            out[key] = gather_with_grad(value.float()).bool()
        else:
            out[key] = gather_with_grad(value)
    return out
