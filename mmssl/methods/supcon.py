"""Supervised contrastive learning on labelled clips (Khosla et al., "Supervised Contrastive
Learning", NeurIPS 2020, L_out): every clip of the same class in the global batch is a
positive, every other clip a negative::

    z = normalize(g(f(x)))   (V views of each clip: data.views, 1 or 2)
    L = mean_a −(1/|P(a)|) Σ_{p∈P(a)} log(exp(z_a·z_p/τ) / Σ_{k≠a} exp(z_a·z_k/τ))

(:class:`~mmssl.losses.SupConLoss`; anchors without a positive are left out). The clips
are labelled ones (``data.label_key``: COIN ``task_id`` / ``step_id``, AudioSet
``indices``; :mod:`mmssl.data.labelled_clips`), of ``data.label_modality`` (video, or
audio for AudioSet); a sample without a label is an error there. Features and labels are
gathered from every process, so positives and negatives come from the global batch;
``loss.chunk_size`` takes the anchors in blocks. The projector is ``model.head`` (an MLP
when empty) into ``model.vat_dim``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from mmssl.config import TrainConfig
from mmssl.distributed import gather_features
from mmssl.losses import SupConLoss
from mmssl.methods.base import Method
from mmssl.methods.fields import reject_unused
from mmssl.methods.registry import METHODS
from mmssl.methods.scoring import SCORING_FIELDS, Scoring
from mmssl.methods.terms import resolve_weights, weighted_total
from mmssl.methods.towers import build_towers, tower_fields
from mmssl.models.heads import projection_head

LABEL_FIELDS = {"data.views", "data.label_key", "data.label_subset", "data.label_modality"}


@METHODS.register("supcon")
class SupCon(Method):
    modalities = ("video",)  # or ("audio",): data.label_modality, set per instance
    default_weights = {"ssl": 1.0}

    def __init__(self, config: TrainConfig, vocab_size: int = 0):
        super().__init__()
        if not config.data.label_key:
            raise ValueError("supcon trains on labelled clips: set data.label_key (COIN: "
                             "task_id or step_id; AudioSet: indices) and data.shards to "
                             "shards that have it")
        modality = config.data.label_modality
        self.modalities = (modality,)
        reject_unused(config, "supcon", tower_fields(self.modalities) | SCORING_FIELDS
                      | LABEL_FIELDS | {"model.head", "model.vat_dim", "loss.weights",
                                        "loss.chunk_size"})
        self.scoring = Scoring.from_config(config.loss, "supcon", cosine_only=True)
        self.towers = build_towers(config, 0, self.modalities)
        self.projector = projection_head(self.towers[modality].out_dim, config.model.vat_dim,
                                         config.model.head or "mlp")
        self.weights = resolve_weights(self.default_weights, config.loss.weights, "supcon")
        self.objective = SupConLoss(self.scoring.temperature,
                                    chunk_size=config.loss.chunk_size)

    def embed(self, modality: str, x: Tensor) -> dict[str, Tensor]:
        """``{modality: projector(encoder(x))}`` (B, vat_dim), not normalised (the loss
        normalises)."""
        return {modality: self.projector(self.towers.encode(modality, x))}

    def features(self, batch: dict) -> dict[str, Tensor]:
        """``z`` (B, V, D): the projections of the V views; ``label`` (B,)."""
        modality = self.modalities[0]
        keys = [modality] + (["video_view2"] if "video_view2" in batch else [])
        views = [self.embed(modality, batch[key])[modality] for key in keys]
        return {"z": torch.stack(views, dim=1), "label": batch["label"]}

    def loss(self, features: dict[str, Tensor]) -> dict[str, Tensor]:
        f = gather_features(features)
        return weighted_total({"ssl": self.objective(f["z"], f["label"])}, self.weights)
