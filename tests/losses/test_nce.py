"""NCELoss against a loop reference written straight from the formula in PROTOCOLS.md."""

import math

import pytest
import torch

from mmssl.losses import NCELoss


def naive_nce(x, y, temperature, normalize, mask=None):
    """L = ½·mean_i[-log softmax_j(x_i·y_j/τ)_i] + ½·mean_i[-log softmax_j(x_j·y_i/τ)_i]."""
    xs, ys = x.tolist(), y.tolist()
    if mask is not None:
        keep = mask.tolist()
        xs = [r for r, m in zip(xs, keep, strict=True) if m]
        ys = [r for r, m in zip(ys, keep, strict=True) if m]
    if normalize:
        xs = [[v / math.sqrt(sum(u * u for u in r)) for v in r] for r in xs]
        ys = [[v / math.sqrt(sum(u * u for u in r)) for v in r] for r in ys]
    n = len(xs)

    def sim(a, b):
        return sum(p * q for p, q in zip(a, b, strict=True)) / temperature

    x_to_y = 0.0
    y_to_x = 0.0
    for i in range(n):
        x_to_y += -math.log(math.exp(sim(xs[i], ys[i]))
                            / sum(math.exp(sim(xs[i], ys[j])) for j in range(n)))
        y_to_x += -math.log(math.exp(sim(xs[i], ys[i]))
                            / sum(math.exp(sim(xs[j], ys[i])) for j in range(n)))
    return 0.5 * x_to_y / n + 0.5 * y_to_x / n


@pytest.mark.parametrize("normalize,temperature", [(True, 0.1), (True, 0.5), (False, 1.0)])
def test_matches_naive_reference(normalize, temperature):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(7, 5, generator=g, dtype=torch.float64)
    y = torch.randn(7, 5, generator=g, dtype=torch.float64)
    if not normalize:
        x, y = 0.5 * x, 0.5 * y  # keep raw dot products modest for math.exp
    loss = NCELoss(temperature=temperature, normalize=normalize)(x, y)
    expected = naive_nce(x, y, temperature, normalize)
    assert loss.item() == pytest.approx(expected, rel=1e-10, abs=1e-12)


def test_mask_removes_rows():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(8, 4, generator=g, dtype=torch.float64)
    y = torch.randn(8, 4, generator=g, dtype=torch.float64)
    mask = torch.tensor([True, False, True, True, False, True, True, False])
    loss_fn = NCELoss(temperature=0.2)
    loss = loss_fn(x, y, mask=mask)
    assert loss.item() == pytest.approx(naive_nce(x, y, 0.2, True, mask), rel=1e-10)
    # Removing the rows by hand gives the same number: masked rows are not negatives.
    assert loss.item() == pytest.approx(loss_fn(x[mask], y[mask]).item(), rel=1e-12)
    # Masked rows get no gradient.
    xg = x.clone().requires_grad_(True)
    loss_fn(xg, y, mask=mask).backward()
    assert torch.all(xg.grad[~mask] == 0)
    assert torch.any(xg.grad[mask] != 0)


def test_all_masked_is_connected_zero():
    x = torch.randn(3, 4, requires_grad=True)
    y = torch.randn(3, 4, requires_grad=True)
    loss = NCELoss()(x, y, mask=torch.zeros(3, dtype=torch.bool))
    assert loss.item() == 0.0
    loss.backward()
    assert x.grad is not None and torch.all(x.grad == 0)
    assert y.grad is not None and torch.all(y.grad == 0)


def test_joint_permutation_invariance():
    g = torch.Generator().manual_seed(2)
    x = torch.randn(9, 6, generator=g, dtype=torch.float64)
    y = torch.randn(9, 6, generator=g, dtype=torch.float64)
    perm = torch.randperm(9, generator=g)
    loss_fn = NCELoss(temperature=0.1)
    assert loss_fn(x[perm], y[perm]).item() == pytest.approx(loss_fn(x, y).item(), rel=1e-12)
    # Sanity: permuting only one side breaks the pairing and changes the loss.
    assert loss_fn(x, y[perm]).item() != pytest.approx(loss_fn(x, y).item(), rel=1e-6)


def test_orthogonal_identical_embeddings_give_zero_loss():
    x = torch.eye(6, dtype=torch.float64)
    loss = NCELoss(temperature=1e-3)(x, x.clone())
    assert loss.item() == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("batch", [1, 2, 5, 16])
def test_constant_inputs_give_log_batch(batch):
    x = torch.ones(batch, 3, dtype=torch.float64)
    loss = NCELoss(temperature=0.07)(x, 2 * x)
    assert loss.item() == pytest.approx(math.log(batch), abs=1e-12)


@pytest.mark.parametrize("normalize", [True, False])
def test_gradcheck(normalize):
    g = torch.Generator().manual_seed(3)
    x = torch.randn(4, 3, generator=g, dtype=torch.float64, requires_grad=True)
    y = torch.randn(4, 3, generator=g, dtype=torch.float64, requires_grad=True)
    loss_fn = NCELoss(temperature=0.5, normalize=normalize)
    assert torch.autograd.gradcheck(lambda a, b: loss_fn(a, b), (x, y))
    scale = torch.tensor(1.3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b, s: loss_fn(a, b, logit_scale=s), (x, y, scale))


def test_logit_scale_replaces_temperature_unclamped():
    """exp(logit_scale) replaces 1/τ as given: the bound on the parameter is kept in place
    after each optimiser step (open_clip), so past it the gradient is not cut off."""
    g = torch.Generator().manual_seed(4)
    x = torch.randn(6, 8, generator=g, dtype=torch.float64)
    y = torch.randn(6, 8, generator=g, dtype=torch.float64)
    loss_fn = NCELoss(temperature=0.07)
    below = loss_fn(x, y, logit_scale=torch.tensor(math.log(20.0), dtype=torch.float64))
    assert below.item() == pytest.approx(naive_nce(x, y, 1 / 20, True), rel=1e-10)
    scale = torch.tensor(math.log(200.0), dtype=torch.float64, requires_grad=True)
    above = loss_fn(x, y, logit_scale=scale)  # past CLIP's bound of 100
    assert above.item() == pytest.approx(naive_nce(x, y, 1 / 200, True), rel=1e-10)
    above.backward()
    assert scale.grad.item() != 0.0


def test_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="equal shape"):
        NCELoss()(torch.randn(3, 4), torch.randn(4, 4))
