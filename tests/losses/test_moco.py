"""MoCoLoss against a loop reference written straight from the MoCo formula."""

import math

import pytest
import torch

from mmssl.losses.moco import MoCoLoss
from mmssl.methods.queue import FeatureQueue


def naive_moco(q, k, queue, temperature):
    """mean_i -log( e^{q_i·k_i/τ} / (e^{q_i·k_i/τ} + Σ_j e^{q_i·n_j/τ}) ), keys constant.

    Scalar torch ops in plain loops, so autograd gives the reference gradients too.
    """
    b, dim = q.shape
    k, queue = k.detach(), queue.detach()

    def sim(a, c):
        return sum(a[d] * c[d] for d in range(dim)) / temperature

    total = 0.0
    for i in range(b):
        pos = sim(q[i], k[i])
        denominator = torch.exp(pos) + sum(torch.exp(sim(q[i], n)) for n in queue)
        total = total - (pos - torch.log(denominator))
    return total / b


def unit(*shape, seed, requires_grad=False):
    g = torch.Generator().manual_seed(seed)
    x = torch.nn.functional.normalize(torch.randn(*shape, generator=g, dtype=torch.float64),
                                      dim=-1)
    return x.requires_grad_(requires_grad)


@pytest.mark.parametrize("temperature,size", [(0.07, 6), (0.2, 6), (0.5, 1), (0.2, 0)])
def test_matches_naive_reference_values_and_gradients(temperature, size):
    q = unit(5, 4, seed=0, requires_grad=True)
    k, queue = unit(5, 4, seed=1), unit(size, 4, seed=2)
    loss = MoCoLoss(temperature)(q, k, queue)
    expected = naive_moco(q, k, queue, temperature)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-12)
    (grad,) = torch.autograd.grad(loss, q)
    (expected_grad,) = torch.autograd.grad(expected, q)
    torch.testing.assert_close(grad, expected_grad, rtol=1e-10, atol=1e-12)


def test_keys_and_queue_get_no_gradient():
    q = unit(4, 3, seed=3, requires_grad=True)
    k = unit(4, 3, seed=4, requires_grad=True)
    queue = unit(5, 3, seed=5, requires_grad=True)
    loss = MoCoLoss()(q, k, queue)
    assert torch.autograd.grad(loss, (k, queue), allow_unused=True, retain_graph=True) == (
        None, None)
    loss.backward()
    assert k.grad is None and queue.grad is None and q.grad.abs().sum() > 0


def test_invariant_to_permuting_the_queue():
    q, k, queue = unit(6, 5, seed=6), unit(6, 5, seed=7), unit(9, 5, seed=8)
    perm = torch.randperm(9, generator=torch.Generator().manual_seed(0))
    loss_fn = MoCoLoss(0.1)
    assert loss_fn(q, k, queue[perm]).item() == pytest.approx(loss_fn(q, k, queue).item(),
                                                              rel=1e-13)


def test_other_keys_of_the_batch_are_not_negatives():
    """Row i's term depends only on q_i, k_i and the queue: the batch loss is the mean of
    the one-sample losses, and changing another sample's key changes nothing for row i."""
    q, k, queue = unit(5, 4, seed=9), unit(5, 4, seed=10), unit(7, 4, seed=11)
    loss_fn = MoCoLoss(0.2)
    singles = [loss_fn(q[i:i + 1], k[i:i + 1], queue) for i in range(5)]
    assert loss_fn(q, k, queue).item() == pytest.approx(torch.stack(singles).mean().item(),
                                                        rel=1e-13)


@pytest.mark.parametrize("size", [0, 1, 7, 100])
def test_all_equal_logits_give_log_k_plus_one(size):
    v = unit(1, 3, seed=12)
    q, k, queue = v.expand(4, 3), v.expand(4, 3), v.expand(size, 3)
    loss = MoCoLoss(0.07)(q, k, queue)
    assert loss.item() == pytest.approx(math.log(size + 1), abs=1e-12)


def test_loss_reads_but_does_not_mutate_a_feature_queue():
    queue = FeatureQueue(8, 4, generator=torch.Generator().manual_seed(0)).double()
    before = queue.features.clone()
    q, k = unit(3, 4, seed=13), unit(3, 4, seed=14)
    loss = MoCoLoss(0.2)(q, k, queue.features)
    assert torch.equal(queue.features, before) and int(queue.ptr) == 0
    assert loss.item() == pytest.approx(naive_moco(q, k, before, 0.2).item(), rel=1e-12)


def test_gradcheck():
    q = unit(3, 4, seed=15, requires_grad=True)
    k, queue = unit(3, 4, seed=16), unit(5, 4, seed=17)
    assert torch.autograd.gradcheck(lambda a: MoCoLoss(0.3)(a, k, queue), (q,))


def test_rejects_bad_shapes_and_temperature():
    with pytest.raises(ValueError, match="equal shape"):
        MoCoLoss()(torch.randn(3, 4), torch.randn(2, 4), torch.randn(5, 4))
    with pytest.raises(ValueError, match=r"queue of shape \(K, 4\)"):
        MoCoLoss()(torch.randn(3, 4), torch.randn(3, 4), torch.randn(5, 3))
    with pytest.raises(ValueError, match="temperature"):
        MoCoLoss(0.0)
