"""Training objectives: pure torch modules, one loss per file (see docs for formulas)."""

from mmssl.losses.milnce import MILNCELoss
from mmssl.losses.nce import NCELoss

__all__ = ["MILNCELoss", "NCELoss"]
