"""Optimisers by name (``optim.optimizer``: adamw | lars | sgd) over two parameter groups:
weight matrices and kernels decay, norms and biases (1-D parameters) do not."""

from __future__ import annotations

import torch
from torch import nn

from mmssl.config import OptimConfig

OPTIMIZERS = ("adamw", "lars", "sgd")


def param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """Weight decay on weight matrices and kernels only, not on norms or biases.

    The no-decay group is also excluded from LARS's trust-ratio adaptation (``lars_adapt``),
    as in SimCLR and BYOL.
    """
    decay, no_decay = [], []
    for param in model.parameters():
        if param.requires_grad:
            (decay if param.ndim >= 2 else no_decay).append(param)
    return [{"params": decay, "weight_decay": weight_decay, "lars_adapt": True},
            {"params": no_decay, "weight_decay": 0.0, "lars_adapt": False}]


class LARS(torch.optim.Optimizer):
    """Layer-wise Adaptive Rate Scaling (You et al., 2017), in the form SimCLR/BYOL use::

        d = g + λ·w
        d ← d · η·‖w‖/‖d‖          (groups with lars_adapt, when both norms are > 0)
        v ← μ·v + d
        w ← w − lr·v

    Args: ``lr``, ``momentum`` μ, ``weight_decay`` λ, ``trust`` η (the trust coefficient).
    """

    def __init__(self, params, lr: float, momentum: float = 0.9, weight_decay: float = 0.0,
                 trust: float = 0.001):
        super().__init__(params, dict(lr=lr, momentum=momentum, weight_decay=weight_decay,
                                      trust=trust, lars_adapt=True))

    @torch.no_grad()
    def step(self, closure=None):
        loss = closure() if closure is not None else None
        for group in self.param_groups:
            for param in group["params"]:
                if param.grad is None:
                    continue
                update = param.grad.add(param, alpha=group["weight_decay"])
                if group["lars_adapt"]:
                    w_norm, d_norm = torch.linalg.vector_norm(param), torch.linalg.vector_norm(
                        update)
                    ratio = torch.where((w_norm > 0) & (d_norm > 0),
                                        group["trust"] * w_norm / d_norm, torch.ones_like(w_norm))
                    update.mul_(ratio)
                state = self.state[param]
                if "momentum_buffer" not in state:
                    state["momentum_buffer"] = torch.zeros_like(param)
                buffer = state["momentum_buffer"].mul_(group["momentum"]).add_(update)
                param.add_(buffer, alpha=-group["lr"])
        return loss


def build_optimizer(model: nn.Module, config: OptimConfig) -> torch.optim.Optimizer:
    """The optimiser named by ``config.optimizer`` over :func:`param_groups`."""
    groups = param_groups(model, config.weight_decay)
    if config.optimizer == "adamw":
        for group in groups:
            group.pop("lars_adapt")
        return torch.optim.AdamW(groups, lr=config.lr, betas=tuple(config.betas))
    if config.optimizer == "sgd":
        for group in groups:
            group.pop("lars_adapt")
        return torch.optim.SGD(groups, lr=config.lr, momentum=config.momentum)
    if config.optimizer == "lars":
        return LARS(groups, lr=config.lr, momentum=config.momentum, trust=config.lars_trust)
    raise ValueError(f"optim.optimizer must be one of {OPTIMIZERS}, got {config.optimizer!r}")
