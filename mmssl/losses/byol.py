"""BYOL: regression of the online prediction onto the target projection of the other view."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn


def normalized_mse(p: Tensor, t: Tensor) -> Tensor:
    """‖p̄ - t̄‖² = 2 - 2·cos(p, t) per row, with p̄ = p/‖p‖. Shapes: (N, D), (N, D) -> (N,)."""
    return 2.0 - 2.0 * (F.normalize(p, dim=-1) * F.normalize(t, dim=-1)).sum(dim=-1)


class BYOLLoss(nn.Module):
    """Symmetrised BYOL loss between online predictions and target projections.

    Reference:
        Grill et al., "Bootstrap Your Own Latent: A New Approach to Self-Supervised
        Learning", NeurIPS 2020, Sec. 3.1, Eq. (2) and the symmetrised L^BYOL below it.
        Reference code: github.com/deepmind/deepmind-research, ``byol/byol_experiment.py``
        (``loss_fn``: the two per-sample regression losses are *added*, then averaged
        over the batch).

    With p1 = q_θ(z_θ(v)), p2 = q_θ(z_θ(v')) the online predictions and t1 = z'_ξ(v),
    t2 = z'_ξ(v') the target projections of the two views v, v' of sample i::

        ℓ(p, t) = ‖p/‖p‖ - t/‖t‖‖² = 2 - 2·cos(p, t)
        L       = mean_i [ ℓ(p1_i, t2_i) + ℓ(p2_i, t1_i) ]

    Convention: the paper defines L^BYOL = L + L̃, the *sum* of the two symmetric terms,
    and its code does the same, so L ∈ [0, 8] (each term ∈ [0, 4]); halving it (a mean of
    the two, as some re-implementations do) only rescales the gradient by ½, which an
    optimiser's learning rate absorbs. L = 0 exactly when every prediction points along
    the target of the other view.

    Targets are detached inside the loss (the paper's stop-gradient sg(z'_ξ)): no gradient
    reaches t1, t2 or the target network, which is updated only by its EMA
    ξ ← τ_ema·ξ + (1 - τ_ema)·θ (owned by the Method, not by this loss).

    The loss has no cross-sample terms, so it needs no cross-process gather: under DDP
    the per-process mean and gradient averaging already give the global-batch mean.

    Shapes:
        p1, p2, t1, t2: (N, D) each. Returns a scalar.
    """

    def forward(self, p1: Tensor, p2: Tensor, t1: Tensor, t2: Tensor) -> Tensor:
        """Compute the loss; see the class docstring for the formula and shapes."""
        shapes = {tuple(x.shape) for x in (p1, p2, t1, t2)}
        if p1.ndim != 2 or len(shapes) != 1:
            raise ValueError(f"BYOLLoss: expected p1, p2, t1, t2 of one shape (N, D), got "
                             f"{[tuple(x.shape) for x in (p1, p2, t1, t2)]}")
        per_sample = normalized_mse(p1, t2.detach()) + normalized_mse(p2, t1.detach())
        return per_sample.mean()
