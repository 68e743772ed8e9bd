"""ALBEFContrastiveLoss against a loop reference written straight from the ALBEF formula."""

import math

import pytest
import torch

from mmssl.losses.albef import ALBEFContrastiveLoss
from mmssl.losses.nce import NCELoss

B, D = 4, 3


def naive_direction(a, a_m, candidates, tau, alpha):
    """mean_i −Σ_j t_ij log softmax(s)_ij, s_ij = a_i·c_j/τ, t = α·softmax(s_m) + (1−α)·δ_ij.

    Scalar torch ops in plain loops; targets (momentum rows, candidates, τ inside the
    targets) are constants, so autograd gives the reference gradients for a and τ.
    """
    n, dim = a.shape
    tau_const = tau.detach() if isinstance(tau, torch.Tensor) else tau

    def dot(u, v):
        return sum(u[d] * v[d] for d in range(dim))

    total = 0.0
    for i in range(n):
        s = [dot(a[i], c) / tau for c in candidates]
        s_m = [dot(a_m[i].detach(), c.detach()) / tau_const for c in candidates]
        log_z = torch.log(sum(torch.exp(v) for v in s))
        z_m = sum(torch.exp(v) for v in s_m)
        for j in range(len(candidates)):
            target = alpha * torch.exp(s_m[j]) / z_m + (1 - alpha) * (1.0 if j == i else 0.0)
            total = total - target * (s[j] - log_z)
    return total / n


def naive_albef(x, y, x_m, y_m, qx, qy, tau, alpha):
    """½·[x→y over [y_m; qy] + y→x over [x_m; qx]]."""
    all_y = list(y_m.detach()) + list(qy.detach())
    all_x = list(x_m.detach()) + list(qx.detach())
    return 0.5 * (naive_direction(x, x_m, all_y, tau, alpha)
                  + naive_direction(y, y_m, all_x, tau, alpha))


def unit(*shape, seed, requires_grad=False):
    g = torch.Generator().manual_seed(seed)
    v = torch.nn.functional.normalize(torch.randn(*shape, generator=g, dtype=torch.float64),
                                      dim=-1)
    return v.requires_grad_(requires_grad)


def problem(size=5, seed=0):
    """Online x, y (grad), momentum x_m, y_m near them, queues of ``size`` rows."""
    x, y = unit(B, D, seed=seed, requires_grad=True), unit(B, D, seed=seed + 1,
                                                           requires_grad=True)
    x_m = torch.nn.functional.normalize(x.detach() + 0.3 * unit(B, D, seed=seed + 2), dim=-1)
    y_m = torch.nn.functional.normalize(y.detach() + 0.3 * unit(B, D, seed=seed + 3), dim=-1)
    return x, y, x_m, y_m, unit(size, D, seed=seed + 4), unit(size, D, seed=seed + 5)


@pytest.mark.parametrize("alpha,size,temperature", [(0.4, 5, 0.07), (0.0, 5, 0.2),
                                                    (1.0, 3, 0.5), (0.4, 0, 0.1)])
def test_matches_naive_reference_values_and_gradients(alpha, size, temperature):
    x, y, x_m, y_m, qx, qy = problem(size)
    loss = ALBEFContrastiveLoss(temperature, alpha)(x, y, x_m, y_m, qx, qy)
    expected = naive_albef(x, y, x_m, y_m, qx, qy, temperature, alpha)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-12)
    grads = torch.autograd.grad(loss, (x, y))
    expected_grads = torch.autograd.grad(expected, (x, y))
    for got, want in zip(grads, expected_grads, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)


def test_learnable_temperature_matches_reference_and_gets_gradient():
    x, y, x_m, y_m, qx, qy = problem(4, seed=10)
    tau = torch.tensor(0.15, dtype=torch.float64, requires_grad=True)
    loss = ALBEFContrastiveLoss(alpha=0.4)(x, y, x_m, y_m, qx, qy, temperature=tau)
    expected = naive_albef(x, y, x_m, y_m, qx, qy, tau, 0.4)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-12)
    (grad,) = torch.autograd.grad(loss, tau)
    (expected_grad,) = torch.autograd.grad(expected, tau)
    assert grad.item() == pytest.approx(expected_grad.item(), rel=1e-10)
    assert grad.item() != 0.0


