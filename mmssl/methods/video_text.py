"""Video–text dual towers in one shared space, scored by
:class:`~mmssl.methods.scoring.Scoring`, trained with the objective ``loss.kind``
(:mod:`~mmssl.methods.video_text_objective`): one class registered under two names that
differ in their own objective.

``milnce`` (Miech et al., CVPR 2020): MIL-NCE over the K candidate narrations of each clip
(the reference uses raw dot products: ``loss.normalize=false``).
``clip`` (Radford et al., ICML 2021): symmetric InfoNCE against the anchor narration, with
CLIP's learnable temperature exp(logit_scale) (initialised to 1/τ, kept ≤ 100 in place
after each step) when ``loss.learn_temperature``.

Either takes any other kind: ``siglip``, ``mms``, ``margin_ranking`` (HowTo100M),
``hadsell``; ``loss.chunk_size`` gives each its memory-linear form.
"""

from __future__ import annotations

from torch import Tensor

from mmssl.config import TrainConfig
from mmssl.distributed import gather_features
from mmssl.methods.base import Method
from mmssl.methods.fields import reject_unused
from mmssl.methods.registry import METHODS
from mmssl.methods.scoring import Scoring
from mmssl.methods.terms import resolve_weights, weighted_total
from mmssl.methods.towers import (
    build_spaces,
    build_towers,
    chosen_space,
    space_fields,
    tower_fields,
)
from mmssl.methods.video_text_objective import (
    MARGIN_KINDS,
    VideoTextObjective,
    chosen_kind,
    objective_fields,
)

MODALITIES = ("video", "text")
OWN_KIND = {"milnce": "milnce", "clip": "infonce"}  # each registered name's own objective


@METHODS.register("milnce")
@METHODS.register("clip")
class VideoText(Method):
    """Video and text towers, one shared space; ``training_step(batch) -> {"loss",
    "loss_vt"[, "temperature"]}``. ``config.method`` (milnce | clip) picks the objective
    used when ``loss.kind`` is empty."""

    modalities = MODALITIES
    default_weights = {"vt": 1.0}

    def __init__(self, config: TrainConfig, vocab_size: int):
        super().__init__()
        method = config.method
        if method not in OWN_KIND:
            raise ValueError(f"video-text method: config.method must be one of "
                             f"{sorted(OWN_KIND)}, got {method!r}")
        kind = chosen_kind(config.loss, method, OWN_KIND[method])
        space = chosen_space(config, method, ("shared",))
        reject_unused(config, method, tower_fields(MODALITIES) | space_fields(space)
                      | objective_fields(kind))
        # The margin kinds compare embeddings as they are: no temperature to fix or learn.
        self.scoring = (Scoring(config.loss.normalize) if kind in MARGIN_KINDS else
                        Scoring.from_config(config.loss, method, learnable="logit_scale"))
        self.towers = build_towers(config, vocab_size, MODALITIES)
        self.spaces = build_spaces(config, self.towers, ("vt",), space)
        self.weights = resolve_weights(self.default_weights, config.loss.weights, method)
        self.objective = VideoTextObjective(kind, config.loss)

    def features(self, batch: dict) -> dict[str, Tensor]:
        """``video`` (B, D), ``text`` (B, K, D) candidates (K = 1, the anchor, unless the
        objective reads them all), ``text_mask`` (B, K), and the learnt 0-dim parameters
        of the scoring and the objective."""
        text, mask = batch["text"], batch["text_mask"]
        if not self.objective.uses_candidates:
            text, mask = text[:, :1], mask[:, :1]
        return {"video": self.embed("video", batch["video"])["vt"],
                "text": self.embed("text", text)["vt"], "text_mask": mask,
                **self.scoring.features(), **self.objective.features()}

    def loss(self, features: dict[str, Tensor]) -> dict[str, Tensor]:
        f = gather_features(features)
        vt = self.objective(f, self.scoring.scale(f))
        return {**weighted_total({"vt": vt}, self.weights), **self.scoring.report(f)}
