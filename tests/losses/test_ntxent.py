"""NTXentLoss against a loop reference written straight from SimCLR's NT-Xent formula."""

import math

import pytest
import torch

from mmssl.losses.ntxent import NTXentLoss


def naive_ntxent(z1, z2, temperature):
    """(1/2N) Σ_a -log( e^{sim(a, pos a)} / Σ_{k≠a} e^{sim(a, k)} ), sim = cos / τ.

    Scalar torch ops in plain loops, so autograd gives the reference gradients too.
    """
    n, dim = z1.shape
    views = [z1[i] for i in range(n)] + [z2[i] for i in range(n)]

    def sim(a, b):
        dot = sum(views[a][d] * views[b][d] for d in range(dim))
        norm_a = torch.sqrt(sum(views[a][d] ** 2 for d in range(dim)))
        norm_b = torch.sqrt(sum(views[b][d] ** 2 for d in range(dim)))
        return dot / (norm_a * norm_b) / temperature

    total = 0.0
    for a in range(2 * n):
        pos = a + n if a < n else a - n
        denominator = sum(torch.exp(sim(a, k)) for k in range(2 * n) if k != a)
        total = total - torch.log(torch.exp(sim(a, pos)) / denominator)
    return total / (2 * n)


def random_views(seed, n=5, dim=4):
    g = torch.Generator().manual_seed(seed)
    z1 = torch.randn(n, dim, generator=g, dtype=torch.float64, requires_grad=True)
    z2 = torch.randn(n, dim, generator=g, dtype=torch.float64, requires_grad=True)
    return z1, z2


@pytest.mark.parametrize("temperature", [0.1, 0.5, 1.0])
def test_matches_naive_reference_values_and_gradients(temperature):
    z1, z2 = random_views(0)
    loss = NTXentLoss(temperature=temperature)(z1, z2)
    expected = naive_ntxent(z1, z2, temperature)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-10)
    grads = torch.autograd.grad(loss, (z1, z2))
    expected_grads = torch.autograd.grad(expected, (z1, z2))
    for got, want in zip(grads, expected_grads, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("n", [1, 2, 5, 16])
def test_constant_direction_gives_log_2n_minus_1(n):
    # All 2N embeddings point the same way (any positive lengths): every similarity is
    # 1/τ, the positive is one of 2N - 1 equal terms.
    scales = torch.arange(1, n + 1, dtype=torch.float64)[:, None]
    z1 = scales * torch.ones(n, 3, dtype=torch.float64)
    loss = NTXentLoss(temperature=0.1)(z1, 3 * z1)
    assert loss.item() == pytest.approx(math.log(2 * n - 1), abs=1e-12)


def test_orthogonal_aligned_views_give_zero_at_low_temperature():
    z = torch.eye(4, 6, dtype=torch.float64)
    assert NTXentLoss(temperature=0.01)(z, 2 * z).item() == pytest.approx(0.0, abs=1e-12)


def test_invariances():
    z1, z2 = random_views(1, n=7, dim=5)
    loss_fn = NTXentLoss(temperature=0.2)
    loss = loss_fn(z1, z2).item()
    perm = torch.randperm(7, generator=torch.Generator().manual_seed(1))
    assert loss_fn(z1[perm], z2[perm]).item() == pytest.approx(loss, rel=1e-12)
    assert loss_fn(z2, z1).item() == pytest.approx(loss, rel=1e-12)  # swapping views
    scale = torch.rand(7, 1, dtype=torch.float64) + 0.5  # cosine ignores lengths
    assert loss_fn(scale * z1, z2).item() == pytest.approx(loss, rel=1e-12)
    # Sanity: permuting one view only breaks the pairs and changes the loss.
    assert loss_fn(z1, z2[perm]).item() != pytest.approx(loss, rel=1e-6)


def test_default_temperature_and_gather_flag_is_local_outside_distributed():
    z1, z2 = random_views(2)
    assert NTXentLoss().temperature == 0.1
    local = NTXentLoss(gather_distributed=False)(z1, z2)
    gathered = NTXentLoss(gather_distributed=True)(z1, z2)  # world size 1: no-op
    assert gathered.item() == local.item()
    assert local.item() == pytest.approx(naive_ntxent(z1, z2, 0.1).item(), rel=1e-10)


def test_gradcheck():
    z1, z2 = random_views(3, n=3, dim=3)
    loss_fn = NTXentLoss(temperature=0.5)
    assert torch.autograd.gradcheck(lambda a, b: loss_fn(a, b), (z1, z2))


def test_rejects_mismatched_shapes_and_bad_temperature():
    with pytest.raises(ValueError, match="equal shape"):
        NTXentLoss()(torch.randn(3, 4), torch.randn(4, 4))
    with pytest.raises(ValueError, match="temperature"):
        NTXentLoss(temperature=0.0)
