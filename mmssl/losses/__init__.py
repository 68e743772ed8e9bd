"""Training objectives: pure torch modules, one loss per file, each docstring with its
paper reference, formula and argument shapes. Cross-process negatives come only through
:func:`mmssl.distributed.gather_with_grad`."""

from mmssl.losses.barlow_twins import BarlowTwinsLoss
from mmssl.losses.byol import BYOLLoss
from mmssl.losses.margin import MarginContrastiveLoss
from mmssl.losses.milnce import MILNCELoss
from mmssl.losses.mms import MaskedMarginSoftmaxLoss
from mmssl.losses.nce import NCELoss
from mmssl.losses.ntxent import NTXentLoss
from mmssl.losses.siglip import SigLIPLoss
from mmssl.losses.supcon import SupConLoss
from mmssl.losses.swav import SwAVLoss

__all__ = [
    "BYOLLoss", "BarlowTwinsLoss", "MILNCELoss", "MarginContrastiveLoss",
    "MaskedMarginSoftmaxLoss", "NCELoss", "NTXentLoss", "SigLIPLoss", "SupConLoss", "SwAVLoss",
]
