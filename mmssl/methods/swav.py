"""SwAV for video clips (Caron et al., "Unsupervised Learning of Visual Features by
Contrasting Cluster Assignments", NeurIPS 2020): two augmented views of each clip
(``data.views=2``), their normalised projections scored against ``loss.prototypes``
prototypes c_k (unit vectors), and each view's code predicted from the other::

    z = normalize(g(f(v))),  s = z Cᵀ,  q = Sinkhorn(s)  (ε = loss.sinkhorn_epsilon)
    L = −½ mean_i Σ_k [q2_ik log softmax(s1_i/τ)_k + q1_ik log softmax(s2_i/τ)_k]

(:class:`~mmssl.losses.SwAVLoss`). Sinkhorn's equal partition is over the *global* batch
(scores gathered from every process, as the reference's ``distributed_sinkhorn``) and, once
full, a queue of ``loss.queue_size`` past projections per view (0: no queue), scored
against the current prototypes each step as the reference does. The prototypes are put
back on the unit sphere after every optimiser step (the reference does it before each
one); the reference's freezing of the prototypes during the first iterations and its
multi-crop views are not reproduced.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mmssl.config import TrainConfig
from mmssl.distributed import gather_features
from mmssl.losses import SwAVLoss
from mmssl.methods.base import Method
from mmssl.methods.moco import seeded
from mmssl.methods.queue import FeatureQueue
from mmssl.methods.registry import METHODS
from mmssl.methods.scoring import SCORING_FIELDS, Scoring
from mmssl.methods.terms import resolve_weights, weighted_total
from mmssl.methods.video_ssl import MODALITIES, projected_video_tower

SWAV_FIELDS = {"loss.prototypes", "loss.sinkhorn_epsilon", "loss.sinkhorn_iterations",
               "loss.queue_size"}


@METHODS.register("swav")
class SwAV(Method):
    modalities = MODALITIES
    default_weights = {"ssl": 1.0}

    def __init__(self, config: TrainConfig, vocab_size: int = 0):
        super().__init__()
        self.towers, self.projector = projected_video_tower(config, "swav",
                                                            SCORING_FIELDS | SWAV_FIELDS)
        loss = config.loss
        self.scoring = Scoring.from_config(loss, "swav", cosine_only=True)
        self.weights = resolve_weights(self.default_weights, loss.weights, "swav")
        if loss.prototypes < 1 or loss.queue_size < 0:
            raise ValueError(f"swav: need loss.prototypes >= 1 and loss.queue_size >= 0, got "
                             f"{loss.prototypes} and {loss.queue_size}")
        dim = config.model.vat_dim
        self.prototypes = nn.Linear(dim, loss.prototypes, bias=False)
        self.queues = nn.ModuleList(FeatureQueue(loss.queue_size, dim, seeded(config.seed + v))
                                    for v in range(2)) if loss.queue_size else None
        self.objective = SwAVLoss(self.scoring.temperature, loss.sinkhorn_epsilon,
                                  loss.sinkhorn_iterations)
        self._projections: tuple[Tensor, Tensor] | None = None
        self._normalize_prototypes()

    @torch.no_grad()
    def _normalize_prototypes(self) -> None:
        self.prototypes.weight.copy_(F.normalize(self.prototypes.weight, dim=1))

    def embed(self, modality: str, x: Tensor) -> dict[str, Tensor]:
        """``{"video": normalize(projector(encoder(x)))}`` (B, vat_dim)."""
        return {"video": F.normalize(self.projector(self.towers.encode(modality, x)), dim=-1)}

    def features(self, batch: dict) -> dict[str, Tensor]:
        """Projections ``z1``, ``z2`` (B, D) and prototype scores ``s1``, ``s2`` (B, K)."""
        z1, z2 = (self.embed("video", batch[key])["video"] for key in ("video", "video_view2"))
        return {"z1": z1, "z2": z2, "s1": self.prototypes(z1), "s2": self.prototypes(z2)}

    def _queue_scores(self) -> Tensor | None:
        """(2, Q, K): each view's queued projections against the current prototypes, once
        the queues are full (before that their rows are not past samples)."""
        if self.queues is None or not all(queue.full for queue in self.queues):
            return None
        weight = self.prototypes.weight.detach()
        return torch.stack([queue.features.to(weight) @ weight.t() for queue in self.queues])

    def loss(self, features: dict[str, Tensor]) -> dict[str, Tensor]:
        # This process's projections of the whole step, queued after it.
        self._projections = (features["z1"].detach(), features["z2"].detach())
        f = gather_features(features)
        ssl = self.objective(f["s1"], f["s2"], self._queue_scores())
        return weighted_total({"ssl": ssl}, self.weights)

    def after_step(self) -> None:
        """Prototypes back on the unit sphere; the step's projections join the queues."""
        super().after_step()
        self._normalize_prototypes()
        if self.queues is not None and self._projections is not None:
            for queue, projections in zip(self.queues, self._projections, strict=True):
                queue.enqueue(projections)
        self._projections = None
