"""Top-1 and (m)AP against brute-force definitions, ties included."""

import numpy as np
import pytest
import torch

from mmssl.eval.classification_tasks import (
    average_precision,
    mean_average_precision,
    multi_hot,
    top1_accuracy,
)


def brute_ap(scores, positives):
    """Mean over positives i of precision among items scoring >= s_i (ties included)."""
    precisions = []
    for i in np.flatnonzero(positives):
        retrieved = scores >= scores[i]
        precisions.append(positives[retrieved].sum() / retrieved.sum())
    return float(np.mean(precisions))


@pytest.mark.parametrize("seed", range(4))
def test_average_precision_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    scores = rng.integers(0, 5, size=40).astype(float)  # ties everywhere
    positives = rng.random(40) < 0.3
    positives[0] = True
    assert average_precision(scores, positives) == pytest.approx(brute_ap(scores, positives))
    continuous = rng.normal(size=40)
    assert average_precision(continuous, positives) == pytest.approx(
        brute_ap(continuous, positives))


def test_known_average_precisions():
    assert average_precision([0.9, 0.8, 0.1], [True, False, True]) == pytest.approx(
        (1 / 1 + 2 / 3) / 2)
    assert average_precision([1.0, 1.0, 1.0, 1.0], [True, False, False, False]) == 0.25
    assert average_precision([3.0, 2.0, 1.0], [True, True, False]) == 1.0


def test_map_skips_classes_without_positives():
    scores = np.array([[0.9, 0.2, 0.5], [0.1, 0.8, 0.5], [0.3, 0.3, 0.5]])
    targets = np.array([[1, 0, 0], [0, 1, 0], [1, 0, 0]])
    out = mean_average_precision(scores, targets)
    assert out["classes"] == 2 and set(out["per_class"]) == {0, 1}
    assert out["mAP"] == pytest.approx((brute_ap(scores[:, 0], targets[:, 0] == 1)
                                        + brute_ap(scores[:, 1], targets[:, 1] == 1)) / 2)
    with pytest.raises(ValueError, match="no class has a positive"):
        mean_average_precision(scores, np.zeros((3, 3)))


def test_top1_ties_are_wrong_answers():
    scores = torch.tensor([[0.9, 0.1], [0.5, 0.5], [0.2, 0.7]])
    assert top1_accuracy(scores, torch.tensor([0, 0, 1])) == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="labels"):
        top1_accuracy(scores, torch.tensor([0, 1]))


def test_multi_hot():
    assert multi_hot([[0, 2], [], [1]], 3).tolist() == [[1, 0, 1], [0, 0, 0], [0, 1, 0]]
