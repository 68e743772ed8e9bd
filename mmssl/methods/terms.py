"""Combining named loss terms with weights, each term reported under its own name."""

from __future__ import annotations

import torch
from torch import Tensor


def resolve_weights(defaults: dict[str, float], overrides: dict[str, float],
                    owner: str) -> dict[str, float]:
    """``defaults`` updated by ``overrides``; a term name ``owner`` does not have is an
    error (a typo must not silently train with the default)."""
    unknown = sorted(set(overrides) - set(defaults))
    if unknown:
        raise ValueError(f"{owner}: unknown loss terms {unknown}; its terms are "
                         f"{sorted(defaults)}")
    return {**defaults, **{name: float(weight) for name, weight in overrides.items()}}


def weighted_total(terms: dict[str, Tensor], weights: dict[str, float]) -> dict[str, Tensor]:
    """``{"loss": Σ_name weights[name] · terms[name], "loss_<name>": terms[name], ...}``.

    Terms whose weight is 0 should not be computed at all; the caller leaves them out.
    """
    if not terms:
        raise ValueError("no loss term has a non-zero weight")
    total = sum((weights[name] * value for name, value in terms.items()), torch.zeros(()))
    return {"loss": total, **{f"loss_{name}": value for name, value in terms.items()}}
