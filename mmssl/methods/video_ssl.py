"""Self-supervised video baselines on two augmented views of each clip (``data.views=2``).

``simclr`` (Chen et al., ICML 2020): encoder → projector → NT-Xent over the 2N views
(cosine similarity / ``loss.temperature``; the loss normalises, so ``loss.normalize`` must
stay true), negatives from the global batch, in blocks of ``loss.chunk_size`` anchors when
set.
``barlow_twins`` (Zbontar et al., ICML 2021): the same encoder and projector, and the
cross-correlation of the two batches of projections pushed towards the identity
(:class:`~mmssl.losses.BarlowTwinsLoss`, off-diagonal weight λ = ``loss.lambda_offdiag``)::

    L = Σ_i (1 − C_ii)² + λ Σ_{i≠j} C_ij²,   C = ẑ1ᵀẑ2 / N   (ẑ: standardised over the batch)

with the statistics of the *global* batch (the projections are gathered from every
process, as the reference's SyncBatchNorm and all-reduce do); no negatives and no
temperature, so ``loss.normalize``, ``loss.temperature`` and ``loss.chunk_size`` do not
apply (the paper's projector is three 8192-wide layers).
``simclr`` and ``barlow_twins`` are one class (:class:`TwoViews`) with the objective of the
registered name.
``byol`` (Grill et al., NeurIPS 2020): online encoder → projector → predictor regresses
the other view's target projection (2 − 2·cos: no temperature, no choice of scoring); the
target (encoder + projector) is an EMA of the online network,
θ_t ← m·θ_t + (1 − m)·θ_o with m = ``loss.momentum``, applied in :meth:`BYOL.after_step`.
The projector is ``model.head`` (an MLP when empty) into ``model.vat_dim``. None has a
text tower, so none does zero-shot retrieval.
"""

from __future__ import annotations

from torch import Tensor, nn

from mmssl.config import TrainConfig
from mmssl.distributed import gather_features
from mmssl.losses import BarlowTwinsLoss, BYOLLoss, NTXentLoss
from mmssl.methods.base import Method
from mmssl.methods.fields import reject_unused
from mmssl.methods.momentum import momentum_copy, momentum_update
from mmssl.methods.registry import METHODS
from mmssl.methods.scoring import SCORING_FIELDS, Scoring
from mmssl.methods.terms import resolve_weights, weighted_total
from mmssl.methods.towers import Towers, build_towers, tower_fields
from mmssl.models.heads import projection_head

MODALITIES = ("video",)


def projected_video_tower(config: TrainConfig, method: str, used: set[str]
                          ) -> tuple[Towers, nn.Module]:
    """The video tower and its projector of a two-view method, after checking that the
    config asks for two views and sets no field outside ``used`` and the ones they use."""
    if config.data.views != 2:
        raise ValueError(f"{method} needs two views of each clip: set data.views=2")
    reject_unused(config, method, used | tower_fields(MODALITIES)
                  | {"model.head", "model.vat_dim", "loss.weights", "data.views"})
    towers = build_towers(config, 0, MODALITIES)
    projector = projection_head(towers["video"].out_dim, config.model.vat_dim,
                                config.model.head or "mlp")
    return towers, projector


# The objective of each two-view name: the loss fields it reads, and the loss.
TWO_VIEW_FIELDS = {"simclr": SCORING_FIELDS | {"loss.chunk_size"},
                   "barlow_twins": {"loss.lambda_offdiag"}}


@METHODS.register("simclr")
@METHODS.register("barlow_twins")
class TwoViews(Method):
    """Encoder + projector on two views; ``config.method`` (simclr | barlow_twins) picks
    the objective."""

    modalities = MODALITIES
    default_weights = {"ssl": 1.0}

    def __init__(self, config: TrainConfig, vocab_size: int = 0):
        super().__init__()
        method, loss = config.method, config.loss
        if method not in TWO_VIEW_FIELDS:
            raise ValueError(f"two-view method: config.method must be one of "
                             f"{sorted(TWO_VIEW_FIELDS)}, got {method!r}")
        self.towers, self.projector = projected_video_tower(config, method,
                                                            TWO_VIEW_FIELDS[method])
        self.weights = resolve_weights(self.default_weights, loss.weights, method)
        if method == "simclr":
            self.scoring = Scoring.from_config(loss, method, cosine_only=True)
            self.objective = NTXentLoss(self.scoring.temperature, gather_distributed=True,
                                        chunk_size=loss.chunk_size)
        else:
            self.objective = BarlowTwinsLoss(loss.lambda_offdiag, gather_distributed=True)

    def embed(self, modality: str, x: Tensor) -> dict[str, Tensor]:
        """``{"video": projector(encoder(x))}`` (B, vat_dim), not normalised (the losses
        normalise or standardise)."""
        return {"video": self.projector(self.towers.encode(modality, x))}

    def features(self, batch: dict) -> dict[str, Tensor]:
        """Projections ``z1``, ``z2`` (B, D) of the two views (gathered by the loss)."""
        return {"z1": self.embed("video", batch["video"])["video"],
                "z2": self.embed("video", batch["video_view2"])["video"]}

    def loss(self, features: dict[str, Tensor]) -> dict[str, Tensor]:
        return weighted_total({"ssl": self.objective(features["z1"], features["z2"])},
                              self.weights)


@METHODS.register("byol")
class BYOL(Method):
    modalities = MODALITIES
    default_weights = {"ssl": 1.0}

    def __init__(self, config: TrainConfig, vocab_size: int = 0):
        super().__init__()
        self.towers, self.projector = projected_video_tower(config, "byol", {"loss.momentum"})
        self.weights = resolve_weights(self.default_weights, config.loss.weights, "byol")
        self.predictor = projection_head(config.model.vat_dim, config.model.vat_dim, "mlp")
        self.target = momentum_copy(self._online())
        self.momentum = config.loss.momentum
        self.objective = BYOLLoss()

    def _online(self) -> nn.ModuleDict:
        """The online network the target follows (the same modules, not a copy)."""
        return nn.ModuleDict({"encoder": self.towers["video"], "projector": self.projector})

    def embed(self, modality: str, x: Tensor) -> dict[str, Tensor]:
        """``{"video": projector(encoder(x))}`` (B, vat_dim), the online projection."""
        return {"video": self.projector(self.towers.encode(modality, x))}

    def _target(self, video: Tensor) -> Tensor:
        return self.target["projector"](self.target["encoder"](self.towers.inputs("video",
                                                                                  video)))

    def features(self, batch: dict) -> dict[str, Tensor]:
        """Online predictions ``p1``, ``p2`` and target projections ``t1``, ``t2`` (B, D)."""
        views = (batch["video"], batch["video_view2"])
        p1, p2 = (self.predictor(self.embed("video", v)["video"]) for v in views)
        t1, t2 = (self._target(v) for v in views)
        return {"p1": p1, "p2": p2, "t1": t1, "t2": t2}

    def loss(self, features: dict[str, Tensor]) -> dict[str, Tensor]:
        # No sample is another's negative, but gathering makes the loss (and what is
        # logged) that of the global batch on every process, as for every other method.
        f = gather_features(features)
        return weighted_total({"ssl": self.objective(f["p1"], f["p2"], f["t1"], f["t2"])},
                              self.weights)

    def after_step(self) -> None:
        """EMA update of the target network after each optimiser step."""
        momentum_update(self._online(), self.target, self.momentum)

