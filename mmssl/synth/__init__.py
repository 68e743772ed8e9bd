"""The synthetic world: generated videos with sound and narration, in the public formats."""

from mmssl.synth.generate import generate_world

__all__ = ["generate_world"]
