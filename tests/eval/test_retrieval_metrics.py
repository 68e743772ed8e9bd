"""retrieval_metrics against a brute-force per-query loop."""

import numpy as np
import pytest
import torch

from mmssl.eval.retrieval_metrics import (
    embedding_ranks,
    grouped_retrieval_ranks,
    metrics_from_ranks,
    recall_curve,
    retrieval_metrics,
    retrieval_ranks,
)


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


def brute_force_grouped(scores, owner):
    """Per row: sort by descending score with the row's true columns after their equals;
    the rank is the position of the first true column."""
    scores = np.asarray(scores, dtype=np.float64)
    ranks = []
    for q in range(scores.shape[0]):
        order = sorted(range(scores.shape[1]), key=lambda j: (-scores[q, j], owner[j] == q))
        ranks.append(min(order.index(j) for j in range(scores.shape[1]) if owner[j] == q))
    return np.array(ranks)


@pytest.mark.parametrize("seed", [0, 1])
def test_grouped_ranks_match_brute_force_with_ties(seed):
    rng = np.random.default_rng(seed)
    n_rows, n_cols = 9, 23
    owner = np.concatenate([np.arange(n_rows), rng.integers(0, n_rows, n_cols - n_rows)])
    scores = rng.integers(0, 4, size=(n_rows, n_cols)).astype(np.float32)  # many ties
    expected = brute_force_grouped(scores, owner)
    for chunk in (1, 4, 100):
        got = grouped_retrieval_ranks(torch.from_numpy(scores), torch.from_numpy(owner), chunk)
        assert got.tolist() == expected.tolist()
    metrics = retrieval_metrics(scores, column_owner=owner)
    assert metrics["R@1"] == pytest.approx(np.mean(expected < 1))
    assert metrics["MedR"] == float(np.median(expected) + 1)


def test_grouped_equals_single_target_with_one_column_per_row():
    rng = np.random.default_rng(5)
    scores = torch.from_numpy(rng.normal(size=(12, 12)))
    perm = torch.from_numpy(rng.permutation(12))
    # Column j belongs to row perm[j]: the single-target form with t = perm⁻¹.
    targets = torch.argsort(perm)
    assert grouped_retrieval_ranks(scores, perm).tolist() == \
        retrieval_ranks(scores, targets=targets).tolist()


def test_duplicate_captions_tie_pessimistically_in_both_directions():
    # Clips 0 and 1 have the same caption (duplicate text embeddings): text->video cannot
    # tell them apart (so both captions rank 1), and video->text ties the two captions.
    text = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    video = torch.tensor([[0.9, 0.1], [0.8, 0.2], [0.1, 0.9]])
    to_video = embedding_ranks(text, video)
    assert to_video.tolist() == brute_force((text @ video.T).numpy())[1].tolist() == [0, 1, 0]
    to_text = embedding_ranks(video, text, column_owner=torch.arange(3))
    assert to_text.tolist() == [1, 1, 0]  # each clip's caption ties with its twin


@pytest.mark.parametrize("chunk", [1, 5, 64])
def test_embedding_ranks_equal_full_matrix_ranks(chunk):
    generator = torch.Generator().manual_seed(chunk)
    queries = torch.randn(30, 6, generator=generator)
    items = torch.randn(11, 6, generator=generator)
    targets = torch.randint(0, 11, (30,), generator=generator)
    full = retrieval_ranks(queries @ items.T, targets=targets)
    assert embedding_ranks(queries, items, targets=targets, chunk_size=chunk).tolist() == \
        full.tolist()
    owner = torch.cat([torch.arange(11), torch.randint(0, 11, (19,), generator=generator)])
    reverse = grouped_retrieval_ranks(items @ queries.T, owner)
    assert embedding_ranks(items, queries, column_owner=owner, chunk_size=chunk).tolist() == \
        reverse.tolist()


def test_recall_curve_and_metrics_from_ranks():
    ranks = np.array([0, 0, 3, 9, 20])
    assert recall_curve(ranks, 4).tolist() == [0.4, 0.4, 0.4, 0.6]
    m = metrics_from_ranks(ranks, ks=(1, 10))
    assert m == {"R@1": 0.4, "R@10": 0.8, "MedR": 4.0, "MnR": 7.4, "num_queries": 5}
