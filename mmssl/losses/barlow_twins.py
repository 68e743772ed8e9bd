"""Barlow Twins: redundancy reduction through the cross-correlation of two views."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from mmssl.distributed import gather_with_grad
from mmssl.losses.checks import check_pair


def standardize(z: Tensor, eps: float) -> Tensor:
    """Per-dimension batch standardisation (z - mean_n z) / sqrt(var_n z + eps).

    ``var`` is the *biased* variance (divide by N), as ``nn.BatchNorm1d`` computes it in
    training mode. Shapes: z (N, D) -> (N, D).
    """
    mean = z.mean(dim=0, keepdim=True)
    var = z.var(dim=0, unbiased=False, keepdim=True)
    return (z - mean) / torch.sqrt(var + eps)


class BarlowTwinsLoss(nn.Module):
    """Barlow Twins loss on the cross-correlation matrix of two batch-standardised views.

    Reference:
        Zbontar, Jing, Misra, LeCun & Deny, "Barlow Twins: Self-Supervised Learning via
        Redundancy Reduction", ICML 2021, Eq. (1)-(2) and Algorithm 1.
        Reference code: github.com/facebookresearch/barlowtwins (``main.py``).

    Each view is standardised over the batch, dimension by dimension, and the
    cross-correlation C (D×D) is taken between the two::

        ẑ^A_{n,i} = (z^A_{n,i} - μ^A_i) / sqrt(σ²^A_i + eps)    (same for B)
        C_ij      = (1/N) Σ_n ẑ^A_{n,i} ẑ^B_{n,j}
        L         = Σ_i (1 - C_ii)²  +  λ Σ_i Σ_{j≠i} C_ij²

    Standardisation convention: σ² is the biased (1/N) batch variance and eps = 1e-5 is
    added to it, exactly what the authors' code does (an affine-free ``BatchNorm1d`` in
    training mode, then ``c = bn(z1).T @ bn(z2) / N``). The paper's pseudo-code writes
    ``z.std(0)``, which in PyTorch would be the unbiased std; the difference is a factor
    (N-1)/N on C. With eps = 0, |C_ij| ≤ 1 and C_ii = 1 when z^A = z^B.

    λ: the paper's 5·10⁻³ by default (the reference code's ``--lambd`` default is 0.0051).

    Distributed: with ``gather_distributed=True`` both views are gathered with
    :func:`mmssl.distributed.gather_with_grad`, so the means, variances and C are over the
    *global* batch and every process computes the same loss as one process on the whole
    batch. That is what the authors' code computes too: its BatchNorm is converted to
    ``SyncBatchNorm`` (global statistics) and the per-GPU ẑ1ᵀẑ2 / N_global are summed with
    ``all_reduce``.

    Args:
        lambda_offdiag: λ, weight of the redundancy-reduction (off-diagonal) term.
        eps: added to the batch variance before the square root.
        gather_distributed: gather both views from every process first.

    Shapes:
        z1: (N, D); z2: (N, D), row n of each being two views of one sample, N ≥ 2.
        Returns a scalar.
    """

    def __init__(
        self,
        lambda_offdiag: float = 5e-3,
        eps: float = 1e-5,
        gather_distributed: bool = False,
    ) -> None:
        super().__init__()
        if lambda_offdiag < 0 or eps < 0:
            raise ValueError(f"BarlowTwinsLoss: lambda_offdiag and eps must be >= 0, got "
                             f"{lambda_offdiag} and {eps}")
        self.lambda_offdiag = float(lambda_offdiag)
        self.eps = float(eps)
        self.gather_distributed = gather_distributed

    def cross_correlation(self, z1: Tensor, z2: Tensor) -> Tensor:
        """C = ẑ1ᵀ ẑ2 / N of the standardised views (after any gather); (D, D)."""
        check_pair("BarlowTwinsLoss", z1, z2, "z1, z2", "(N, D)")
        if self.gather_distributed:
            z1, z2 = gather_with_grad(z1), gather_with_grad(z2)
        if z1.shape[0] < 2:
            raise ValueError("BarlowTwinsLoss: batch statistics need N >= 2 samples, "
                             f"got {z1.shape[0]}")
        return standardize(z1, self.eps).t() @ standardize(z2, self.eps) / z1.shape[0]

    def forward(self, z1: Tensor, z2: Tensor) -> Tensor:
        """Compute the loss; see the class docstring for the formula and shapes."""
        c = self.cross_correlation(z1, z2)
        diagonal = torch.diagonal(c)
        on_diag = (1.0 - diagonal).pow(2).sum()
        off_diag = c.pow(2).sum() - diagonal.pow(2).sum()
        return on_diag + self.lambda_offdiag * off_diag
