"""Momentum (EMA) target networks: the key encoder of MoCo, the target of BYOL, the
momentum model of ALBEF. A helper for Methods, not a loss."""

from __future__ import annotations

import copy

import torch
from torch import nn


def momentum_copy(module: nn.Module) -> nn.Module:
    """A deep copy of ``module`` with every parameter frozen (``requires_grad=False``).

    The copy starts equal to the online network, as in MoCo (``param_k.data.copy_(param_q)``
    in github.com/facebookresearch/moco, ``moco/builder.py``) and ALBEF (``copy_params`` in
    github.com/salesforce/ALBEF, ``models/model_pretrain.py``); from then on it changes only
    through :func:`momentum_update`, never through an optimiser. Its train/eval mode is left
    as the original's: MoCo's key encoder runs in train mode (batch-norm batch statistics).
    """
    target = copy.deepcopy(module)
    target.requires_grad_(False)
    return target


@torch.no_grad()
def momentum_update(online: nn.Module, target: nn.Module, m: float,
                    copy_buffers: bool = True) -> None:
    """Move ``target`` towards ``online``: θ_t ← m·θ_t + (1 − m)·θ_o, in place, no grad.

    References (the momentum m used there):
        He et al., "Momentum Contrast for Unsupervised Visual Representation Learning",
        CVPR 2020, Eq. (2): θ_k ← mθ_k + (1 − m)θ_q, m = 0.999.
        Grill et al., "Bootstrap Your Own Latent", NeurIPS 2020, Sec. 3.1: ξ ← τξ + (1 − τ)θ,
        τ = 1 − (1 − τ_base)(cos(πk/K) + 1)/2 with τ_base = 0.996 (the schedule is the
        Method's business: pass the current τ as ``m``).
        Li et al., "Align before Fuse", NeurIPS 2021 (momentum distillation, Sec. 3.4):
        m = 0.995 (``momentum`` in github.com/salesforce/ALBEF, ``configs/Pretrain.yaml``).

    m = 1 leaves the target unchanged; m = 0 copies the online parameters.

    Buffers: with ``copy_buffers`` (the default) every buffer of ``online`` (batch-norm
    running mean/var, ``num_batches_tracked``) is copied into ``target``, so the target
    is usable in eval mode straight away. The MoCo and ALBEF reference code update
    parameters only and let the target's running statistics come from its own forward
    passes; pass ``copy_buffers=False`` for that behaviour.

    Args:
        online: the network trained by the optimiser.
        target: its momentum copy (same architecture: parameter and buffer names match).
        m: momentum in [0, 1].
        copy_buffers: also copy the buffers of ``online`` into ``target``.
    """
    if not 0.0 <= m <= 1.0:
        raise ValueError(f"momentum_update: m must be in [0, 1], got {m}")
    pairs = _matched(online.named_parameters(), target.named_parameters(), "parameters")
    for p_online, p_target in pairs:
        p_target.mul_(m).add_(p_online.detach(), alpha=1.0 - m)
    if copy_buffers:
        for b_online, b_target in _matched(online.named_buffers(), target.named_buffers(),
                                           "buffers"):
            b_target.copy_(b_online)


def _matched(online, target, kind: str) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Pair ``(name, tensor)`` iterables by position after checking names and shapes agree."""
    online, target = list(online), list(target)
    names_o, names_t = [n for n, _ in online], [n for n, _ in target]
    if names_o != names_t:
        raise ValueError(f"momentum_update: online and target {kind} differ in names or "
                         f"order: {sorted(set(names_o) ^ set(names_t))[:5]}")
    for (name, a), (_, b) in zip(online, target, strict=True):
        if a.shape != b.shape:
            raise ValueError(f"momentum_update: {kind[:-1]} {name!r} has shape "
                             f"{tuple(a.shape)} online but {tuple(b.shape)} in the target")
    return [(a, b) for (_, a), (_, b) in zip(online, target, strict=True)]
