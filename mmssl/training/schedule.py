"""Learning-rate schedules: linear warm-up, then cosine, linear or constant.

The factor multiplies ``optim.lr``; it is stepped once per *global* optimiser step (the
scheduler is not handed to Accelerate, which would step it once per process).
"""

from __future__ import annotations

import math

import torch

from mmssl.config import OptimConfig

SCHEDULES = ("cosine", "linear", "constant")


def warmup_cosine(warmup: int, total: int):
    """lr factor: ``(s+1)/warmup`` for s < warmup, then ``½(1 + cos(π·p))`` with
    ``p = (s − warmup)/(total − warmup)`` clamped to [0, 1] (0 at ``total``)."""
    return _after_warmup(warmup, lambda p: 0.5 * (1.0 + math.cos(math.pi * p)), total)


def warmup_linear(warmup: int, total: int):
    """lr factor: linear warm-up, then ``1 − p`` (linear decay to 0 at ``total``)."""
    return _after_warmup(warmup, lambda p: 1.0 - p, total)


def warmup_constant(warmup: int, total: int):
    """lr factor: linear warm-up, then 1."""
    return _after_warmup(warmup, lambda p: 1.0, total)


def _after_warmup(warmup: int, decay, total: int):
    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, total - warmup)
        return decay(min(progress, 1.0))
    return factor


def build_schedule(optimizer: torch.optim.Optimizer, config: OptimConfig):
    """A ``LambdaLR`` with the factor named by ``config.schedule``."""
    factors = {"cosine": warmup_cosine, "linear": warmup_linear, "constant": warmup_constant}
    if config.schedule not in factors:
        raise ValueError(f"optim.schedule must be one of {SCHEDULES}, got {config.schedule!r}")
    factor = factors[config.schedule](config.warmup_steps, config.max_steps)
    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
