"""ALBEF image–text contrastive loss with momentum distillation."""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mmssl.losses.checks import check_pair, check_queue, connected_zero
from mmssl.losses.row_blocks import row_block_sum, row_index

TEMPERATURE_MIN, TEMPERATURE_MAX = 0.001, 0.5


class ALBEFContrastiveLoss(nn.Module):
    """Symmetric contrastive loss against momentum features and queues, with soft targets.

    Reference:
        Li, Selvaraju, Gotmare, Joty, Xiong & Hoi, "Align before Fuse: Vision and Language
        Representation Learning with Momentum Distillation", NeurIPS 2021, Sec. 3.2 (ITC)
        and Sec. 3.4 (momentum distillation). Reference code: github.com/salesforce/ALBEF,
        ``models/model_pretrain.py`` (``ALBEF.forward``, ``loss_ita``).

    Online features x_i, y_i; momentum features x_m, y_m; queues qx, qy of past momentum
    features. Candidates all_y = [y_m; qy], all_x = [x_m; qx] ((B + K, D)); with
    s_x2y = x·all_yᵀ/τ, s_y2x = y·all_xᵀ/τ and the momentum model's s_m_x2y = x_m·all_yᵀ/τ,
    s_m_y2x = y_m·all_xᵀ/τ::

        t_x2y = α·softmax(s_m_x2y) + (1 − α)·onehot     (likewise t_y2x)
        L     = ½·[mean_i −Σ_j t_x2y_ij log softmax(s_x2y)_ij
                 + mean_i −Σ_j t_y2x_ij log softmax(s_y2x)_ij]

    where onehot_ij = 1 iff j = i: the positive of row i is column i, the momentum feature
    of its own pair, among the *first B* columns (the reference concatenates the batch's
    momentum features before the queue and fills the diagonal of the (B, B + K) targets).

    Paper vs code: the paper writes L = (1 − α)·L_itc + (α/2)·E[KL(q_x2y‖p_x2y) +
    KL(q_y2x‖p_y2x)] with q = softmax(s_m), p = softmax(s); the reference code (followed
    here) takes the cross-entropy with the mixed targets above. Since H(q, p) = KL(q‖p) +
    H(q), that is the paper's value plus (α/2)·mean_i[H(q_x2y) + H(q_y2x)], the entropy of
    the momentum predictions: a constant, so the gradients are identical.

    Targets are constants: x_m, y_m, the queues and τ inside the softmax of the targets are
    detached (the reference computes them under no_grad). Gradients reach x, y and, if it
    is a tensor, τ through s_x2y and s_y2x only. α = 0 gives hard targets; with K = 0 and
    x_m = x, y_m = y that is the value of NCELoss(normalize=False) (pairwise InfoNCE).

    Temperature: ALBEF learns τ (``self.temp``, initialised to 0.07) and clamps the
    parameter in place to [``TEMPERATURE_MIN``, ``TEMPERATURE_MAX``] = [0.001, 0.5] before
    every forward; pass such a learnable tensor as ``temperature`` and keep it in that
    range the same way (the Method's business: :class:`mmssl.methods.scoring.Scoring`). The
    loss uses it as given, so its gradient is never cut off (a functional clamp would give
    it a zero gradient once outside the range, for ever). Otherwise the fixed τ is used.
    The loss does not normalise its inputs (the reference normalises in the projection
    heads) and never mutates the queues: the Method enqueues x_m, y_m in ``after_step``.
    No cross-process gather: as in the reference, negatives are the local batch and the
    queues (shared across processes by :class:`mmssl.methods.queue.FeatureQueue`).

    Memory: with ``chunk_size`` > 0 the anchors of each direction are taken
    ``chunk_size`` at a time (:func:`~mmssl.losses.row_blocks.row_block_sum`), never holding
    the B×(B + K) logits and targets; the value and gradients are the same.

    Args:
        temperature: fixed τ > 0, used when ``forward`` gets no ``temperature`` tensor.
        chunk_size: anchors per block (0: all at once).
        alpha: α in [0, 1], the weight of the momentum targets (0.4 in the reference's
            ``configs/Pretrain.yaml``; ``Pretrain.py`` ramps it linearly from 0 over the
            first epoch: pass the current value as ``alpha`` to ``forward``).

    Shapes:
        x, y, x_m, y_m: (B, D); qx: (Kx, D), qy: (Ky, D), optional (None = empty);
        temperature: scalar tensor, optional. Returns a scalar.
    """

    def __init__(self, temperature: float = 0.07, alpha: float = 0.4,
                 chunk_size: int = 0) -> None:
        super().__init__()
        if temperature <= 0:
            raise ValueError(f"ALBEFContrastiveLoss: temperature must be > 0, got {temperature}")
        self.temperature = float(temperature)
        self.alpha = _checked_alpha(alpha)
        self.chunk_size = int(chunk_size)

    def forward(self, x: Tensor, y: Tensor, x_m: Tensor, y_m: Tensor,
                qx: Tensor | None = None, qy: Tensor | None = None,
                temperature: Tensor | None = None, alpha: float | None = None) -> Tensor:
        """Compute the loss; see the class docstring for the formula and shapes."""
        name = "ALBEFContrastiveLoss"
        check_pair(name, x, y)
        check_pair(name, x_m, y_m, "x_m, y_m")
        check_pair(name, x, x_m, "x, x_m")
        if x.shape[0] == 0:
            return connected_zero(x, y)
        all_y = _candidates(name, y_m, qy, "qy")
        all_x = _candidates(name, x_m, qx, "qx")
        tau = x.new_tensor(self.temperature) if temperature is None else temperature
        a = self.alpha if alpha is None else _checked_alpha(alpha)
        loss_x2y = self.distilled_cross_entropy(x, x_m, all_y, tau, a)
        loss_y2x = self.distilled_cross_entropy(y, y_m, all_x, tau, a)
        return 0.5 * (loss_x2y + loss_y2x)

    def distilled_cross_entropy(self, anchor: Tensor, anchor_m: Tensor, candidates: Tensor,
                                tau: Tensor, alpha: float) -> Tensor:
        """mean_i −Σ_j t_ij log softmax(anchor·candidatesᵀ/τ)_ij, one direction of the loss.

        t = α·softmax(anchor_m·candidatesᵀ/τ) + (1 − α)·onehot, with row i's positive at
        column i. Shapes: anchor, anchor_m (B, D); candidates (B + K, D); τ 0-dim.
        """
        rows = functools.partial(_distilled_rows, alpha=alpha)
        total = row_block_sum(rows, (anchor, anchor_m.detach(), row_index(anchor)),
                              (candidates, tau), self.chunk_size)
        return total / anchor.shape[0]


