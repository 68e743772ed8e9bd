"""ALBEF-style momentum-distilled video–text contrastive learning (Li et al., "Align before
Fuse: Vision and Language Representation Learning with Momentum Distillation", NeurIPS
2021, Sec. 3.2 and 3.4), its image–text contrastive objective applied to clips and their
anchor narrations in one shared space.

A momentum copy of the towers and heads gives momentum embeddings v_m, t_m (no gradient);
queues of ``loss.queue_size`` past momentum embeddings per modality add negatives; the
targets mix the momentum model's softmax with the one-hot pairing, with weight α
(``loss.alpha``)::

    L = ½ [CE(v·[t_m; Q_t]ᵀ/τ, α·softmax(v_m·[t_m; Q_t]ᵀ/τ) + (1 − α)·I)
           + CE(t·[v_m; Q_v]ᵀ/τ, α·softmax(t_m·[v_m; Q_v]ᵀ/τ) + (1 − α)·I)]

(:class:`~mmssl.losses.ALBEFContrastiveLoss`). τ is ALBEF's learnt temperature when
``loss.learn_temperature`` (initialised to ``loss.temperature``, kept in [0.001, 0.5] in
place: :class:`~mmssl.methods.scoring.Scoring`), else fixed. After every optimiser step the
momentum model moves by θ_m ← m·θ_m + (1 − m)·θ (m = ``loss.momentum``; ALBEF's 0.995) and
the step's momentum embeddings of the *global* batch join the queues, in the same order on
every rank. Unlike the reference, whose in-batch negatives are each GPU's own batch, the
batch part of the negatives is the global batch (gathered, as in every method here), so W
processes train exactly as one process on their global batch; α is constant (the
reference ramps it from 0 over the first epoch).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from mmssl.config import TrainConfig
from mmssl.distributed import gather_features
from mmssl.losses import ALBEFContrastiveLoss
from mmssl.methods.base import Method
from mmssl.methods.fields import reject_unused
from mmssl.methods.moco import MOMENTUM_FIELDS, seeded
from mmssl.methods.momentum import momentum_copy, momentum_update
from mmssl.methods.queue import FeatureQueue
from mmssl.methods.registry import METHODS
from mmssl.methods.scoring import SCORING_FIELDS, Scoring
from mmssl.methods.terms import resolve_weights, weighted_total
from mmssl.methods.towers import (
    build_spaces,
    build_towers,
    chosen_space,
    embed,
    space_fields,
    tower_fields,
)

MODALITIES = ("video", "text")


@METHODS.register("albef")
class ALBEF(Method):
    modalities = MODALITIES
    default_weights = {"vt": 1.0}

    def __init__(self, config: TrainConfig, vocab_size: int):
        super().__init__()
        space = chosen_space(config, "albef", ("shared",))
        reject_unused(config, "albef", tower_fields(MODALITIES) | space_fields(space)
                      | SCORING_FIELDS | MOMENTUM_FIELDS | {"loss.alpha", "loss.weights"})
        loss = config.loss
        self.scoring = Scoring.from_config(loss, "albef", learnable="temperature",
                                           cosine_only=True)
        self.towers = build_towers(config, vocab_size, MODALITIES)
        self.spaces = build_spaces(config, self.towers, ("vt",), space)
        self.weights = resolve_weights(self.default_weights, loss.weights, "albef")
        if loss.queue_size < 0:
            raise ValueError(f"albef: loss.queue_size must be >= 0, got {loss.queue_size}")
        self.target = momentum_copy(self._online())
        dim = config.model.vat_dim
        self.queues = nn.ModuleDict({m: FeatureQueue(loss.queue_size, dim, seeded(config.seed + i))
                                     for i, m in enumerate(MODALITIES)})
        self.momentum = loss.momentum
        self.objective = ALBEFContrastiveLoss(self.scoring.temperature, loss.alpha,
                                              loss.chunk_size)
        self._momentum_features: dict[str, Tensor] = {}

    def _online(self) -> nn.ModuleDict:
        """The towers and heads the momentum model follows (the same modules)."""
        return nn.ModuleDict({"towers": self.towers, "spaces": self.spaces})

    @torch.no_grad()
    def _momentum_embedding(self, modality: str, x: Tensor) -> Tensor:
        return embed(self.target["towers"], self.target["spaces"], modality, x,
                     self.scoring)["vt"]

    def features(self, batch: dict) -> dict[str, Tensor]:
        """``video``, anchor ``text`` (B, D), their momentum embeddings ``video_m``,
        ``text_m`` (B, D), and the learnt τ (0-dim) when learnt."""
        anchor = batch["text"][:, 0]
        return {"video": self.embed("video", batch["video"])["vt"],
                "text": self.embed("text", anchor)["vt"],
                "video_m": self._momentum_embedding("video", batch["video"]),
                "text_m": self._momentum_embedding("text", anchor),
                **self.scoring.features()}

    def loss(self, features: dict[str, Tensor]) -> dict[str, Tensor]:
        # This process's momentum embeddings of the whole step, queued after it.
        self._momentum_features = {m: features[f"{m}_m"].detach() for m in MODALITIES}
        f = gather_features(features)
        vt = self.objective(f["video"], f["text"], f["video_m"], f["text_m"],
                            self.queues["video"].features, self.queues["text"].features,
                            temperature=self.scoring.temperature_of(f))
        return {**weighted_total({"vt": vt}, self.weights), **self.scoring.report(f)}

    def after_step(self) -> None:
        """τ back in [0.001, 0.5]; momentum update; the step's momentum embeddings queued."""
        super().after_step()
        momentum_update(self._online(), self.target, self.momentum)
        for modality, keys in self._momentum_features.items():
            self.queues[modality].enqueue(keys)
        self._momentum_features = {}
