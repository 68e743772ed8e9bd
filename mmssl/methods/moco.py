"""MoCo for video clips: a query encoder, its momentum (key) encoder and a queue of past keys.

He et al., "Momentum Contrast for Unsupervised Visual Representation Learning", CVPR 2020;
Chen et al., "Improved Baselines with Momentum Contrastive Learning" (v2: MLP projector,
τ = 0.2, stronger augmentation); for video clips as in Feichtenhofer et al., "A
Large-Scale Study on Unsupervised Spatiotemporal Representation Learning", CVPR 2021
(ρMoCo with ρ = 2: two clips of one video). The loss is symmetrised, each view in turn the
query, as in MoCo v3 and the reference's symmetric CIFAR demo::

    q_v = normalize(g(f(v))),  k_v = normalize(g_m(f_m(v)))      (no gradient through k)
    L = MoCo(q_1, k_2, Q) + MoCo(q_2, k_1, Q)                   (mmssl.losses.MoCoLoss)

with Q the queue of ``loss.queue_size`` past keys. After each optimiser step
(:meth:`MoCo.after_step`) the key encoder moves by θ_m ← m·θ_m + (1 − m)·θ with
m = ``loss.momentum``, then the step's keys k_1, then k_2, join the queue: the keys of the
*global* batch, in the same order on every rank (every micro-batch of this process, then
gathered in rank order by :class:`~mmssl.methods.queue.FeatureQueue`), so a run on W
processes keeps, slot for slot, the queue one process would. The per-GPU shuffled batch norm of the
reference is not reproduced: the key encoder's batch norm uses each process's batch.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mmssl.config import TrainConfig
from mmssl.distributed import gather_features
from mmssl.losses import MoCoLoss
from mmssl.methods.base import Method
from mmssl.methods.momentum import momentum_copy, momentum_update
from mmssl.methods.queue import FeatureQueue
from mmssl.methods.registry import METHODS
from mmssl.methods.scoring import SCORING_FIELDS, Scoring
from mmssl.methods.terms import resolve_weights, weighted_total
from mmssl.methods.video_ssl import MODALITIES, projected_video_tower

MOMENTUM_FIELDS = {"loss.momentum", "loss.queue_size", "loss.chunk_size"}


def seeded(seed: int) -> torch.Generator:
    """A generator for a queue's initial rows: the same on every process."""
    return torch.Generator().manual_seed(seed)


@METHODS.register("moco")
class MoCo(Method):
    modalities = MODALITIES
    default_weights = {"ssl": 1.0}

    def __init__(self, config: TrainConfig, vocab_size: int = 0):
        super().__init__()
        self.towers, self.projector = projected_video_tower(config, "moco",
                                                            SCORING_FIELDS | MOMENTUM_FIELDS)
        self.scoring = Scoring.from_config(config.loss, "moco", cosine_only=True)
        self.weights = resolve_weights(self.default_weights, config.loss.weights, "moco")
        if config.loss.queue_size < 1:
            raise ValueError("moco: its negatives are the queue: set loss.queue_size >= 1")
        self.target = momentum_copy(self._online())
        self.queue = FeatureQueue(config.loss.queue_size, config.model.vat_dim,
                                  seeded(config.seed))
        self.momentum = config.loss.momentum
        self.objective = MoCoLoss(self.scoring.temperature, config.loss.chunk_size)
        self._keys: tuple[Tensor, Tensor] | None = None

    def _online(self) -> nn.ModuleDict:
        """The network the key encoder follows (the same modules, not a copy)."""
        return nn.ModuleDict({"encoder": self.towers["video"], "projector": self.projector})

    def embed(self, modality: str, x: Tensor) -> dict[str, Tensor]:
        """``{"video": normalize(projector(encoder(x)))}`` (B, vat_dim): the query."""
        return {"video": F.normalize(self.projector(self.towers.encode(modality, x)), dim=-1)}

    @torch.no_grad()
    def _key(self, video: Tensor) -> Tensor:
        inputs = self.towers.inputs("video", video)
        return F.normalize(self.target["projector"](self.target["encoder"](inputs)), dim=-1)

    def features(self, batch: dict) -> dict[str, Tensor]:
        """Queries ``q1``, ``q2`` and keys ``k1``, ``k2`` (B, D) of the two views."""
        views = (batch["video"], batch["video_view2"])
        q1, q2 = (self.embed("video", v)["video"] for v in views)
        k1, k2 = (self._key(v) for v in views)
        return {"q1": q1, "q2": q2, "k1": k1, "k2": k2}

    def loss(self, features: dict[str, Tensor]) -> dict[str, Tensor]:
        # This process's keys of the whole step (every micro-batch), enqueued after it.
        self._keys = (features["k1"].detach(), features["k2"].detach())
        f, queue = gather_features(features), self.queue.features
        ssl = self.objective(f["q1"], f["k2"], queue) + self.objective(f["q2"], f["k1"], queue)
        return weighted_total({"ssl": ssl}, self.weights)

    def after_step(self) -> None:
        """Momentum update of the key encoder, then the step's keys join the queue."""
        super().after_step()
        momentum_update(self._online(), self.target, self.momentum)
        if self._keys is not None:
            for keys in self._keys:  # view by view: the same slots whatever the split
                self.queue.enqueue(keys)
            self._keys = None
