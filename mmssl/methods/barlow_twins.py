"""Barlow Twins for video clips (Zbontar et al., "Barlow Twins: Self-Supervised Learning via
Redundancy Reduction", ICML 2021): two augmented views of each clip (``data.views=2``)
through the encoder and projector, and the cross-correlation of the two batches of
projections pushed towards the identity (:class:`~mmssl.losses.BarlowTwinsLoss`, weight
λ = ``loss.lambda_offdiag`` on the off-diagonal)::

    L = Σ_i (1 − C_ii)² + λ Σ_{i≠j} C_ij²,   C = ẑ1ᵀẑ2 / N   (ẑ: standardised over the batch)

The batch statistics are those of the *global* batch (the projections are gathered from
every process first, as the reference's SyncBatchNorm and all-reduce do). No negatives and
no temperature: ``loss.normalize``, ``loss.temperature`` and ``loss.chunk_size`` do not
apply. The projector is ``model.head`` (an MLP when empty) into ``model.vat_dim`` (the
paper's is three 8192-wide layers).
"""

from __future__ import annotations

from torch import Tensor

from mmssl.config import TrainConfig
from mmssl.losses import BarlowTwinsLoss
from mmssl.methods.base import Method
from mmssl.methods.registry import METHODS
from mmssl.methods.terms import resolve_weights, weighted_total
from mmssl.methods.video_ssl import MODALITIES, projected_video_tower


@METHODS.register("barlow_twins")
class BarlowTwins(Method):
    modalities = MODALITIES
    default_weights = {"ssl": 1.0}

    def __init__(self, config: TrainConfig, vocab_size: int = 0):
        super().__init__()
        self.towers, self.projector = projected_video_tower(config, "barlow_twins",
                                                            {"loss.lambda_offdiag"})
        self.weights = resolve_weights(self.default_weights, config.loss.weights,
                                       "barlow_twins")
        self.objective = BarlowTwinsLoss(config.loss.lambda_offdiag, gather_distributed=True)

    def embed(self, modality: str, x: Tensor) -> dict[str, Tensor]:
        """``{"video": projector(encoder(x))}`` (B, vat_dim)."""
        return {"video": self.projector(self.towers.encode(modality, x))}

    def features(self, batch: dict) -> dict[str, Tensor]:
        """Projections ``z1``, ``z2`` (B, D) of the two views (gathered by the loss)."""
        return {"z1": self.embed("video", batch["video"])["video"],
                "z2": self.embed("video", batch["video_view2"])["video"]}

    def loss(self, features: dict[str, Tensor]) -> dict[str, Tensor]:
        return weighted_total({"ssl": self.objective(features["z1"], features["z2"])},
                              self.weights)
