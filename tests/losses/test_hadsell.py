"""HadsellContrastiveLoss against a loop reference written straight from Hadsell et al. 2006."""

import pytest
import torch

from mmssl.losses.hadsell import HadsellContrastiveLoss


def naive_pair_loss(a, b, dissimilar, margin):
    """(1 - l)·½·d² + l·½·max(0, ε - d)², d = ||a - b||, on 0-d float64 tensors."""
    d = sum((p - q) ** 2 for p, q in zip(a, b, strict=True)).sqrt()
    if dissimilar:
        return 0.5 * torch.clamp(margin - d, min=0) ** 2
    return 0.5 * d ** 2


def naive_margin(x, y, label, margin):
    """mean_i over the explicit pairs (x_i, y_i) with labels l_i (1 = dissimilar)."""
    terms = [naive_pair_loss(x[i], y[i], bool(label[i]), margin) for i in range(x.shape[0])]
    return sum(terms) / len(terms)


def naive_margin_batch(x, y, margin):
    """mean over all B² pairs (x_i, y_j); dissimilar iff i ≠ j."""
    b = x.shape[0]
    terms = [naive_pair_loss(x[i], y[j], i != j, margin) for i in range(b) for j in range(b)]
    return sum(terms) / len(terms)


def random_pair(seed, b=6, d=4, scale=0.5):
    g = torch.Generator().manual_seed(seed)
    x = scale * torch.randn(b, d, generator=g, dtype=torch.float64)
    y = scale * torch.randn(b, d, generator=g, dtype=torch.float64)
    return x.requires_grad_(True), y.requires_grad_(True)


def assert_both_hinge_branches(distances, margin):
    """The inputs exercise both sides of max(0, ε - d) among the dissimilar pairs."""
    assert bool((distances < margin).any()) and bool((distances > margin).any())


def assert_same_values_and_gradients(loss, expected, inputs):
    assert loss.item() == pytest.approx(expected.item(), rel=1e-10)
    grads = torch.autograd.grad(loss, inputs)
    ref_grads = torch.autograd.grad(expected, inputs)
    for grad, ref in zip(grads, ref_grads, strict=True):
        torch.testing.assert_close(grad, ref, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("margin", [1.0, 1.5])
def test_pairs_match_naive_reference(margin):
    x, y = random_pair(0, b=10)
    label = torch.tensor([0, 1, 1, 0, 1, 0, 0, 1, 1, 1])
    assert_both_hinge_branches((x - y).norm(dim=-1).detach()[label.bool()], margin)
    loss = HadsellContrastiveLoss(margin=margin)(x, y, label)
    assert_same_values_and_gradients(loss, naive_margin(x, y, label, margin), [x, y])


@pytest.mark.parametrize("margin", [1.0, 1.5, 2.0])
def test_batch_matches_naive_reference(margin):
    x, y = random_pair(1, b=5)
    off_diagonal = ~torch.eye(5, dtype=torch.bool)
    assert_both_hinge_branches(torch.cdist(x, y).detach()[off_diagonal], margin)
    loss = HadsellContrastiveLoss(margin=margin).forward_batch(x, y)
    assert_same_values_and_gradients(loss, naive_margin_batch(x, y, margin), [x, y])


def test_batch_equals_forward_on_enumerated_pairs():
    x, y = random_pair(2, b=4)
    loss_fn = HadsellContrastiveLoss(margin=1.5)
    ii, jj = torch.meshgrid(torch.arange(4), torch.arange(4), indexing="ij")
    ii, jj = ii.reshape(-1), jj.reshape(-1)
    explicit = loss_fn(x[ii], y[jj], (ii != jj).long())
    assert loss_fn.forward_batch(x, y).item() == pytest.approx(explicit.item(), rel=1e-12)


def test_known_values():
    loss_fn = HadsellContrastiveLoss(margin=1.0)
    x = torch.zeros(3, 2, dtype=torch.float64)
    y = torch.tensor([[3.0, 4.0], [0.6, 0.8], [1.0, 0.0]], dtype=torch.float64)  # d = 5, 1, 1
    # Dissimilar pairs at d ≥ ε cost nothing.
    assert loss_fn(x, y, torch.ones(3)).item() == 0.0
    # Similar pairs cost ½d²: (25 + 1 + 1) / 2 / 3.
    assert loss_fn(x, y, torch.zeros(3)).item() == pytest.approx(4.5, rel=1e-12)
    # A dissimilar pair at d = 0.4 costs ½(1 - 0.4)² = 0.18.
    close = torch.tensor([[0.0, 0.4]], dtype=torch.float64)
    assert loss_fn(x[:1], close, torch.ones(1)).item() == pytest.approx(0.18, rel=1e-12)


def test_batch_zero_when_positives_coincide_and_negatives_are_far():
    x = (3.0 * torch.eye(4, dtype=torch.float64)).requires_grad_(True)  # pairwise d = 3√2
    loss = HadsellContrastiveLoss(margin=4.0).forward_batch(x, x.detach().clone())
    assert loss.item() == 0.0
    # d = 0 on the diagonal: the gradient is zero there, not NaN.
    (grad,) = torch.autograd.grad(loss, [x])
    assert torch.equal(grad, torch.zeros_like(grad))


def test_joint_permutation_invariance():
    x, y = random_pair(3, b=7)
    perm = torch.randperm(7, generator=torch.Generator().manual_seed(3))
    loss_fn = HadsellContrastiveLoss(margin=1.2)
    batch = loss_fn.forward_batch(x, y).item()
    assert loss_fn.forward_batch(x[perm], y[perm]).item() == pytest.approx(batch, rel=1e-12)
    assert loss_fn.forward_batch(x, y[perm]).item() != pytest.approx(batch, rel=1e-6)
    label = torch.tensor([0, 1, 0, 1, 1, 0, 1])
    pairs = loss_fn(x, y, label).item()
    assert loss_fn(x[perm], y[perm], label[perm]).item() == pytest.approx(pairs, rel=1e-12)


def test_gradcheck():
    x, y = random_pair(4, b=3, d=2)
    loss_fn = HadsellContrastiveLoss(margin=1.0)
    label = torch.tensor([1, 0, 1])
    assert torch.autograd.gradcheck(lambda a, b: loss_fn(a, b, label), (x, y))
    assert torch.autograd.gradcheck(loss_fn.forward_batch, (x, y))


def test_rejects_bad_arguments():
    with pytest.raises(ValueError, match="margin"):
        HadsellContrastiveLoss(margin=0.0)
    with pytest.raises(ValueError, match="label"):
        HadsellContrastiveLoss()(torch.randn(3, 2), torch.randn(3, 2), torch.zeros(4))
    with pytest.raises(ValueError, match="equal shape"):
        HadsellContrastiveLoss().forward_batch(torch.randn(3, 2), torch.randn(2, 2))