@pytest.mark.parametrize("raw", [2.0, 1e-3 / 2])
def test_temperature_tensor_outside_albef_range_is_used_as_given(raw):
    """The loss does not clamp τ (the method clamps the parameter in place, as ALBEF), so
    a τ outside [0.001, 0.5] still gets the gradient that brings it back."""
    x, y, x_m, y_m, qx, qy = problem(3, seed=20)
    tau = torch.tensor(raw, dtype=torch.float64, requires_grad=True)
    loss = ALBEFContrastiveLoss(alpha=0.4)(x, y, x_m, y_m, qx, qy, temperature=tau)
    fixed = ALBEFContrastiveLoss(temperature=raw, alpha=0.4)(x, y, x_m, y_m, qx, qy)
    assert loss.item() == pytest.approx(fixed.item(), rel=1e-12)
    loss.backward()
    assert tau.grad.item() != 0.0


@pytest.mark.parametrize("temperature", [0.07, 0.3, 0.5])
def test_alpha_zero_empty_queue_is_pairwise_nce(temperature):
    """α = 0, K = 0 and momentum = online features: the value of NCELoss(normalize=False)."""
    x, y, *_ = problem(0, seed=30)
    empty = torch.zeros(0, D, dtype=torch.float64)
    loss_fn = ALBEFContrastiveLoss(temperature, alpha=0.0)
    loss = loss_fn(x, y, x.detach(), y.detach(), empty, empty)
    nce = NCELoss(temperature=temperature, normalize=False)(x, y)
    assert loss.item() == pytest.approx(nce.item(), rel=1e-12)
    assert loss_fn(x, y, x.detach(), y.detach()).item() == pytest.approx(nce.item(), rel=1e-12)
    # The same with a learnable τ and CLIP's logit_scale = log(1/τ).
    tau = torch.tensor(temperature, dtype=torch.float64)
    scale = torch.tensor(math.log(1 / temperature), dtype=torch.float64)
    nce_scaled = NCELoss(normalize=False)(x, y, logit_scale=scale)
    assert loss_fn(x, y, x.detach(), y.detach(), temperature=tau).item() == pytest.approx(
        nce_scaled.item(), rel=1e-12)


def test_momentum_inputs_and_queues_get_no_gradient():
    x, y, x_m, y_m, qx, qy = problem(5, seed=40)
    momentum = [t.clone().requires_grad_(True) for t in (x_m, y_m, qx, qy)]
    loss = ALBEFContrastiveLoss(alpha=0.4)(x, y, *momentum)
    assert torch.autograd.grad(loss, momentum, allow_unused=True, retain_graph=True) == (
        None, None, None, None)
    loss.backward()
    assert x.grad.abs().sum() > 0 and y.grad.abs().sum() > 0


def test_alpha_one_with_momentum_equal_to_online_is_a_fixed_point():
    """α = 1 and x_m = x, y_m = y: targets = the model's own softmax, so the loss is the
    mean entropy of those softmaxes and its gradient is zero (softmax − target = 0)."""
    x, y, _, _, qx, qy = problem(4, seed=50)
    tau = 0.2
    loss = ALBEFContrastiveLoss(tau, alpha=1.0)(x, y, x.detach(), y.detach(), qx, qy)

    def mean_entropy(a, candidates):
        p = torch.softmax(a.detach() @ candidates.t() / tau, dim=1)
        return -(p * p.log()).sum(dim=1).mean()

    entropy = 0.5 * (mean_entropy(x, torch.cat([y.detach(), qy]))
                     + mean_entropy(y, torch.cat([x.detach(), qx])))
    assert loss.item() == pytest.approx(entropy.item(), rel=1e-12)
    for grad in torch.autograd.grad(loss, (x, y)):
        torch.testing.assert_close(grad, torch.zeros_like(grad), rtol=0, atol=1e-12)


