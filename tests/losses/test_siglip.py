"""SigLIPLoss against a loop reference written straight from Eq. 1 of Zhai et al. 2023."""

import math

import pytest
import torch

from mmssl.losses.siglip import SigLIPLoss


def log_sigmoid(z):
    return -math.log1p(math.exp(-z)) if z >= 0 else z - math.log1p(math.exp(z))


def naive_siglip(x, y, log_scale, bias, normalize=True, mask=None):
    """L = -(1/B) Σ_i Σ_j log σ(ℓ_ij·(t·x_i·y_j + b)), ℓ_ij = +1 if i = j else -1.

    Plain loops over rows and features on 0-d float64 tensors, so autograd gives the
    reference gradients too; log σ(z) = -log(1 + e^{-z}).
    """
    rows = range(x.shape[0]) if mask is None else [i for i, m in enumerate(mask) if m]
    xs, ys = [x[i] for i in rows], [y[i] for i in rows]
    if normalize:
        xs = [r / sum(v * v for v in r).sqrt() for r in xs]
        ys = [r / sum(v * v for v in r).sqrt() for r in ys]
    n, t = len(xs), log_scale.exp()
    total = 0.0
    for i in range(n):
        for j in range(n):
            z = t * sum(p * q for p, q in zip(xs[i], ys[j], strict=True)) + bias
            label = 1.0 if i == j else -1.0
            total = total - torch.log1p(torch.exp(-label * z))
    return -total / n


def stored(loss_fn):
    """The module's t' and b as float64 leaves (values rounded to float32 at construction)."""
    return (loss_fn.log_scale.detach().double().requires_grad_(True),
            loss_fn.bias.detach().double().requires_grad_(True))


def random_pair(seed, b=7, d=5):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(b, d, generator=g, dtype=torch.float64, requires_grad=True)
    y = torch.randn(b, d, generator=g, dtype=torch.float64, requires_grad=True)
    return x, y


@pytest.mark.parametrize("log_scale,bias,normalize", [
    (math.log(10.0), -10.0, True), (1.5, 0.3, True), (0.0, -1.0, False)])
def test_matches_naive_reference_values_and_gradients(log_scale, bias, normalize):
    x, y = random_pair(0)
    loss_fn = SigLIPLoss(init_log_scale=log_scale, init_bias=bias, normalize=normalize).double()
    loss = loss_fn(x, y)
    t, b = stored(loss_fn)
    expected = naive_siglip(x, y, t, b, normalize)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-10)
    grads = torch.autograd.grad(loss, [x, y, loss_fn.log_scale, loss_fn.bias])
    ref_grads = torch.autograd.grad(expected, [x, y, t, b])
    for grad, ref in zip(grads, ref_grads, strict=True):
        torch.testing.assert_close(grad, ref, rtol=1e-9, atol=1e-12)


def test_gradcheck_with_given_scale_and_bias():
    x, y = random_pair(1, b=4, d=3)
    s = torch.tensor(0.4, dtype=torch.float64, requires_grad=True)
    c = torch.tensor(-1.0, dtype=torch.float64, requires_grad=True)
    loss_fn = SigLIPLoss()
    assert torch.autograd.gradcheck(lambda a, b, p, q: loss_fn(a, b, log_scale=p, bias=q),
                                    (x, y, s, c))
    # Given values replace the module's own: the result matches the reference with them.
    expected = naive_siglip(x, y, s, c).item()
    assert loss_fn(x, y, log_scale=s, bias=c).item() == pytest.approx(expected, rel=1e-10)


def test_zero_embeddings_closed_form():
    # Zero vectors stay zero under F.normalize, so every logit is b and
    # L = -log σ(b) - (B - 1)·log σ(-b).
    b, bias = 6, -3.0
    x = torch.zeros(b, 4, dtype=torch.float64)
    loss = SigLIPLoss(init_log_scale=2.0, init_bias=bias).double()(x, x.clone())
    expected = -log_sigmoid(bias) - (b - 1) * log_sigmoid(-bias)
    assert loss.item() == pytest.approx(expected, rel=1e-12)


def test_joint_permutation_invariance():
    x, y = random_pair(2, b=9, d=6)
    perm = torch.randperm(9, generator=torch.Generator().manual_seed(2))
    loss_fn = SigLIPLoss(init_log_scale=1.0, init_bias=-1.0).double()
    assert loss_fn(x[perm], y[perm]).item() == pytest.approx(loss_fn(x, y).item(), rel=1e-12)
    assert loss_fn(x, y[perm]).item() != pytest.approx(loss_fn(x, y).item(), rel=1e-6)


def test_mask_removes_rows():
    x, y = random_pair(3, b=8, d=4)
    mask = torch.tensor([True, False, True, True, False, True, True, False])
    loss_fn = SigLIPLoss(init_log_scale=1.2, init_bias=-0.5).double()
    loss = loss_fn(x, y, mask=mask)
    expected = naive_siglip(x, y, *stored(loss_fn), mask=mask.tolist())
    assert loss.item() == pytest.approx(expected.item(), rel=1e-10)
    assert loss.item() == pytest.approx(loss_fn(x[mask], y[mask]).item(), rel=1e-12)
    (x_grad,) = torch.autograd.grad(loss, [x])
    assert torch.all(x_grad[~mask] == 0)
    assert torch.any(x_grad[mask] != 0)
    empty = loss_fn(x, y, mask=torch.zeros(8, dtype=torch.bool))
    assert empty.item() == 0.0 and empty.requires_grad


def test_learnable_flag_and_defaults():
    learnable = SigLIPLoss()
    assert {n for n, _ in learnable.named_parameters()} == {"log_scale", "bias"}
    assert learnable.log_scale.exp().item() == pytest.approx(10.0, rel=1e-6)
    assert learnable.bias.item() == -10.0
    fixed = SigLIPLoss(learnable=False)
    assert list(fixed.parameters()) == []
    assert set(fixed.state_dict()) == {"log_scale", "bias"}


def test_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="equal shape"):
        SigLIPLoss()(torch.randn(3, 4), torch.randn(4, 4))
