"""Methods: encoders + embedding spaces + losses wired together.

Each is registered in :data:`METHODS` and built as ``METHODS.build(name, config=...,
vocab_size=...)``; each has ``training_step(batch) -> {"loss", "loss_<term>", ...}``,
``embed(modality, x) -> {pair: embedding}``, a ``modalities`` tuple, and ``after_step()``
(momentum updates, queues, a learnt temperature kept in bounds) called after every
optimiser step. ``training_step`` is ``loss(features(batch))``: ``features`` gives this
process's embeddings and masks (per-sample tensors, plus 0-dim shared parameters) and
``loss`` gathers them from every process; gradient accumulation caches ``features`` and
recomputes them per micro-batch.

The parts methods are made of: towers and embedding spaces (``towers.py``), one scoring
policy (``scoring.py``: normalisation and temperature), the video–text objectives
(``video_text_objective.py``), weighted terms (``terms.py``), momentum (EMA) encoders
(``momentum.py``), a feature queue (``queue.py``), and the check that a config sets no
field its method ignores (``fields.py``).

========================  ====================================================
registered name           file
========================  ====================================================
mmv                       mmv.py (MMV: video, audio, text in FAC spaces)
avlnet                    avlnet.py
milnce, clip              video_text.py (any ``loss.kind``)
albef                     albef.py (momentum distillation, queues)
simclr, barlow_twins      video_ssl.py (TwoViews), with byol
moco                      moco.py
swav                      swav.py
supcon                    supcon.py (labelled clips)
========================  ====================================================
"""

from mmssl.methods.albef import ALBEF
from mmssl.methods.avlnet import AVLnet
from mmssl.methods.mmv import MMV
from mmssl.methods.moco import MoCo
from mmssl.methods.registry import METHODS, build_method
from mmssl.methods.supcon import SupCon
from mmssl.methods.swav import SwAV
from mmssl.methods.video_ssl import BYOL, TwoViews
from mmssl.methods.video_text import VideoText

__all__ = ["ALBEF", "AVLnet", "BYOL", "METHODS", "MMV", "MoCo", "SupCon", "SwAV",
           "TwoViews", "VideoText", "build_method"]
