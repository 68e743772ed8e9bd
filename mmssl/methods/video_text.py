"""Video-text dual towers: MIL-NCE (Miech et al., CVPR 2020) and CLIP-style InfoNCE
(Radford et al., ICML 2021), both in one shared video-text space.

``milnce``: MIL-NCE over the K candidate narrations of each clip (the reference uses raw
dot products: ``loss.normalize=false``). ``clip``: symmetric InfoNCE against the anchor
narration, with CLIP's learnable temperature exp(logit_scale) (initialised to 1/0.07,
clamped at 100) when ``loss.learn_temperature``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from mmssl.config import TrainConfig
from mmssl.distributed import gather_features
from mmssl.losses import MILNCELoss, NCELoss
from mmssl.methods.base import SpaceMethod
from mmssl.methods.registry import METHODS
from mmssl.methods.terms import resolve_weights, weighted_total
from mmssl.methods.towers import build_spaces, build_towers


class _VideoText(SpaceMethod):
    modalities = ("video", "text")
    default_weights = {"vt": 1.0}

    def __init__(self, config: TrainConfig, vocab_size: int, name: str):
        super().__init__()
        self.towers = build_towers(config, vocab_size, self.modalities)
        self.spaces = build_spaces(config, self.towers, ("vt",), kind="shared")
        self.weights = resolve_weights(self.default_weights, config.loss.weights, name)
        self.normalize = config.loss.normalize


@METHODS.register("milnce")
class MILNCE(_VideoText):
    def __init__(self, config: TrainConfig, vocab_size: int):
        super().__init__(config, vocab_size, "milnce")
        self.objective = MILNCELoss(
            temperature=config.loss.temperature if self.normalize else None)

    def features(self, batch: dict) -> dict[str, Tensor]:
        """``video`` (B, D), ``text`` (B, K, D) candidates, ``text_mask`` (B, K)."""
        return {"video": self.embed("video", batch["video"])["vt"],
                "text": self.embed("text", batch["text"])["vt"], "text_mask": batch["text_mask"]}

    def loss(self, features: dict[str, Tensor]) -> dict[str, Tensor]:
        f = gather_features(features)
        return weighted_total({"vt": self.objective(f["video"], f["text"], f["text_mask"])},
                              self.weights)


@METHODS.register("clip")
class CLIP(_VideoText):
    def __init__(self, config: TrainConfig, vocab_size: int):
        super().__init__(config, vocab_size, "clip")
        self.objective = NCELoss(temperature=config.loss.temperature, normalize=False)
        self.logit_scale = (nn.Parameter(torch.tensor(math.log(1.0 / config.loss.temperature)))
                            if config.loss.learn_temperature else None)

    def features(self, batch: dict) -> dict[str, Tensor]:
        """``video`` (B, D), anchor ``text`` (B, D) and, when learnt, ``logit_scale`` ()."""
        out = {"video": self.embed("video", batch["video"])["vt"],
               "text": self.embed("text", batch["text"][:, 0])["vt"]}
        if self.logit_scale is not None:
            out["logit_scale"] = self.logit_scale
        return out

    def loss(self, features: dict[str, Tensor]) -> dict[str, Tensor]:
        f = gather_features(features)
        scale = f.get("logit_scale")
        out = weighted_total({"vt": self.objective(f["video"], f["text"], logit_scale=scale)},
                             self.weights)
        if scale is not None:
            out["temperature"] = 1.0 / scale.detach().exp().clamp(max=100.0)
        return out
