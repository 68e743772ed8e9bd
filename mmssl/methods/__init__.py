"""Methods: encoders + heads + losses wired together, ``training_step(batch) -> dict``."""

from mmssl.methods.mmv import MMVFAC

__all__ = ["MMVFAC"]
