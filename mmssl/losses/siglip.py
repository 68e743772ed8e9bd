"""SigLIP: pairwise sigmoid loss with a learnable scale and bias."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mmssl.losses.checks import kept_pair_rows
from mmssl.losses.row_blocks import row_block_sum, row_index


class SigLIPLoss(nn.Module):
    """Sigmoid loss of SigLIP: every (x_i, y_j) pair is an independent binary problem.

    Reference:
        Zhai, Mustafa, Kolesnikov & Beyer, "Sigmoid Loss for Language Image Pre-Training",
        ICCV 2023 (arXiv:2303.15343), Eq. 1 and Algorithm 1.

    With L2-normalised x_i, y_j (``normalize=True``, as in the paper), scale t = exp(t')
    and bias b, logits z_ij = t · x_i·y_j + b and labels ℓ_ij = +1 if i = j else -1::

        L = -(1/B) · Σ_i Σ_j log σ(ℓ_ij · z_ij)

    Note the normalisation by B (not B²): the sum over the B - 1 negatives of a row is
    *not* averaged, as in the paper. t' and b start at log 10 and -10 (paper, Sec. 3.3),
    which keeps the initial loss from being dominated by the many easy negatives. The
    scale is not clamped here (the paper does not); clamp t' in the training loop if
    needed. Gather embeddings across processes with
    :func:`mmssl.distributed.gather_with_grad` *before* calling this loss to use
    cross-process negatives (the paper's chunked ring exchange computes the same sum).

    Memory: with ``chunk_size`` > 0 the rows of x are scored ``chunk_size`` at a time
    (:func:`~mmssl.losses.row_blocks.row_block_sum`; the paper's Algorithm 1 chunks the
    same sum across devices), never holding the B×B logits; value and gradients are the
    same.

    Args:
        init_log_scale: initial t' (t = exp(t')).
        init_bias: initial b.
        learnable: register t' and b as ``nn.Parameter`` (else as fixed buffers).
        normalize: L2-normalise x and y along the feature dimension first.
        chunk_size: rows of x per block (0: all at once).

    Shapes:
        x: (B, D); y: (B, D); mask: (B,) bool, optional; log_scale, bias: scalar tensors,
        optional overrides of the module's own t' and b. Returns a scalar.
    """

    def __init__(
        self,
        init_log_scale: float = math.log(10.0),
        init_bias: float = -10.0,
        learnable: bool = True,
        normalize: bool = True,
        chunk_size: int = 0,
    ) -> None:
        super().__init__()
        self.chunk_size = int(chunk_size)
        log_scale = torch.tensor(float(init_log_scale))
        bias = torch.tensor(float(init_bias))
        if learnable:
            self.log_scale = nn.Parameter(log_scale)
            self.bias = nn.Parameter(bias)
        else:
            self.register_buffer("log_scale", log_scale)
            self.register_buffer("bias", bias)
        self.normalize = normalize

    def forward(
        self,
        x: Tensor,
        y: Tensor,
        mask: Tensor | None = None,
        log_scale: Tensor | None = None,
        bias: Tensor | None = None,
    ) -> Tensor:
        """Compute the loss.

        Args:
            x: (B, D) embeddings of the first modality.
            y: (B, D) embeddings of the second modality; y_i is the positive of x_i.
            mask: optional (B,) bool; rows where it is False are removed from the batch
                entirely (neither anchors nor negatives) and B counts the kept rows.
            log_scale: optional scalar t' used instead of ``self.log_scale`` (e.g. when
                the model owns it).
            bias: optional scalar b used instead of ``self.bias``.

        Returns:
            Scalar loss; a zero still connected to x and y when no row is kept.
        """
        x, y, zero = kept_pair_rows("SigLIPLoss", x, y, mask)
        if x.shape[0] < 1:
            return zero
        log_scale = self.log_scale if log_scale is None else log_scale
        bias = self.bias if bias is None else bias
        if self.normalize:
            x = F.normalize(x, dim=-1)
            y = F.normalize(y, dim=-1)
        scale, bias = log_scale.to(x.dtype).exp(), bias.to(x.dtype)
        total = row_block_sum(_row_terms, (x, row_index(x)), (y, scale, bias), self.chunk_size)
        return total / x.shape[0]


def _row_terms(x_rows: Tensor, index: Tensor, y: Tensor, scale: Tensor, bias: Tensor
               ) -> Tensor:
    """−Σ_{i∈rows} Σ_j log σ(ℓ_ij · z_ij), z_ij = t·x_i·y_j + b."""
    logits = scale * (x_rows @ y.t()) + bias
    columns = torch.arange(y.shape[0], device=y.device)
    signed = torch.where(index[:, None] == columns[None, :], logits, -logits)  # ℓ_ij · z_ij
    return -F.logsigmoid(signed).sum()
