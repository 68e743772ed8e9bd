"""MaxMarginRankingLoss against a loop reference written straight from HowTo100M's loss
(Miech et al. 2019; the reference code's ``MaxMarginRankingLoss``), plus known values."""

import pytest
import torch

from mmssl.losses import MaxMarginRankingLoss


def naive_ranking(x, y, margin):
    """(1/B²) Σ_i Σ_j [max(0, δ + s_ij − s_ii) + max(0, δ + s_ij − s_jj)], s = x·y."""
    b = x.shape[0]
    s = [[sum(x[i, d] * y[j, d] for d in range(x.shape[1])) for j in range(b)]
         for i in range(b)]
    total = sum(torch.clamp(margin + s[i][j] - s[i][i], min=0)
                + torch.clamp(margin + s[i][j] - s[j][j], min=0)
                for i in range(b) for j in range(b))
    return total / b ** 2


def pair(seed, b=6, d=4):
    g = torch.Generator().manual_seed(seed)
    x = torch.nn.functional.normalize(torch.randn(b, d, generator=g, dtype=torch.float64), dim=1)
    y = torch.nn.functional.normalize(torch.randn(b, d, generator=g, dtype=torch.float64), dim=1)
    return x.requires_grad_(True), y.requires_grad_(True)


@pytest.mark.parametrize(("seed", "margin"), [(0, 0.1), (1, 0.5), (2, 0.0)])
def test_matches_naive_reference_values_and_gradients(seed, margin):
    x, y = pair(seed)
    loss = MaxMarginRankingLoss(margin)(x, y)
    expected = naive_ranking(x, y, margin)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-12)
    for got, want in zip(torch.autograd.grad(loss, (x, y)),
                         torch.autograd.grad(expected, (x, y)), strict=True):
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)


def test_perfect_ranking_costs_only_the_diagonal_constant():
    """Positives beating every negative by more than δ: only the B diagonal entries, 2δ
    each, are left (the reference's mean runs over all B² entries)."""
    x = torch.eye(4, dtype=torch.float64)
    margin = 0.2
    loss = MaxMarginRankingLoss(margin)(x, x.clone())
    assert loss.item() == pytest.approx(2 * margin / 4, rel=1e-12)


def test_mask_removes_rows_entirely():
    x, y = pair(3, b=5)
    keep = torch.tensor([True, False, True, True, False])
    loss = MaxMarginRankingLoss(0.1)(x, y, mask=keep)
    expected = naive_ranking(x[keep], y[keep], 0.1)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-12)
    none = MaxMarginRankingLoss()(x, y, mask=torch.zeros(5, dtype=torch.bool))
    assert none.item() == 0.0


def test_rejects_a_negative_margin():
    with pytest.raises(ValueError, match="margin must be >= 0"):
        MaxMarginRankingLoss(-0.1)
