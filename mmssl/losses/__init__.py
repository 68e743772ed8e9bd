"""Training objectives: pure torch modules, one loss per file, each docstring with its
paper reference, formula and argument shapes. Cross-process negatives come only through
:func:`mmssl.distributed.gather_with_grad`. Also here: the feature queue and momentum
(EMA) helpers that MoCo, BYOL and ALBEF need, and weighted-term combination."""

from mmssl.losses.albef import ALBEFContrastiveLoss
from mmssl.losses.barlow_twins import BarlowTwinsLoss
from mmssl.losses.byol import BYOLLoss
from mmssl.losses.chunked import ChunkedMILNCELoss, ChunkedNCELoss
from mmssl.losses.margin import MarginContrastiveLoss
from mmssl.losses.milnce import MILNCELoss
from mmssl.losses.mms import MaskedMarginSoftmaxLoss
from mmssl.losses.moco import MoCoLoss
from mmssl.losses.momentum import momentum_copy, momentum_update
from mmssl.losses.nce import NCELoss
from mmssl.losses.ntxent import NTXentLoss
from mmssl.losses.queue import FeatureQueue
from mmssl.losses.siglip import SigLIPLoss
from mmssl.losses.supcon import SupConLoss
from mmssl.losses.swav import SwAVLoss
from mmssl.losses.weighted import resolve_weights, weighted_total

__all__ = [
    "ALBEFContrastiveLoss", "BYOLLoss", "BarlowTwinsLoss", "ChunkedMILNCELoss",
    "ChunkedNCELoss", "FeatureQueue", "MILNCELoss",
    "MarginContrastiveLoss", "MaskedMarginSoftmaxLoss", "MoCoLoss", "NCELoss", "NTXentLoss",
    "SigLIPLoss", "SupConLoss", "SwAVLoss", "momentum_copy", "momentum_update",
    "resolve_weights", "weighted_total",
]
