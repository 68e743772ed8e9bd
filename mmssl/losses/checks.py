"""Argument checks and small helpers every loss shares."""

from __future__ import annotations

import torch
from torch import Tensor


def check_pair(loss: str, x: Tensor, y: Tensor, names: str = "x, y", shape: str = "(B, D)") -> None:
    """Raise a ValueError naming ``loss`` unless ``x`` and ``y`` are 2-D and of equal shape."""
    if x.ndim != 2 or x.shape != y.shape:
        raise ValueError(f"{loss}: expected {names} of equal shape {shape}, got "
                         f"{tuple(x.shape)} and {tuple(y.shape)}")


def check_queue(loss: str, queue: Tensor, dim: int, name: str = "queue") -> None:
    """Raise a ValueError naming ``loss`` unless ``queue`` is (K, dim), K >= 0."""
    if queue.ndim != 2 or queue.shape[1] != dim:
        raise ValueError(f"{loss}: expected {name} of shape (K, {dim}), got "
                         f"{tuple(queue.shape)}")


def row_mask(loss: str, mask: Tensor | None, rows: int) -> Tensor | None:
    """``mask`` as bool after checking it is (rows,); None stays None."""
    if mask is None:
        return None
    if mask.shape != (rows,):
        raise ValueError(f"{loss}: mask must have shape ({rows},), got {tuple(mask.shape)}")
    return mask.to(torch.bool)


def kept_pair_rows(loss: str, x: Tensor, y: Tensor, mask: Tensor | None
                   ) -> tuple[Tensor, Tensor, Tensor]:
    """Check paired (B, D) inputs and a (B,) row mask; return the kept rows of x and y and
    a zero connected to the inputs (the loss of a batch with no row left)."""
    check_pair(loss, x, y)
    zero = connected_zero(x, y)
    keep = row_mask(loss, mask, x.shape[0])
    if keep is not None:
        x, y = x[keep], y[keep]
    return x, y, zero


def connected_zero(*tensors: Tensor) -> Tensor:
    """A scalar zero that depends on every input, so ``backward`` works on an empty batch
    (and gives zero gradients)."""
    return sum(t.sum() * 0 for t in tensors)
