"""Methods: encoders + embedding spaces + losses wired together.

Each is registered in :data:`METHODS` and built as ``METHODS.build(name, config=...,
vocab_size=...)``; each has ``training_step(batch) -> {"loss", "loss_<term>", ...}``,
``embed(modality, x) -> {pair: embedding}``, a ``modalities`` tuple, and optionally
``after_step()`` (momentum updates) called after every optimiser step. ``training_step``
is ``loss(features(batch))``: ``features`` gives this process's embeddings and masks
(per-sample tensors, plus 0-dim shared parameters) and ``loss`` gathers them from every
process; gradient accumulation caches ``features`` and recomputes them per micro-batch.

The parts methods are made of: towers and embedding spaces (``towers.py``), one scoring
policy (``scoring.py``: normalisation and temperature), weighted terms (``terms.py``),
momentum (EMA) encoders (``momentum.py``), a feature queue (``queue.py``), and the check
that a config sets no field its method ignores (``fields.py``).
"""

from mmssl.methods.avlnet import AVLnet
from mmssl.methods.mmv import MMV
from mmssl.methods.registry import METHODS, build_method
from mmssl.methods.video_ssl import BYOL, SimCLR
from mmssl.methods.video_text import CLIP, MILNCE

__all__ = ["AVLnet", "BYOL", "CLIP", "METHODS", "MILNCE", "MMV", "SimCLR", "build_method"]
