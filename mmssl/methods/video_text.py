"""Video-text dual towers: MIL-NCE (Miech et al., CVPR 2020) and CLIP-style InfoNCE
(Radford et al., ICML 2021), both in one shared video-text space, scored by
:class:`~mmssl.methods.scoring.Scoring`.

``milnce``: MIL-NCE over the K candidate narrations of each clip (the reference uses raw
dot products: ``loss.normalize=false``). ``clip``: symmetric InfoNCE against the anchor
narration, with CLIP's learnable temperature exp(logit_scale) (initialised to 1/τ,
clamped at 100) when ``loss.learn_temperature``.
"""

from __future__ import annotations

from torch import Tensor, nn

from mmssl.config import TrainConfig
from mmssl.distributed import gather_features
from mmssl.losses import MILNCELoss, NCELoss
from mmssl.methods.base import Method
from mmssl.methods.fields import reject_unused
from mmssl.methods.registry import METHODS
from mmssl.methods.scoring import SCORING_FIELDS, Scoring
from mmssl.methods.terms import resolve_weights, weighted_total
from mmssl.methods.towers import (
    build_spaces,
    build_towers,
    chosen_space,
    space_fields,
    tower_fields,
)

MODALITIES = ("video", "text")


def video_text_parts(config: TrainConfig, vocab_size: int, method: str,
                     learnable: bool = False) -> tuple[nn.ModuleDict, nn.Module, Scoring]:
    """Towers, the one shared space and the scoring (``learnable``: may learn τ) of a
    video-text method, after checking that the config sets no field they do not use."""
    space = chosen_space(config, method, ("shared",))
    reject_unused(config, method, tower_fields(MODALITIES) | space_fields(space)
                  | SCORING_FIELDS | {"loss.weights"})
    scoring = Scoring.from_config(config.loss, method, learnable=learnable)
    towers = build_towers(config, vocab_size, MODALITIES)
    return towers, build_spaces(config, towers, ("vt",), space), scoring


@METHODS.register("milnce")
class MILNCE(Method):
    modalities = MODALITIES
    default_weights = {"vt": 1.0}

    def __init__(self, config: TrainConfig, vocab_size: int):
        super().__init__()
        self.towers, self.spaces, self.scoring = video_text_parts(
            config, vocab_size, "milnce")
        self.weights = resolve_weights(self.default_weights, config.loss.weights, "milnce")
        self.objective = MILNCELoss(temperature=self.scoring.temperature)

    def features(self, batch: dict) -> dict[str, Tensor]:
        """``video`` (B, D), ``text`` (B, K, D) candidates, ``text_mask`` (B, K)."""
        return {"video": self.embed("video", batch["video"])["vt"],
                "text": self.embed("text", batch["text"])["vt"], "text_mask": batch["text_mask"]}

    def loss(self, features: dict[str, Tensor]) -> dict[str, Tensor]:
        f = gather_features(features)
        return weighted_total({"vt": self.objective(f["video"], f["text"], f["text_mask"])},
                              self.weights)


@METHODS.register("clip")
class CLIP(Method):
    modalities = MODALITIES
    default_weights = {"vt": 1.0}

    def __init__(self, config: TrainConfig, vocab_size: int):
        super().__init__()
        self.towers, self.spaces, self.scoring = video_text_parts(
            config, vocab_size, "clip", learnable=True)
        self.weights = resolve_weights(self.default_weights, config.loss.weights, "clip")
        self.objective = NCELoss(temperature=self.scoring.temperature, normalize=False)

    def features(self, batch: dict) -> dict[str, Tensor]:
        """``video`` (B, D), anchor ``text`` (B, D) and, when learnt, ``logit_scale`` ()."""
        return {"video": self.embed("video", batch["video"])["vt"],
                "text": self.embed("text", batch["text"][:, 0])["vt"],
                **self.scoring.features()}

    def loss(self, features: dict[str, Tensor]) -> dict[str, Tensor]:
        f = gather_features(features)
        vt = self.objective(f["video"], f["text"], logit_scale=self.scoring.logit_scale_of(f))
        return {**weighted_total({"vt": vt}, self.weights), **self.scoring.report(f)}
