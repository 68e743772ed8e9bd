"""Projection heads from an encoder's features into an embedding space."""

from __future__ import annotations

from torch import nn

HEAD_KINDS = ("linear", "mlp")


def projection_head(in_dim: int, out_dim: int, kind: str = "linear") -> nn.Module:
    """``linear``: W·f + b. ``mlp``: Linear → BatchNorm → ReLU → Linear (MMV's non-linear
    head; SimCLR's projector). Input (B, in_dim), output (B, out_dim)."""
    if kind == "linear":
        return nn.Linear(in_dim, out_dim)
    if kind == "mlp":
        return nn.Sequential(nn.Linear(in_dim, in_dim), nn.BatchNorm1d(in_dim),
                             nn.ReLU(inplace=True), nn.Linear(in_dim, out_dim))
    raise ValueError(f"unknown head kind {kind!r}; known: {HEAD_KINDS}")