def _distilled_rows(anchor: Tensor, anchor_m: Tensor, index: Tensor, candidates: Tensor,
                    tau: Tensor, alpha: float) -> Tensor:
    """Σ_{i∈rows} −Σ_j t_ij log softmax(anchor_i·candidatesᵀ/τ)_j."""
    logits = anchor @ candidates.t() / tau
    with torch.no_grad():
        soft = F.softmax(anchor_m @ candidates.t() / tau.detach(), dim=1)
        columns = torch.arange(candidates.shape[0], device=candidates.device)
        hard = (index[:, None] == columns[None, :]).to(soft.dtype)
        targets = alpha * soft + (1.0 - alpha) * hard
    return -(targets * F.log_softmax(logits, dim=1)).sum()


def _candidates(loss: str, momentum: Tensor, queue: Tensor | None, name: str) -> Tensor:
    """[momentum; queue], detached, (B + K, D); the batch's own momentum features first."""
    if queue is None:
        return momentum.detach()
    check_queue(loss, queue, momentum.shape[1], name)
    return torch.cat([momentum.detach(), queue.detach().to(momentum)], dim=0)


def _checked_alpha(alpha: float) -> float:
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"ALBEFContrastiveLoss: alpha must be in [0, 1], got {alpha}")
    return float(alpha)
