"""The method registry: ``METHODS.build(name, config=..., vocab_size=...)``, and
:func:`build_method`, which builds the one a training config names."""

from __future__ import annotations

from torch import nn

from mmssl.config import TrainConfig
from mmssl.registry import Registry

METHODS = Registry("method")


def build_method(config: TrainConfig, vocab_size: int) -> nn.Module:
    """The method named by ``config.method``, built from the config (every registered
    method is importable from :mod:`mmssl.methods`, so the registry is full here)."""
    return METHODS.build(config.method, config=config, vocab_size=vocab_size)