@pytest.mark.parametrize("alpha", [0.4, 1.0])
def test_equals_paper_form_plus_momentum_entropy(alpha):
    """Paper: (1 − α)·L_itc + (α/2)·mean[KL(q_x2y‖p_x2y) + KL(q_y2x‖p_y2x)]; the code's
    cross-entropy with mixed targets adds (α/2)·mean[H(q_x2y) + H(q_y2x)], a constant. At
    α = 1 the one-hot labels drop out: pure distillation from the momentum model."""
    x, y, x_m, y_m, qx, qy = problem(4, seed=60)
    tau = 0.2
    all_y, all_x = torch.cat([y_m, qy]), torch.cat([x_m, qx])
    p_x2y = torch.log_softmax(x.detach() @ all_y.t() / tau, dim=1)
    p_y2x = torch.log_softmax(y.detach() @ all_x.t() / tau, dim=1)
    q_x2y = torch.log_softmax(x_m @ all_y.t() / tau, dim=1)
    q_y2x = torch.log_softmax(y_m @ all_x.t() / tau, dim=1)
    index = torch.arange(B)
    l_itc = -0.5 * (p_x2y[index, index].mean() + p_y2x[index, index].mean())

    def kl(log_q, log_p):
        return (log_q.exp() * (log_q - log_p)).sum(dim=1).mean()

    def entropy(log_q):
        return -(log_q.exp() * log_q).sum(dim=1).mean()

    paper = (1 - alpha) * l_itc + alpha / 2 * (kl(q_x2y, p_x2y) + kl(q_y2x, p_y2x))
    constant = alpha / 2 * (entropy(q_x2y) + entropy(q_y2x))
    loss = ALBEFContrastiveLoss(tau, alpha)(x, y, x_m, y_m, qx, qy)
    assert loss.item() == pytest.approx((paper + constant).item(), rel=1e-12)


def test_invariant_to_permuting_the_queues_and_alpha_override():
    x, y, x_m, y_m, qx, qy = problem(6, seed=70)
    perm = torch.randperm(6, generator=torch.Generator().manual_seed(1))
    loss_fn = ALBEFContrastiveLoss(0.1, alpha=0.4)
    base = loss_fn(x, y, x_m, y_m, qx, qy)
    assert loss_fn(x, y, x_m, y_m, qx[perm], qy[perm]).item() == pytest.approx(base.item(),
                                                                               rel=1e-12)
    # Warm-up: the forward's alpha replaces the constructor's.
    warm = loss_fn(x, y, x_m, y_m, qx, qy, alpha=0.1)
    assert warm.item() == pytest.approx(
        ALBEFContrastiveLoss(0.1, alpha=0.1)(x, y, x_m, y_m, qx, qy).item(), rel=1e-13)
    assert warm.item() != pytest.approx(base.item(), rel=1e-6)


def test_orthonormal_aligned_pairs_give_zero_loss():
    e = torch.eye(D, dtype=torch.float64)
    loss = ALBEFContrastiveLoss(1e-3, alpha=0.4)(e, e.clone(), e.clone(), e.clone())
    assert loss.item() == pytest.approx(0.0, abs=1e-12)


def test_rejects_bad_shapes_and_hyper_parameters():
    x = torch.randn(3, 4)
    with pytest.raises(ValueError, match="x, x_m"):
        ALBEFContrastiveLoss()(x, x, torch.randn(2, 4), torch.randn(2, 4))
    with pytest.raises(ValueError, match=r"qy of shape \(K, 4\)"):
        ALBEFContrastiveLoss()(x, x, x, x, torch.randn(2, 4), torch.randn(2, 5))
    with pytest.raises(ValueError, match="alpha"):
        ALBEFContrastiveLoss(alpha=1.5)
    with pytest.raises(ValueError, match="alpha"):
        ALBEFContrastiveLoss()(x, x, x, x, alpha=-0.1)
    with pytest.raises(ValueError, match="temperature"):
        ALBEFContrastiveLoss(temperature=0.0)
