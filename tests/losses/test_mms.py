"""MaskedMarginSoftmaxLoss against a loop reference written straight from the MMS formula."""

import math

import pytest
import torch

from mmssl.losses.mms import MaskedMarginSoftmaxLoss
from mmssl.losses.nce import NCELoss


def naive_mms(x, y, margin, normalize=False, mask=None, negative_mask=None):
    """-(1/B) Σ_i [log(e^{S_ii-δ} / (e^{S_ii-δ} + Σ_{j≠i,N_ij} e^{S_ij}))
                   + log(e^{S_ii-δ} / (e^{S_ii-δ} + Σ_{j≠i,N_ji} e^{S_ji}))].

    Plain loops on 0-d float64 tensors, so autograd gives the reference gradients too.
    """
    rows = range(x.shape[0]) if mask is None else [i for i, m in enumerate(mask) if m]
    xs, ys = [x[i] for i in rows], [y[i] for i in rows]
    if normalize:
        xs = [r / sum(v * v for v in r).sqrt() for r in xs]
        ys = [r / sum(v * v for v in r).sqrt() for r in ys]

    def s(i, j):
        return sum(p * q for p, q in zip(xs[i], ys[j], strict=True))

    def negative(i, j):  # is (x_i, y_j) a negative? (indices into the kept rows)
        return negative_mask is None or bool(negative_mask[rows[i]][rows[j]])

    n = len(xs)
    total = 0.0
    for i in range(n):
        pos = torch.exp(s(i, i) - margin)
        row = pos + sum(torch.exp(s(i, j)) for j in range(n) if j != i and negative(i, j))
        col = pos + sum(torch.exp(s(j, i)) for j in range(n) if j != i and negative(j, i))
        total = total + torch.log(pos / row) + torch.log(pos / col)
    return -total / n


def random_pair(seed, b=6, d=4, scale=0.7):
    g = torch.Generator().manual_seed(seed)
    x = scale * torch.randn(b, d, generator=g, dtype=torch.float64)
    y = scale * torch.randn(b, d, generator=g, dtype=torch.float64)
    return x.requires_grad_(True), y.requires_grad_(True)


def same_video_mask(video_ids):
    """N_ij = False where x_i and y_j come from the same video (and i ≠ j)."""
    ids = torch.tensor(video_ids)
    return (ids[:, None] != ids[None, :]) | torch.eye(len(video_ids), dtype=torch.bool)


@pytest.mark.parametrize("margin,normalize", [(0.001, False), (0.5, False), (0.2, True)])
@pytest.mark.parametrize("use_negative_mask", [False, True])
def test_matches_naive_reference_values_and_gradients(margin, normalize, use_negative_mask):
    x, y = random_pair(0)
    negative_mask = same_video_mask([0, 0, 1, 2, 2, 2]) if use_negative_mask else None
    loss_fn = MaskedMarginSoftmaxLoss(margin=margin, normalize=normalize)
    loss = loss_fn(x, y, negative_mask=negative_mask)
    expected = naive_mms(x, y, margin, normalize, negative_mask=negative_mask)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-10)
    grads = torch.autograd.grad(loss, [x, y])
    ref_grads = torch.autograd.grad(expected, [x, y])
    for grad, ref in zip(grads, ref_grads, strict=True):
        torch.testing.assert_close(grad, ref, rtol=1e-9, atol=1e-12)


def test_asymmetric_negative_mask_is_indexed_like_s():
    x, y = random_pair(1, b=5)
    negative_mask = torch.rand(5, 5, generator=torch.Generator().manual_seed(1)) < 0.5
    assert not torch.equal(negative_mask, negative_mask.t())
    loss = MaskedMarginSoftmaxLoss(margin=0.1)(x, y, negative_mask=negative_mask)
    expected = naive_mms(x, y, 0.1, negative_mask=negative_mask)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-10)


