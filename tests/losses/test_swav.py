"""SwAVLoss and sinkhorn against loop references written straight from the SwAV formulas."""

import math

import pytest
import torch

from mmssl.losses.swav import SwAVLoss, sinkhorn


def naive_sinkhorn(scores, epsilon, iterations):
    """Q = exp(S/ε)/ΣQ; repeat: columns -> 1/K, rows -> 1/B; return B·Q. Plain lists."""
    s = scores.tolist()
    b, k = len(s), len(s[0])
    q = [[math.exp(x / epsilon) for x in row] for row in s]
    total = sum(map(sum, q))
    q = [[x / total for x in row] for row in q]
    for _ in range(iterations):
        col = [sum(q[i][j] for i in range(b)) for j in range(k)]
        q = [[q[i][j] / col[j] / k for j in range(k)] for i in range(b)]
        q = [[x / sum(row) / b for x in row] for row in q]
    return torch.tensor([[b * x for x in row] for row in q], dtype=torch.float64)


def naive_swav(s1, s2, q1, q2, temperature):
    """-½ mean_i [Σ_k q2_ik log softmax(s1_i/τ)_k + Σ_k q1_ik log softmax(s2_i/τ)_k].

    Scalar torch ops in plain loops (codes are constants), so autograd gives gradients.
    """
    b, k = s1.shape

    def log_softmax(row, j):
        return row[j] / temperature - torch.log(sum(torch.exp(row[m] / temperature)
                                                    for m in range(k)))

    total = 0.0
    for i in range(b):
        total = total + sum(q2[i, j] * log_softmax(s1[i], j) for j in range(k))
        total = total + sum(q1[i, j] * log_softmax(s2[i], j) for j in range(k))
    return -0.5 * total / b


def random_scores(seed, b=6, k=4):
    g = torch.Generator().manual_seed(seed)
    s1 = torch.randn(b, k, generator=g, dtype=torch.float64).tanh().requires_grad_(True)
    s2 = torch.randn(b, k, generator=g, dtype=torch.float64).tanh().requires_grad_(True)
    return s1, s2


@pytest.mark.parametrize("epsilon,iterations", [(0.05, 3), (0.5, 1), (0.1, 7)])
def test_sinkhorn_matches_naive_reference(epsilon, iterations):
    s1, _ = random_scores(0)
    torch.testing.assert_close(sinkhorn(s1, epsilon, iterations),
                               naive_sinkhorn(s1, epsilon, iterations), rtol=1e-10, atol=1e-14)


def test_sinkhorn_marginals():
    s1, _ = random_scores(1, b=12, k=3)
    b, k = s1.shape
    q = sinkhorn(s1, 0.05, 3)
    assert not q.requires_grad and torch.all(q >= 0)
    # Rows (samples) sum to 1 exactly after the final row normalisation.
    torch.testing.assert_close(q.sum(dim=1), torch.ones(b, dtype=torch.float64),
                               rtol=0, atol=1e-14)
    # Columns (prototypes) approach the equal partition B/K as iterations grow.
    converged = sinkhorn(s1, 0.5, 500)
    torch.testing.assert_close(converged.sum(dim=0), torch.full((k,), b / k,
                               dtype=torch.float64), rtol=0, atol=1e-9)


def test_sinkhorn_is_a_diagonal_scaling_of_exp_scores():
    s1, _ = random_scores(2)
    # log q_ik - s_ik/ε = a_i + b_k: double-centring the residual leaves zero.
    r = sinkhorn(s1, 0.1, 4).log() - s1.detach() / 0.1
    r = r - r.mean(dim=0, keepdim=True) - r.mean(dim=1, keepdim=True) + r.mean()
    torch.testing.assert_close(r, torch.zeros_like(r), rtol=0, atol=1e-10)


