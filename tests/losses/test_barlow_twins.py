"""BarlowTwinsLoss against a loop reference written straight from the paper's formula."""

import pytest
import torch

from mmssl.losses.barlow_twins import BarlowTwinsLoss


def naive_barlow_twins(z1, z2, lambda_offdiag, eps):
    """Σ_i (1 - C_ii)² + λ Σ_{i≠j} C_ij², C_ij = (1/N) Σ_n ẑ1_ni ẑ2_nj, biased batch std.

    Scalar torch ops in plain loops, so autograd gives the reference gradients too.
    """
    n, dim = z1.shape

    def standardised(z):
        columns = []
        for i in range(dim):
            mean = sum(z[b, i] for b in range(n)) / n
            var = sum((z[b, i] - mean) ** 2 for b in range(n)) / n  # biased: divide by N
            columns.append([(z[b, i] - mean) / torch.sqrt(var + eps) for b in range(n)])
        return columns  # columns[i][b]

    a, b = standardised(z1), standardised(z2)
    loss = 0.0
    for i in range(dim):
        for j in range(dim):
            c_ij = sum(a[i][m] * b[j][m] for m in range(n)) / n
            loss = loss + ((1 - c_ij) ** 2 if i == j else lambda_offdiag * c_ij ** 2)
    return loss


def random_views(seed, n=6, dim=4):
    g = torch.Generator().manual_seed(seed)
    z1 = torch.randn(n, dim, generator=g, dtype=torch.float64, requires_grad=True)
    z2 = (z1.detach() + 0.7 * torch.randn(n, dim, generator=g, dtype=torch.float64))
    return z1, z2.requires_grad_(True)


def hadamard_columns():
    """(4, 3) with mean-0, biased-std-1, mutually orthogonal columns."""
    return torch.tensor([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]],
                        dtype=torch.float64)


@pytest.mark.parametrize("lambda_offdiag,eps", [(5e-3, 1e-5), (0.3, 0.0), (1.0, 1e-2)])
def test_matches_naive_reference_values_and_gradients(lambda_offdiag, eps):
    z1, z2 = random_views(0)
    loss = BarlowTwinsLoss(lambda_offdiag=lambda_offdiag, eps=eps)(z1, z2)
    expected = naive_barlow_twins(z1, z2, lambda_offdiag, eps)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-10)
    grads = torch.autograd.grad(loss, (z1, z2))
    expected_grads = torch.autograd.grad(expected, (z1, z2))
    for got, want in zip(grads, expected_grads, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-12)


def test_identical_decorrelated_views_give_identity_and_zero_loss():
    z = 3.0 * hadamard_columns() + 2.0  # any per-dimension affine map is standardised away
    exact = BarlowTwinsLoss(eps=0.0)
    torch.testing.assert_close(exact.cross_correlation(z, z.clone()),
                               torch.eye(3, dtype=torch.float64), rtol=0, atol=1e-15)
    assert exact(z, z.clone()).item() == pytest.approx(0.0, abs=1e-15)
    # The default eps = 1e-5 only shrinks the diagonal to var / (var + eps), var = 9.
    default = BarlowTwinsLoss()(z, z.clone()).item()
    assert default == pytest.approx(3 * (1 - 9 / (9 + 1e-5)) ** 2, rel=1e-6)


def test_anti_correlated_views_give_4d():
    z = hadamard_columns()
    assert BarlowTwinsLoss(eps=0.0)(z, -z).item() == pytest.approx(4.0 * 3, abs=1e-12)


def test_biased_std_convention_gives_unit_diagonal():
    z1, _ = random_views(1, n=5, dim=3)
    c = BarlowTwinsLoss(eps=0.0).cross_correlation(z1, z1)
    # With the unbiased std the diagonal would be (N - 1) / N = 0.8 instead.
    torch.testing.assert_close(torch.diagonal(c), torch.ones(3, dtype=torch.float64),
                               rtol=0, atol=1e-14)


def test_invariances():
    z1, z2 = random_views(2, n=8, dim=5)
    loss_fn = BarlowTwinsLoss(lambda_offdiag=0.1, eps=0.0)
    loss = loss_fn(z1, z2).item()
    perm = torch.randperm(8, generator=torch.Generator().manual_seed(2))
    assert loss_fn(z1[perm], z2[perm]).item() == pytest.approx(loss, rel=1e-12)
    assert loss_fn(z2, z1).item() == pytest.approx(loss, rel=1e-12)  # C -> Cᵀ
    scale = torch.rand(1, 5, dtype=torch.float64) + 0.5
    shift = torch.randn(1, 5, dtype=torch.float64)
    assert loss_fn(scale * z1 + shift, z2).item() == pytest.approx(loss, rel=1e-10)
    # Sanity: permuting one view only breaks the pairs and changes the loss.
    assert loss_fn(z1, z2[perm]).item() != pytest.approx(loss, rel=1e-6)


def test_gradcheck():
    z1, z2 = random_views(3, n=4, dim=3)
    loss_fn = BarlowTwinsLoss(lambda_offdiag=0.2)
    assert torch.autograd.gradcheck(lambda a, b: loss_fn(a, b), (z1, z2))


def test_rejects_bad_inputs():
    with pytest.raises(ValueError, match="equal shape"):
        BarlowTwinsLoss()(torch.randn(3, 4), torch.randn(3, 5))
    with pytest.raises(ValueError, match="N >= 2"):
        BarlowTwinsLoss()(torch.randn(1, 4), torch.randn(1, 4))
    with pytest.raises(ValueError, match=">= 0"):
        BarlowTwinsLoss(lambda_offdiag=-1.0)
