"""Gradient checkpointing over an encoder's stages (activation memory traded for compute)."""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint


def run_stages(stages: Iterable[nn.Module], x: Tensor, checkpointing: bool) -> Tensor:
    """``x = stage(x)`` for each stage in order.

    With ``checkpointing`` (and autograd recording), each stage keeps only its input;
    its inner activations are recomputed during backward, so activation memory drops from
    the sum over stages to about the largest single stage, for one extra forward pass.
    Values and gradients are the same as without it: the RNG state is restored for the
    recomputation (dropout, stochastic depth). One side effect: a BatchNorm in train mode
    updates its running statistics a second time during the recomputation.
    """
    use = checkpointing and torch.is_grad_enabled()
    for stage in stages:
        x = checkpoint(stage, x, use_reentrant=False) if use else stage(x)
    return x
