"""One scoring policy for every method: whether embeddings are L2-normalised and how the
temperature τ applies, decided here from ``loss.normalize``, ``loss.temperature`` and
``loss.learn_temperature`` instead of in each method."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mmssl.config import LossConfig
from mmssl.losses.nce import MAX_LOGIT_SCALE

# The LossConfig fields a Scoring reads (a method that scores with one uses them all).
SCORING_FIELDS = frozenset({"loss.normalize", "loss.temperature", "loss.learn_temperature"})


class Scoring(nn.Module):
    """How a method scores two embeddings x, y::

        normalize=True    s(x, y) = x̂·ŷ / τ,  x̂ = x / ‖x‖     (cosine over a temperature)
        normalize=False   s(x, y) = x·y                        (raw dot products; no τ)
        learnable τ       1/τ = min(exp(logit_scale), 100), logit_scale initialised to
                          log(1/τ₀) (CLIP; needs normalize=True)

    Where each part applies: normalisation in :meth:`embedding`, when a method embeds
    (so evaluation scores the way training did); the temperature in the loss. A loss that
    divides by a temperature is built with :attr:`temperature` (τ, or 1 for raw dots); a
    loss without one (AVLnet's MMS) gets one side multiplied by :meth:`scale`; a loss that
    takes a learnable log-scale gets :meth:`logit_scale`. A learnable τ travels with the
    features as the 0-dim ``logit_scale`` (:meth:`features`), so that gradient
    accumulation and DDP see it like the embeddings.

    Args:
        normalize: score cosine similarities rather than raw dot products.
        temperature: τ₀ > 0 (unused when not ``normalize``).
        learnable: learn τ, starting from τ₀.
    """

    def __init__(self, normalize: bool = True, temperature: float = 0.07,
                 learnable: bool = False) -> None:
        super().__init__()
        if temperature <= 0:
            raise ValueError(f"Scoring: temperature must be > 0, got {temperature}")
        if learnable and not normalize:
            raise ValueError("Scoring: a learnable temperature needs normalised embeddings")
        self.normalize = normalize
        self.temperature = float(temperature) if normalize else 1.0
        self.logit_scale = (nn.Parameter(torch.tensor(math.log(1.0 / temperature)))
                            if learnable else None)

    @classmethod
    def from_config(cls, loss: LossConfig, method: str, learnable: bool = False,
                    cosine_only: bool = False) -> Scoring:
        """The scoring ``loss`` asks for, for ``method``, which may offer a learnable τ
        (``learnable``) or score only cosine / τ (``cosine_only``: its loss normalises).
        A field the policy would ignore, set away from its default, is an error."""
        if cosine_only and not loss.normalize:
            raise ValueError(f"{method}: loss.normalize=false is not available: its loss "
                             f"always scores cosine similarity / τ")
        if not loss.normalize and loss.temperature != LossConfig.temperature:
            raise ValueError(f"{method}: loss.temperature={loss.temperature} is unused with "
                             f"loss.normalize=false (raw dot products have no temperature)")
        if loss.learn_temperature and not (learnable and loss.normalize):
            reason = ("needs loss.normalize=true" if learnable
                      else "is not available for this method")
            raise ValueError(f"{method}: loss.learn_temperature {reason}")
        return cls(loss.normalize, loss.temperature, loss.learn_temperature)

    def embedding(self, z: Tensor) -> Tensor:
        """``z`` (..., D) as scored: L2-normalised along D when ``normalize``."""
        return F.normalize(z, dim=-1) if self.normalize else z

    def features(self) -> dict[str, Tensor]:
        """``{"logit_scale": ()}`` when τ is learnt, else ``{}``: to put among a method's
        features, so the loss reads the scale from them."""
        return {} if self.logit_scale is None else {"logit_scale": self.logit_scale}

    def logit_scale_of(self, features: dict[str, Tensor]) -> Tensor | None:
        """The learnable log-scale carried by ``features`` (None when τ is fixed)."""
        return features["logit_scale"] if self.logit_scale is not None else None

    def scale(self, features: dict[str, Tensor]) -> float | Tensor:
        """1/τ: a float for a fixed τ (1 for raw dots), min(exp(logit_scale), 100) when
        learnt (a 0-dim tensor carrying the gradient)."""
        logit_scale = self.logit_scale_of(features)
        if logit_scale is None:
            return 1.0 / self.temperature
        return logit_scale.exp().clamp(max=MAX_LOGIT_SCALE)

    def report(self, features: dict[str, Tensor]) -> dict[str, Tensor]:
        """``{"temperature": τ}`` to log when τ is learnt, else ``{}``."""
        if self.logit_scale is None:
            return {}
        return {"temperature": 1.0 / self.scale(features).detach()}

    def extra_repr(self) -> str:
        learnt = ", learnable" if self.logit_scale is not None else ""
        return f"normalize={self.normalize}, temperature={self.temperature}{learnt}"
