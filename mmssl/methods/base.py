"""What every method shares: ``training_step(batch) = loss(features(batch))``, reached
through ``forward`` (DDP synchronises gradients only through ``forward``, so gradient
accumulation's feature pass goes through it too, with ``features_only=True``)."""

from __future__ import annotations

from torch import Tensor, nn

from mmssl.methods.towers import embed


class Method(nn.Module):
    """Subclasses define ``features(batch)`` (this process's embeddings and masks) and
    ``loss(features)`` (gathers them from every process; ``{"loss", "loss_<term>"}``)."""

    def forward(self, batch: dict, features_only: bool = False) -> dict[str, Tensor]:
        """:meth:`training_step`, or :meth:`features` when ``features_only``."""
        return self.features(batch) if features_only else self.training_step(batch)

    def training_step(self, batch: dict) -> dict[str, Tensor]:
        return self.loss(self.features(batch))


class SpaceMethod(Method):
    """A method whose towers meet in embedding spaces (``self.towers``, ``self.spaces``,
    ``self.normalize``): :meth:`embed` gives ``{pair: (..., dim)}`` for a modality."""

    def embed(self, modality: str, x: Tensor) -> dict[str, Tensor]:
        return embed(self.towers, self.spaces, modality, x, self.normalize)
