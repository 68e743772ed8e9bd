"""Self-supervised video baselines on two augmented views of each clip (``data.views=2``).

``simclr`` (Chen et al., ICML 2020): encoder → MLP projector → NT-Xent over the 2N views
(temperature ``loss.temperature``), negatives from the global batch.
``byol`` (Grill et al., NeurIPS 2020): online encoder → projector → predictor regresses
the other view's target projection; the target (encoder + projector) is an EMA of the
online network, θ_t ← m·θ_t + (1 − m)·θ_o with m = ``loss.momentum``, applied in
:meth:`BYOL.after_step`. Neither has a text tower, so neither does zero-shot retrieval.
"""

from __future__ import annotations

from torch import Tensor, nn

from mmssl.config import TrainConfig
from mmssl.losses import BYOLLoss, NTXentLoss
from mmssl.methods.base import Method
from mmssl.methods.momentum import momentum_copy, momentum_update
from mmssl.methods.registry import METHODS
from mmssl.methods.terms import resolve_weights, weighted_total
from mmssl.methods.towers import build_towers
from mmssl.models.heads import projection_head


class _TwoViews(Method):
    modalities = ("video",)
    default_weights = {"ssl": 1.0}

    def __init__(self, config: TrainConfig, name: str):
        super().__init__()
        if config.data.views != 2:
            raise ValueError(f"{name} needs two views of each clip: set data.views=2")
        self.towers = build_towers(config, 0, self.modalities)
        self.projector = projection_head(self.towers["video"].out_dim, config.model.vat_dim,
                                         "mlp")
        self.weights = resolve_weights(self.default_weights, config.loss.weights, name)

    def embed(self, modality: str, x: Tensor) -> dict[str, Tensor]:
        """``{"video": projector(encoder(x))}`` (B, vat_dim)."""
        return {"video": self.projector(self.towers[modality](x))}


@METHODS.register("simclr")
class SimCLR(_TwoViews):
    def __init__(self, config: TrainConfig, vocab_size: int = 0):
        super().__init__(config, "simclr")
        self.objective = NTXentLoss(temperature=config.loss.temperature,
                                    gather_distributed=True)

    def features(self, batch: dict) -> dict[str, Tensor]:
        """Projections ``z1``, ``z2`` (B, D) of the two views (gathered by the loss)."""
        return {"z1": self.embed("video", batch["video"])["video"],
                "z2": self.embed("video", batch["video_view2"])["video"]}

    def loss(self, features: dict[str, Tensor]) -> dict[str, Tensor]:
        return weighted_total({"ssl": self.objective(features["z1"], features["z2"])},
                              self.weights)


@METHODS.register("byol")
class BYOL(_TwoViews):
    def __init__(self, config: TrainConfig, vocab_size: int = 0):
        super().__init__(config, "byol")
        self.predictor = projection_head(config.model.vat_dim, config.model.vat_dim, "mlp")
        self.target = momentum_copy(nn.ModuleDict({"encoder": self.towers["video"],
                                                   "projector": self.projector}))
        self.momentum = config.loss.momentum
        self.objective = BYOLLoss()

    def _target(self, video: Tensor) -> Tensor:
        return self.target["projector"](self.target["encoder"](video))

    def features(self, batch: dict) -> dict[str, Tensor]:
        """Online predictions ``p1``, ``p2`` and target projections ``t1``, ``t2`` (B, D)."""
        views = (batch["video"], batch["video_view2"])
        p1, p2 = (self.predictor(self.embed("video", v)["video"]) for v in views)
        t1, t2 = (self._target(v) for v in views)
        return {"p1": p1, "p2": p2, "t1": t1, "t2": t2}

    def loss(self, features: dict[str, Tensor]) -> dict[str, Tensor]:
        f = features
        return weighted_total({"ssl": self.objective(f["p1"], f["p2"], f["t1"], f["t2"])},
                              self.weights)

    def after_step(self) -> None:
        """EMA update of the target network after each optimiser step."""
        momentum_update(nn.ModuleDict({"encoder": self.towers["video"],
                                       "projector": self.projector}), self.target, self.momentum)