@pytest.mark.parametrize("normalize", [False, True])
def test_zero_margin_is_twice_nce_at_temperature_one(normalize):
    # Row CE + column CE, each a batch mean; NCELoss averages the two instead of summing.
    x, y = random_pair(2, b=8, d=5)
    mms = MaskedMarginSoftmaxLoss(margin=0.0, normalize=normalize)(x, y)
    nce = NCELoss(temperature=1.0, normalize=normalize)(x, y)
    assert mms.item() == pytest.approx(2 * nce.item(), rel=1e-12)


@pytest.mark.parametrize("batch,margin", [(1, 0.001), (4, 0.001), (7, 0.5)])
def test_constant_similarities_closed_form(batch, margin):
    # S_ij = c for all i, j: each direction is -log(e^{c-δ} / (e^{c-δ} + (B-1)e^c)).
    x = torch.ones(batch, 3, dtype=torch.float64)
    loss = MaskedMarginSoftmaxLoss(margin=margin)(x, 0.5 * x)
    expected = 2 * math.log(1 + (batch - 1) * math.exp(margin))
    assert loss.item() == pytest.approx(expected, rel=1e-12, abs=1e-15)


def test_no_negatives_left_gives_zero():
    x, y = random_pair(3)
    eye = torch.eye(6, dtype=torch.bool)
    assert MaskedMarginSoftmaxLoss()(x, y, negative_mask=eye).item() == 0.0


def test_joint_permutation_invariance():
    x, y = random_pair(4, b=6)
    negative_mask = same_video_mask([0, 1, 1, 2, 3, 3])
    perm = torch.randperm(6, generator=torch.Generator().manual_seed(4))
    loss_fn = MaskedMarginSoftmaxLoss(margin=0.3)
    permuted = loss_fn(x[perm], y[perm], negative_mask=negative_mask[perm][:, perm])
    assert permuted.item() == pytest.approx(loss_fn(x, y, negative_mask=negative_mask).item(),
                                            rel=1e-12)
    assert loss_fn(x, y[perm]).item() != pytest.approx(loss_fn(x, y).item(), rel=1e-6)


def test_row_mask_removes_rows_and_columns():
    x, y = random_pair(5, b=7)
    mask = torch.tensor([True, False, True, True, False, True, True])
    negative_mask = same_video_mask([0, 0, 1, 1, 2, 3, 3])
    loss_fn = MaskedMarginSoftmaxLoss(margin=0.1)
    loss = loss_fn(x, y, mask=mask, negative_mask=negative_mask)
    expected = naive_mms(x, y, 0.1, mask=mask.tolist(), negative_mask=negative_mask)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-10)
    smaller = loss_fn(x[mask], y[mask], negative_mask=negative_mask[mask][:, mask])
    assert loss.item() == pytest.approx(smaller.item(), rel=1e-12)
    x_grad, y_grad = torch.autograd.grad(loss, [x, y])
    assert torch.all(x_grad[~mask] == 0) and torch.all(y_grad[~mask] == 0)
    assert torch.any(x_grad[mask] != 0)
    empty = loss_fn(x, y, mask=torch.zeros(7, dtype=torch.bool))
    assert empty.item() == 0.0 and empty.requires_grad


def test_gradcheck():
    x, y = random_pair(6, b=4, d=3)
    negative_mask = same_video_mask([0, 0, 1, 2])
    loss_fn = MaskedMarginSoftmaxLoss(margin=0.2, normalize=True)
    assert torch.autograd.gradcheck(lambda a, b: loss_fn(a, b, negative_mask=negative_mask),
                                    (x, y))


def test_rejects_bad_shapes():
    loss_fn = MaskedMarginSoftmaxLoss()
    with pytest.raises(ValueError, match="equal shape"):
        loss_fn(torch.randn(3, 4), torch.randn(4, 4))
    with pytest.raises(ValueError, match="negative_mask"):
        loss_fn(torch.randn(3, 4), torch.randn(3, 4), negative_mask=torch.ones(3, 4).bool())
