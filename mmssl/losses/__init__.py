"""Training objectives: pure torch modules, one loss per file, each docstring with its
paper reference, formula and argument shapes. Cross-process negatives come only through
:func:`mmssl.distributed.gather_with_grad`. Nothing here keeps state between steps: the
feature queue, momentum (EMA) encoders and term weighting that methods need live in
:mod:`mmssl.methods`; a loss that reads a queue takes its tensor."""

from mmssl.losses.albef import ALBEFContrastiveLoss
from mmssl.losses.barlow_twins import BarlowTwinsLoss
from mmssl.losses.byol import BYOLLoss
from mmssl.losses.chunked import ChunkedMILNCELoss, ChunkedNCELoss
from mmssl.losses.hadsell import HadsellContrastiveLoss
from mmssl.losses.margin_ranking import MaxMarginRankingLoss
from mmssl.losses.milnce import MILNCELoss
from mmssl.losses.mms import MaskedMarginSoftmaxLoss
from mmssl.losses.moco import MoCoLoss
from mmssl.losses.nce import NCELoss
from mmssl.losses.ntxent import NTXentLoss
from mmssl.losses.siglip import SigLIPLoss
from mmssl.losses.supcon import SupConLoss
from mmssl.losses.swav import SwAVLoss

__all__ = [
    "ALBEFContrastiveLoss", "BYOLLoss", "BarlowTwinsLoss", "ChunkedMILNCELoss",
    "ChunkedNCELoss", "HadsellContrastiveLoss", "MILNCELoss", "MaskedMarginSoftmaxLoss",
    "MaxMarginRankingLoss", "MoCoLoss", "NCELoss", "NTXentLoss", "SigLIPLoss", "SupConLoss",
    "SwAVLoss",
]
