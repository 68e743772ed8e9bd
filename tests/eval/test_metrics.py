"""retrieval_metrics against a brute-force per-query loop."""

import numpy as np
import pytest
import torch

from mmssl.eval.metrics import retrieval_metrics, retrieval_ranks


def brute_force(scores, targets=None, ks=(1, 5, 10)):
    """Sort each row by descending score; ties put the true item *after* its equals."""
    scores = np.asarray(scores, dtype=np.float64)
    n_q = scores.shape[0]
    targets = np.arange(n_q) if targets is None else np.asarray(targets)
    ranks = []
    for q in range(n_q):
        t = targets[q]
        # Sort key (-score, is_true): among equal scores the true item comes last.
        order = sorted(range(scores.shape[1]), key=lambda j: (-scores[q, j], j == t))
        ranks.append(order.index(t))
    ranks = np.array(ranks)
    out = {f"R@{k}": float(np.mean(ranks < k)) for k in ks}
    out.update(MedR=float(np.median(ranks) + 1), MnR=float(np.mean(ranks) + 1),
               num_queries=n_q)
    return out, ranks


def assert_same(got, expected):
    assert got.keys() == expected.keys()
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, abs=1e-12), key
        assert type(got[key]) is type(value), key


@pytest.mark.parametrize("n", [1, 7, 40])
def test_matches_brute_force_on_random_scores(n):
    rng = np.random.default_rng(n)
    scores = rng.normal(size=(n, n)) + 2.0 * np.eye(n)  # better than chance
    expected, ranks = brute_force(scores)
    assert_same(retrieval_metrics(scores), expected)
    assert_same(retrieval_metrics(torch.from_numpy(scores).float()), expected)
    assert retrieval_ranks(scores).tolist() == ranks.tolist()


def test_integer_scores_with_many_ties_match_brute_force():
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 3, size=(25, 25))  # int64: ties everywhere
    expected, _ = brute_force(scores, ks=(1, 3, 5))
    assert_same(retrieval_metrics(torch.from_numpy(scores), ks=(1, 3, 5)), expected)
    assert_same(retrieval_metrics(scores, ks=(1, 3, 5)), expected)


def test_constant_matrix_is_worst_case():
    n = 12
    out = retrieval_metrics(torch.zeros(n, n))
    assert retrieval_ranks(torch.zeros(n, n)).tolist() == [n - 1] * n
    assert out["R@1"] == 0.0 and out["R@5"] == 0.0 and out["R@10"] == 0.0
    assert out["MedR"] == float(n) and out["MnR"] == float(n)


def test_identity_is_perfect():
    out = retrieval_metrics(torch.eye(20))
    assert out == {"R@1": 1.0, "R@5": 1.0, "R@10": 1.0, "MedR": 1.0, "MnR": 1.0,
                   "num_queries": 20}


def test_duplicate_rows():
    # Items 0 and 1 are indistinguishable (duplicate clips): each query ties with its
    # twin, so the pessimistic convention puts both at rank 1.
    emb = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.6, 0.8]])
    scores = emb @ emb.t()
    assert retrieval_ranks(scores).tolist() == [1, 1, 0, 0]
    assert_same(retrieval_metrics(scores), brute_force(scores.numpy())[0])


def test_chunked_equals_unchunked():
    rng = np.random.default_rng(3)
    scores = torch.from_numpy(rng.normal(size=(10, 10)))
    scores[4, :] = scores[4, 4]  # a tied row across a chunk boundary
    full = retrieval_metrics(scores, chunk_size=4096)
    for chunk in (1, 3, 10):
        assert retrieval_metrics(scores, chunk_size=chunk) == full
    assert full == pytest.approx(brute_force(scores.numpy())[0])


def test_targets_variant_for_queries_sharing_items():
    rng = np.random.default_rng(4)
    n_items, n_queries = 6, 15
    targets = rng.integers(0, n_items, size=n_queries)
    scores = rng.normal(size=(n_queries, n_items))
    scores[np.arange(n_queries), targets] += 1.0
    expected, _ = brute_force(scores, targets)
    assert_same(retrieval_metrics(scores, targets=torch.from_numpy(targets), chunk_size=4),
                expected)
    # With targets = arange on a square matrix it matches the default.
    sq = rng.normal(size=(8, 8))
    assert retrieval_metrics(sq, targets=np.arange(8)) == retrieval_metrics(sq)


def test_errors_are_explicit():
    with pytest.raises(ValueError, match="not square"):
        retrieval_metrics(torch.zeros(3, 4))
    with pytest.raises(ValueError, match="one per query"):
        retrieval_metrics(torch.zeros(3, 4), targets=torch.tensor([0, 1]))
    with pytest.raises(ValueError, match=r"\[0, 4\)"):
        retrieval_metrics(torch.zeros(2, 4), targets=torch.tensor([0, 4]))
    bad = torch.zeros(5, 5)
    bad[3, 1] = float("nan")
    with pytest.raises(ValueError, match="row 3"):
        retrieval_metrics(bad, chunk_size=2)
