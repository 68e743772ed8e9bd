"""SupConLoss against a loop reference written straight from the L^sup_out formula."""

import math

import pytest
import torch

from mmssl.losses.ntxent import NTXentLoss
from mmssl.losses.supcon import SupConLoss


def naive_supcon(features, labels, temperature):
    """mean_{a: P(a)≠∅} -(1/|P(a)|) Σ_{p∈P(a)} log( e^{z_a·z_p/τ} / Σ_{k≠a} e^{z_a·z_k/τ} ).

    Scalar torch ops in plain loops, so autograd gives the reference gradients too.
    """
    b, v, dim = features.shape
    items = [(features[i, j], int(labels[i])) for i in range(b) for j in range(v)]

    def unit(x):
        return x / torch.sqrt(sum(x[d] ** 2 for d in range(dim)))

    zs = [unit(x) for x, _ in items]

    def sim(a, k):
        return sum(zs[a][d] * zs[k][d] for d in range(dim)) / temperature

    terms = []
    for a, (_, label) in enumerate(items):
        others = [k for k in range(len(items)) if k != a]
        positives = [k for k in others if items[k][1] == label]
        if not positives:
            continue  # anchors with no positive are skipped
        denominator = sum(torch.exp(sim(a, k)) for k in others)
        total = sum(torch.log(torch.exp(sim(a, p)) / denominator) for p in positives)
        terms.append(-total / len(positives))
    return sum(terms) / len(terms)


def random_features(seed, b=6, v=2, dim=4):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(b, v, dim, generator=g, dtype=torch.float64, requires_grad=True)


@pytest.mark.parametrize("v,labels", [
    (2, [0, 1, 0, 2, 1, 0]),
    (3, [4, 4, 7, 7, 7, 1]),
    (1, [0, 1, 0, 2, 1, 0]),  # label 2 seen once with V = 1: that anchor is skipped
])
def test_matches_naive_reference_values_and_gradients(v, labels):
    features = random_features(0, v=v)
    labels = torch.tensor(labels)
    loss = SupConLoss(temperature=0.3)(features, labels)
    expected = naive_supcon(features, labels, 0.3)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-10)
    grad, = torch.autograd.grad(loss, features)
    expected_grad, = torch.autograd.grad(expected, features)
    torch.testing.assert_close(grad, expected_grad, rtol=1e-9, atol=1e-12)


def test_distinct_labels_two_views_equal_ntxent():
    features = random_features(1, b=7)
    z1, z2 = features[:, 0], features[:, 1]
    expected = NTXentLoss(temperature=0.2)(z1, z2)
    expected_grad, = torch.autograd.grad(expected, features)
    for labels in (torch.arange(7) * 3 + 1, None):
        loss = SupConLoss(temperature=0.2)(features, labels)
        assert loss.item() == pytest.approx(expected.item(), rel=1e-12)
        grad, = torch.autograd.grad(loss, features)
        torch.testing.assert_close(grad, expected_grad, rtol=1e-10, atol=1e-13)


def test_one_class_of_identical_features_gives_log_bv_minus_1():
    features = torch.ones(4, 3, 5, dtype=torch.float64)
    loss = SupConLoss()(features, torch.zeros(4, dtype=torch.long))
    assert loss.item() == pytest.approx(math.log(4 * 3 - 1), abs=1e-12)


def test_invariances():
    features = random_features(2, b=8, v=3).detach()
    labels = torch.tensor([0, 1, 1, 2, 0, 2, 1, 3])
    loss_fn = SupConLoss(temperature=0.1)
    loss = loss_fn(features, labels).item()
    perm = torch.randperm(8, generator=torch.Generator().manual_seed(2))
    assert loss_fn(features[perm], labels[perm]).item() == pytest.approx(loss, rel=1e-12)
    assert loss_fn(features[:, [2, 0, 1]], labels).item() == pytest.approx(loss, rel=1e-12)
    assert loss_fn(features, 10 - 3 * labels).item() == pytest.approx(loss, rel=1e-12)
    # Sanity: changing which samples share a label changes the loss.
    assert loss_fn(features, labels[perm]).item() != pytest.approx(loss, rel=1e-6)


def test_no_positive_anywhere_is_connected_zero():
    features = random_features(3, b=4, v=1)
    loss = SupConLoss()(features, torch.arange(4))
    assert loss.item() == 0.0
    loss.backward()
    assert torch.all(features.grad == 0)


def test_gradcheck():
    features = random_features(4, b=3, v=2, dim=3)
    labels = torch.tensor([0, 0, 1])
    loss_fn = SupConLoss(temperature=0.5)
    assert torch.autograd.gradcheck(lambda f: loss_fn(f, labels), (features,))


def test_rejects_bad_shapes():
    with pytest.raises(ValueError, match=r"\(B, V, D\)"):
        SupConLoss()(torch.randn(4, 3), torch.arange(4))
    with pytest.raises(ValueError, match="labels must have shape"):
        SupConLoss()(torch.randn(4, 2, 3), torch.arange(5))
