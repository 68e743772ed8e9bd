"""One scoring policy for every method: whether embeddings are L2-normalised and how the
temperature τ applies, decided here from ``loss.normalize``, ``loss.temperature`` and
``loss.learn_temperature`` instead of in each method."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mmssl.config import LossConfig
from mmssl.losses.albef import TEMPERATURE_MAX, TEMPERATURE_MIN

MAX_LOGIT_SCALE = 100.0  # CLIP: 1/τ = exp(logit_scale) ≤ 100
# How a learnt temperature is parametrised, and the bounds its parameter is kept in.
LEARNT = {
    "logit_scale": (0.0, math.log(MAX_LOGIT_SCALE)),  # CLIP / open_clip: 1/τ = exp(s)
    "temperature": (TEMPERATURE_MIN, TEMPERATURE_MAX),  # ALBEF: τ itself
}

# The LossConfig fields a Scoring reads (a method that scores with one uses them all).
SCORING_FIELDS = frozenset({"loss.normalize", "loss.temperature", "loss.learn_temperature"})


class Scoring(nn.Module):
    """How a method scores two embeddings x, y::

        normalize=True    s(x, y) = x̂·ŷ / τ,  x̂ = x / ‖x‖     (cosine over a temperature)
        normalize=False   s(x, y) = x·y                        (raw dot products; no τ)
        learnt "logit_scale"   1/τ = exp(logit_scale), logit_scale initialised to log(1/τ₀)
                               and kept in [0, log 100] (CLIP, open_clip)
        learnt "temperature"   τ itself, initialised to τ₀ and kept in [0.001, 0.5] (ALBEF)

    Where each part applies: normalisation in :meth:`embedding`, when a method embeds
    (so evaluation scores the way training did); the temperature in the loss. A loss that
    divides by a temperature is built with :attr:`temperature` (τ, or 1 for raw dots); a
    loss without one (AVLnet's MMS) gets one side multiplied by :meth:`scale`; a loss that
    takes a learnable log-scale gets :meth:`logit_scale_of`, one that takes τ
    :meth:`temperature_of`. A learnt parameter travels with the features as a 0-dim entry
    (:meth:`features`), so that gradient accumulation and DDP see it like the embeddings.

    The bounds are kept *in place* on the parameter (:meth:`clamp_`, which a method calls
    after every optimiser step, and at construction), as open_clip clamps ``logit_scale``
    after each step and ALBEF clamps ``temp`` before each forward. The losses use the
    parameter as it is: a functional clamp (``exp(s).clamp(max=100)``) would give it a
    zero gradient once past the bound, so it would stay there for ever.

    Args:
        normalize: score cosine similarities rather than raw dot products.
        temperature: τ₀ > 0 (unused when not ``normalize``).
        learnt: ``""`` (fixed τ), ``"logit_scale"`` or ``"temperature"`` (see above).
    """

    def __init__(self, normalize: bool = True, temperature: float = 0.07,
                 learnt: str = "") -> None:
        super().__init__()
        if temperature <= 0:
            raise ValueError(f"Scoring: temperature must be > 0, got {temperature}")
        if learnt and not normalize:
            raise ValueError("Scoring: a learnable temperature needs normalised embeddings")
        if learnt and learnt not in LEARNT:
            raise ValueError(f"Scoring: learnt must be one of {sorted(LEARNT)}, got {learnt!r}")
        self.normalize = normalize
        self.temperature = float(temperature) if normalize else 1.0
        self.learnt = learnt
        initial = {"logit_scale": math.log(1.0 / temperature), "temperature": temperature}
        self.logit_scale = self.learnt_temperature = None
        if learnt:
            parameter = nn.Parameter(torch.tensor(initial[learnt]))
            setattr(self, "logit_scale" if learnt == "logit_scale" else "learnt_temperature",
                    parameter)
        self.clamp_()

    @classmethod
    def from_config(cls, loss: LossConfig, method: str, learnable: str = "",
                    cosine_only: bool = False) -> Scoring:
        """The scoring ``loss`` asks for, for ``method``, which may learn τ in the
        parametrisation ``learnable`` (``""``: it offers no learnt τ) or score only
        cosine / τ (``cosine_only``: its loss normalises). A field the policy would
        ignore, set away from its default, is an error."""
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
        return cls(loss.normalize, loss.temperature,
                   learnable if loss.learn_temperature else "")

    @property
    def parameter(self) -> nn.Parameter | None:
        """The learnt parameter (``logit_scale`` or ``learnt_temperature``), or None."""
        return self.logit_scale if self.logit_scale is not None else self.learnt_temperature

    @torch.no_grad()
    def clamp_(self) -> None:
        """Put the learnt parameter back inside its bounds, in place (nothing when fixed)."""
        if self.learnt:
            self.parameter.clamp_(*LEARNT[self.learnt])

    def embedding(self, z: Tensor) -> Tensor:
        """``z`` (..., D) as scored: L2-normalised along D when ``normalize``."""
        return F.normalize(z, dim=-1) if self.normalize else z

    def features(self) -> dict[str, Tensor]:
        """``{"logit_scale": ()}`` or ``{"learnt_temperature": ()}`` when τ is learnt, else
        ``{}``: to put among a method's features, so the loss reads it from them."""
        if not self.learnt:
            return {}
        name = "logit_scale" if self.learnt == "logit_scale" else "learnt_temperature"
        return {name: self.parameter}

    def logit_scale_of(self, features: dict[str, Tensor]) -> Tensor | None:
        """The learnable log-scale carried by ``features`` (None when τ is not learnt as
        one)."""
        return features["logit_scale"] if self.learnt == "logit_scale" else None

    def temperature_of(self, features: dict[str, Tensor]) -> Tensor | None:
        """The learnt τ carried by ``features`` (None when τ is not learnt as itself)."""
        return features["learnt_temperature"] if self.learnt == "temperature" else None

    def scale(self, features: dict[str, Tensor]) -> float | Tensor:
        """1/τ: a float for a fixed τ (1 for raw dots), a 0-dim tensor carrying the
        gradient when learnt."""
        if self.learnt == "logit_scale":
            return features["logit_scale"].exp()
        if self.learnt == "temperature":
            return 1.0 / features["learnt_temperature"]
        return 1.0 / self.temperature

    def report(self, features: dict[str, Tensor]) -> dict[str, Tensor]:
        """``{"temperature": τ}`` to log when τ is learnt, else ``{}``."""
        if not self.learnt:
            return {}
        return {"temperature": 1.0 / self.scale(features).detach()}

    def extra_repr(self) -> str:
        learnt = f", learnt={self.learnt}" if self.learnt else ""
        return f"normalize={self.normalize}, temperature={self.temperature}{learnt}"
