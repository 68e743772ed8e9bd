"""BYOLLoss against a loop reference written straight from the BYOL formula."""

import pytest
import torch

from mmssl.losses.byol import BYOLLoss


def naive_byol(p1, p2, t1, t2):
    """mean_i [(2 - 2 cos(p1_i, t2_i)) + (2 - 2 cos(p2_i, t1_i))], targets as constants.

    Scalar torch ops in plain loops, so autograd gives the reference gradients too.
    """
    n, dim = p1.shape
    t1, t2 = t1.detach(), t2.detach()

    def cos(a, b):
        dot = sum(a[d] * b[d] for d in range(dim))
        return dot / torch.sqrt(sum(a[d] ** 2 for d in range(dim)) *
                                sum(b[d] ** 2 for d in range(dim)))

    total = 0.0
    for i in range(n):
        total = total + (2 - 2 * cos(p1[i], t2[i])) + (2 - 2 * cos(p2[i], t1[i]))
    return total / n


def random_inputs(seed, n=5, dim=4):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(n, dim, generator=g, dtype=torch.float64, requires_grad=True)
            for _ in range(4)]


def test_matches_naive_reference_values_and_gradients():
    p1, p2, t1, t2 = random_inputs(0)
    loss = BYOLLoss()(p1, p2, t1, t2)
    expected = naive_byol(p1, p2, t1, t2)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-12)
    grads = torch.autograd.grad(loss, (p1, p2))
    expected_grads = torch.autograd.grad(expected, (p1, p2))
    for got, want in zip(grads, expected_grads, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)


def test_targets_get_no_gradient():
    p1, p2, t1, t2 = random_inputs(1)
    loss = BYOLLoss()(p1, p2, t1, t2)
    assert torch.autograd.grad(loss, (t1, t2), allow_unused=True) == (None, None)
    loss.backward()
    assert t1.grad is None and t2.grad is None
    assert p1.grad.abs().sum() > 0 and p2.grad.abs().sum() > 0


def test_known_values_sum_convention():
    p1, p2, t1, t2 = (x.detach() for x in random_inputs(2))
    loss_fn = BYOLLoss()
    scale = torch.rand(5, 1, dtype=torch.float64) + 0.1
    # Predictions along the other view's targets: both terms 0.
    assert loss_fn(scale * t2, 2 * t1, t1, t2).item() == pytest.approx(0.0, abs=1e-14)
    # Opposite directions: each term is 2 - 2·(-1) = 4 and the two are summed -> 8.
    assert loss_fn(-t2, -scale * t1, t1, t2).item() == pytest.approx(8.0, abs=1e-12)
    # Orthogonal: each term 2 -> 4.
    e = torch.eye(4, dtype=torch.float64)
    assert loss_fn(e[:2], e[:2], e[2:], e[2:]).item() == pytest.approx(4.0, abs=1e-14)


def test_invariances():
    p1, p2, t1, t2 = (x.detach() for x in random_inputs(3, n=7))
    loss_fn = BYOLLoss()
    loss = loss_fn(p1, p2, t1, t2).item()
    assert loss_fn(p2, p1, t2, t1).item() == pytest.approx(loss, rel=1e-12)  # swap views
    perm = torch.randperm(7, generator=torch.Generator().manual_seed(3))
    assert loss_fn(p1[perm], p2[perm], t1[perm], t2[perm]).item() == pytest.approx(
        loss, rel=1e-12)
    scale = torch.rand(7, 1, dtype=torch.float64) + 0.5
    assert loss_fn(scale * p1, p2, t1, 3 * t2).item() == pytest.approx(loss, rel=1e-12)
    # Sanity: pairing p1 with its own view's target is a different loss.
    assert loss_fn(p1, p2, t2, t1).item() != pytest.approx(loss, rel=1e-6)


def test_gradcheck():
    p1, p2, t1, t2 = random_inputs(4, n=3, dim=3)
    loss_fn = BYOLLoss()
    assert torch.autograd.gradcheck(lambda a, b: loss_fn(a, b, t1, t2), (p1, p2))


def test_rejects_mismatched_shapes():
    x = torch.randn(3, 4)
    with pytest.raises(ValueError, match="one shape"):
        BYOLLoss()(x, x, x, torch.randn(3, 5))