def test_sinkhorn_known_values_and_shift_invariance():
    uniform = sinkhorn(torch.zeros(5, 4, dtype=torch.float64), 0.05, 3)
    torch.testing.assert_close(uniform, torch.full((5, 4), 0.25, dtype=torch.float64))
    s1, _ = random_scores(3)
    torch.testing.assert_close(sinkhorn(s1 + 7.0, 0.05, 3), sinkhorn(s1, 0.05, 3))
    # Scores far outside [-1, 1] in float32: exp(s/ε) would overflow or underflow.
    big = sinkhorn(100.0 * s1.detach().float(), 0.05, 3)
    assert torch.isfinite(big).all()
    torch.testing.assert_close(big.sum(dim=1), torch.ones(6), rtol=0, atol=1e-6)


def test_loss_matches_naive_reference_values_and_gradients():
    s1, s2 = random_scores(4)
    loss = SwAVLoss(temperature=0.1, epsilon=0.05, sinkhorn_iterations=3)(s1, s2)
    q1, q2 = naive_sinkhorn(s1, 0.05, 3), naive_sinkhorn(s2, 0.05, 3)
    expected = naive_swav(s1, s2, q1, q2, 0.1)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-10)
    grads = torch.autograd.grad(loss, (s1, s2))
    expected_grads = torch.autograd.grad(expected, (s1, s2))
    for got, want in zip(grads, expected_grads, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-12)
    # No gradient through the codes: ∂L/∂s1 = (softmax(s1/τ) - q2) / (2·B·τ).
    analytic = (torch.softmax(s1.detach() / 0.1, dim=1) - q2) / (2 * 6 * 0.1)
    torch.testing.assert_close(grads[0], analytic, rtol=1e-9, atol=1e-12)


def test_uniform_scores_give_log_k():
    s = torch.zeros(5, 8, dtype=torch.float64)
    assert SwAVLoss()(s, s.clone()).item() == pytest.approx(math.log(8), abs=1e-12)


def test_invariances():
    s1, s2 = (x.detach() for x in random_scores(5, b=8, k=5))
    loss_fn = SwAVLoss()
    loss = loss_fn(s1, s2).item()
    assert loss_fn(s2, s1).item() == pytest.approx(loss, rel=1e-12)  # swapping views
    perm = torch.randperm(8, generator=torch.Generator().manual_seed(5))
    assert loss_fn(s1[perm], s2[perm]).item() == pytest.approx(loss, rel=1e-12)
    # Sanity: permuting one view only breaks the swapped pairs and changes the loss.
    assert loss_fn(s1, s2[perm]).item() != pytest.approx(loss, rel=1e-6)


def test_queue_enters_sinkhorn_only():
    s1, s2 = random_scores(6)
    queue = torch.randn(10, 4, dtype=torch.float64).tanh().requires_grad_(True)
    loss = SwAVLoss()(s1, s2, queue=queue)
    q1 = naive_sinkhorn(torch.cat([queue, s1]), 0.05, 3)[10:]
    q2 = naive_sinkhorn(torch.cat([queue, s2]), 0.05, 3)[10:]
    expected = naive_swav(s1, s2, q1, q2, 0.1)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-10)
    assert loss.item() != pytest.approx(SwAVLoss()(s1, s2).item(), rel=1e-6)
    assert torch.autograd.grad(loss, queue, allow_unused=True) == (None,)
    # A per-view queue (2, Q, K) holding the same scores twice equals the shared one.
    both = SwAVLoss()(s1, s2, queue=torch.stack([queue, queue]))
    assert both.item() == pytest.approx(loss.item(), rel=1e-12)


def test_rejects_bad_inputs():
    with pytest.raises(ValueError, match="equal shape"):
        SwAVLoss()(torch.randn(3, 4), torch.randn(3, 5))
    with pytest.raises(ValueError, match="queue must be"):
        SwAVLoss()(torch.randn(3, 4), torch.randn(3, 4), queue=torch.randn(5, 3))
    with pytest.raises(ValueError, match="epsilon > 0"):
        sinkhorn(torch.randn(3, 4), epsilon=0.0)
