"""What every method shares: ``training_step(batch) = loss(features(batch))``, reached
through ``forward`` (DDP synchronises gradients only through ``forward``, so gradient
accumulation's feature pass goes through it too, with ``features_only=True``), and
``embed`` through towers and embedding spaces.

Methods subclass :class:`Method` directly (one level); what several share beyond this
skeleton is a function or a component (:mod:`~mmssl.methods.towers`,
:class:`~mmssl.methods.scoring.Scoring`, :mod:`~mmssl.methods.terms`).
"""

from __future__ import annotations

from torch import Tensor, nn

from mmssl.methods.towers import embed


class Method(nn.Module):
    """Subclasses set ``modalities`` and ``self.towers`` (``nn.ModuleDict`` by modality) and
    define ``features(batch)`` (this process's embeddings and masks) and
    ``loss(features)`` (gathers them from every process; ``{"loss", "loss_<term>"}``);
    :meth:`after_step` runs after every optimiser step.

    :meth:`embed` goes through ``self.spaces`` (:class:`~mmssl.models.spaces.EmbeddingSpaces`)
    scored by ``self.scoring``; a method without embedding spaces (SimCLR, BYOL) defines
    its own.
    """

    modalities: tuple[str, ...] = ()

    def forward(self, batch: dict, features_only: bool = False) -> dict[str, Tensor]:
        """:meth:`training_step`, or :meth:`features` when ``features_only``."""
        return self.features(batch) if features_only else self.training_step(batch)

    def training_step(self, batch: dict) -> dict[str, Tensor]:
        return self.loss(self.features(batch))

    def embed(self, modality: str, x: Tensor) -> dict[str, Tensor]:
        """``{pair: (..., dim)}``: ``x`` in every space its modality meets another in."""
        return embed(self.towers, self.spaces, modality, x, self.scoring)

    def after_step(self) -> None:
        """Called by the loop after every optimiser step: keeps a learnt temperature inside
        its bounds (:meth:`Scoring.clamp_ <mmssl.methods.scoring.Scoring.clamp_>`). Methods
        with momentum encoders or queues extend it."""
        scoring = getattr(self, "scoring", None)
        if scoring is not None:
            scoring.clamp_()
