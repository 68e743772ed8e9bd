"""Symmetric pairwise InfoNCE (CLIP-style)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mmssl.distributed import gather_with_grad, rank, world_size
from mmssl.losses.checks import check_pair, connected_zero, kept_pair_rows, row_mask


class NCELoss(nn.Module):
    """Symmetric pairwise InfoNCE between two batches of paired embeddings.

    References:
        van den Oord, Li & Vinyals, "Representation Learning with Contrastive Predictive
        Coding", arXiv:1807.03748, 2018 (InfoNCE).
        Radford et al., "Learning Transferable Visual Models From Natural Language
        Supervision", ICML 2021 (symmetric form, learnable temperature).

    With (optionally L2-normalised) x_i, y_i and scale s (s = 1/τ, or s = exp(logit_scale)
    when a learnable ``logit_scale`` is given), logits l_ij = s · x_i·y_j and::

        L = ½·mean_i[-log softmax_j(l_ij)_i] + ½·mean_i[-log softmax_j(l_ji)_i]

    i.e. the mean of the x→y and y→x cross-entropies with the diagonal as targets.
    Row i of x is the only positive for row i of y; every other row in the batch is a
    negative. Gather embeddings across processes with
    :func:`mmssl.distributed.gather_with_grad` *before* calling this loss to use
    cross-process negatives.

    ``local_loss=True`` is open_clip's memory-saving option for many processes: pass this
    process's *local* rows; the loss gathers the other side itself and scores only the
    local rows against all W·B columns ((B, W·B) logits instead of (W·B)²), scaled by
    W / N_valid so that DDP's average over processes,
    (1/W)·Σ_p L_p = (1/N_valid)·Σ_{all rows} CE, is exactly the global loss above
    (forward and gradients).

    A learnable ``logit_scale`` is used as given, as open_clip's ``ClipLoss`` does: bound
    the parameter in place after each optimiser step (CLIP keeps exp(logit_scale) ≤ 100;
    :meth:`mmssl.methods.scoring.Scoring.clamp_`). A clamp inside the loss would give the
    parameter a zero gradient past the bound, so it could never come back.

    Args:
        temperature: τ, used when ``forward`` gets no ``logit_scale``.
        normalize: L2-normalise x and y along the feature dimension first.
        local_loss: score local rows against gathered columns (see above).

    Shapes:
        x: (B, D); y: (B, D); mask: (B,) bool, optional; logit_scale: scalar tensor,
        optional. Returns a scalar.
    """

    def __init__(self, temperature: float = 0.07, normalize: bool = True,
                 local_loss: bool = False) -> None:
        super().__init__()
        if temperature <= 0:
            raise ValueError(f"NCELoss: temperature must be > 0, got {temperature}")
        self.temperature = float(temperature)
        self.normalize = normalize
        self.local_loss = local_loss

    def forward(
        self,
        x: Tensor,
        y: Tensor,
        mask: Tensor | None = None,
        logit_scale: Tensor | None = None,
    ) -> Tensor:
        """Compute the loss.

        Args:
            x: (B, D) embeddings of the first modality.
            y: (B, D) embeddings of the second modality; y_i is the positive of x_i.
            mask: optional (B,) bool; rows where it is False are removed from the batch
                entirely (neither anchors nor negatives), e.g. clips with no audio track.
            logit_scale: optional scalar log-scale (CLIP); when given the logits are
                multiplied by ``logit_scale.exp()`` instead of 1/τ.

        Returns:
            Scalar loss. With no valid row it is a zero still connected to x and y, so
            ``backward`` works (and gives zero gradients) on an all-masked batch.
        """
        check_pair("NCELoss", x, y)
        if self.local_loss and world_size() > 1:
            return self._local(x, y, mask, logit_scale)
        x, y, zero = kept_pair_rows("NCELoss", x, y, mask)
        if x.shape[0] < 1:
            return zero
        if self.normalize:
            x = F.normalize(x, dim=-1)
            y = F.normalize(y, dim=-1)
        logits = self._scale(logit_scale) * (x @ y.t())
        targets = torch.arange(x.shape[0], device=x.device)
        loss_xy = F.cross_entropy(logits, targets)
        loss_yx = F.cross_entropy(logits.t(), targets)
        return 0.5 * (loss_xy + loss_yx)

    def _scale(self, logit_scale: Tensor | None):
        if logit_scale is None:
            return 1.0 / self.temperature
        return logit_scale.exp()

    def _local(self, x: Tensor, y: Tensor, mask: Tensor | None,
               logit_scale: Tensor | None) -> Tensor:
        """Local rows (B, D) against gathered columns (W·B, D); see the class docstring."""
        keep = row_mask("NCELoss", mask, x.shape[0])
        keep = torch.ones(x.shape[0], dtype=torch.bool, device=x.device) if keep is None else keep
        if self.normalize:
            x, y = F.normalize(x, dim=-1), F.normalize(y, dim=-1)
        x_all, y_all = gather_with_grad(x), gather_with_grad(y)
        keep_all = gather_with_grad(keep.float()).bool()
        if not keep_all.any():
            return connected_zero(x, y)
        scale = self._scale(logit_scale)
        blocked = torch.where(keep_all, 0.0, float("-inf"))  # masked rows are not negatives
        logits_xy = scale * (x @ y_all.t()) + blocked
        logits_yx = scale * (y @ x_all.t()) + blocked
        targets = rank() * x.shape[0] + torch.arange(x.shape[0], device=x.device)
        per_row = (F.cross_entropy(logits_xy, targets, reduction="none")
                   + F.cross_entropy(logits_yx, targets, reduction="none"))
        valid = keep_all.sum().clamp(min=1)
        total = torch.where(keep, per_row, 0.0).sum() + connected_zero(x, y)
        return 0.5 * world_size() * total / valid
