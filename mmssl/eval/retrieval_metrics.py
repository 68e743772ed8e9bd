"""Retrieval metrics (R@K, median and mean rank) from a score matrix or from embeddings."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

ArrayLike = Tensor | np.ndarray


def _as_tensor(x: ArrayLike, name: str) -> Tensor:
    if isinstance(x, Tensor):
        return x.detach()
    if isinstance(x, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(x))
    raise TypeError(f"retrieval_metrics: {name} must be a torch.Tensor or numpy.ndarray, "
                    f"got {type(x).__name__}")


def retrieval_ranks(
    scores: ArrayLike,
    targets: ArrayLike | None = None,
    chunk_size: int = 4096,
) -> Tensor:
    """0-based rank of the true item for every query.

    Convention (pessimistic on ties)::

        rank_q = #{ j ≠ t_q : S[q, j] ≥ S[q, t_q] }

    where t_q is the true item of query q (t_q = q for a square matrix). Every item that
    ties with the true one is counted as ranked ahead of it, so a constant score matrix
    gives rank N-1 for every query (the worst case) rather than a perfect score; a model
    that collapses to constant embeddings can therefore never look good.

    Args:
        scores: (Q, N) score matrix S[query, item]; higher = more similar. Must hold no
            NaN.
        targets: optional (Q,) integer index of the true item of each query (several
            queries may share an item). When None, ``scores`` must be square and t_q = q.
        chunk_size: rows processed at a time; memory is O(chunk_size x N).

    Returns:
        LongTensor (Q,) of ranks on the CPU.
    """
    s = _as_tensor(scores, "scores")
    if s.ndim != 2:
        raise ValueError(f"retrieval_metrics: scores must be 2-D (queries, items), "
                         f"got shape {tuple(s.shape)}")
    n_queries, n_items = s.shape
    if n_queries == 0 or n_items == 0:
        raise ValueError(f"retrieval_metrics: empty score matrix {tuple(s.shape)}")
    if chunk_size < 1:
        raise ValueError(f"retrieval_metrics: chunk_size must be >= 1, got {chunk_size}")
    if targets is None:
        if n_queries != n_items:
            raise ValueError(f"retrieval_metrics: scores of shape {tuple(s.shape)} is not "
                             "square; pass targets= giving the true item of each query")
        t = torch.arange(n_queries, device=s.device)
    else:
        t = _as_tensor(targets, "targets").to(device=s.device, dtype=torch.long).reshape(-1)
        if t.numel() != n_queries:
            raise ValueError(f"retrieval_metrics: targets has {t.numel()} entries, "
                             f"expected one per query ({n_queries})")
        if bool(((t < 0) | (t >= n_items)).any()):
            raise ValueError(f"retrieval_metrics: targets must lie in [0, {n_items}), "
                             f"got min {int(t.min())} max {int(t.max())}")

    ranks = torch.empty(n_queries, dtype=torch.long)
    for start in range(0, n_queries, chunk_size):
        chunk = s[start:start + chunk_size]
        rows = torch.arange(chunk.shape[0], device=s.device)
        tgt = t[start:start + chunk_size]
        if chunk.is_floating_point() and bool(torch.isnan(chunk).any()):
            bad = start + int(torch.isnan(chunk).any(dim=1).nonzero()[0, 0])
            raise ValueError(f"retrieval_metrics: scores row {bad} contains NaN")
        positive = chunk[rows, tgt].unsqueeze(1)  # (c, 1)
        ahead = chunk >= positive  # (c, N); includes the true item itself...
        ahead[rows, tgt] = False  # ...which is not counted
        ranks[start:start + chunk.shape[0]] = ahead.sum(dim=1).cpu()
    return ranks


def grouped_retrieval_ranks(
    scores: ArrayLike,
    column_owner: ArrayLike,
    chunk_size: int = 4096,
) -> Tensor:
    """0-based rank of the best true column for every row, when a row owns several columns.

    For X→text with several captions per clip (MSR-VTT style), row q's true columns are
    P_q = {j : owner[j] = q} and (pessimistic on ties, as :func:`retrieval_ranks`)::

        rank_q = #{ j ∉ P_q : S[q, j] ≥ max_{p ∈ P_q} S[q, p] }

    With exactly one column per row this equals :func:`retrieval_ranks` with
    ``targets = inverse(owner)``.

    Args:
        scores: (Q, N) score matrix; no NaN.
        column_owner: (N,) integer row index owning each column; every row must own at
            least one column.
        chunk_size: rows processed at a time; memory O(chunk_size x N).

    Returns:
        LongTensor (Q,) of ranks on the CPU.
    """
    s = _as_tensor(scores, "scores")
    if s.ndim != 2 or 0 in s.shape:
        raise ValueError(f"retrieval_metrics: scores must be a non-empty 2-D matrix, "
                         f"got shape {tuple(s.shape)}")
    owner = _as_tensor(column_owner, "column_owner").to(device=s.device, dtype=torch.long)
    n_queries, n_items = s.shape
    if owner.shape != (n_items,):
        raise ValueError(f"retrieval_metrics: column_owner has shape {tuple(owner.shape)}, "
                         f"expected ({n_items},), one owner per column")
    owned = torch.bincount(owner.clamp(min=0), minlength=n_queries)
    if bool((owner < 0).any() | (owner >= n_queries).any()) or bool((owned == 0).any()):
        raise ValueError(f"retrieval_metrics: column_owner must map columns onto rows "
                         f"[0, {n_queries}) with every row owning at least one column")
    ranks = torch.empty(n_queries, dtype=torch.long)
    for start in range(0, n_queries, chunk_size):
        chunk = s[start:start + chunk_size]
        if chunk.is_floating_point() and bool(torch.isnan(chunk).any()):
            bad = start + int(torch.isnan(chunk).any(dim=1).nonzero()[0, 0])
            raise ValueError(f"retrieval_metrics: scores row {bad} contains NaN")
        rows = torch.arange(start, start + chunk.shape[0], device=s.device)
        positive = owner[None, :] == rows[:, None]  # (c, N)
        lowest = torch.finfo(chunk.dtype).min if chunk.is_floating_point() else \
            torch.iinfo(chunk.dtype).min
        best = chunk.masked_fill(~positive, lowest).amax(dim=1, keepdim=True)
        ranks[start:start + chunk.shape[0]] = ((chunk >= best) & ~positive).sum(dim=1).cpu()
    return ranks


def embedding_ranks(
    queries: Tensor,
    items: Tensor,
    targets: ArrayLike | None = None,
    column_owner: ArrayLike | None = None,
    chunk_size: int = 1024,
) -> Tensor:
    """Ranks for scores ``S = queries @ items.T`` without ever holding all of S.

    Each block of ``chunk_size`` query rows is scored, ranked (as :func:`retrieval_ranks`,
    or :func:`grouped_retrieval_ranks` when ``column_owner`` is given) and dropped, so
    memory is O(chunk_size x N) beside the embeddings: 100k x 100k at chunk 1024 holds one
    1024 x 100k float32 block (400 MB) where the full matrix would need 40 GB. A sum of
    scores in several spaces (text→video+audio) is one product of concatenated embeddings:
    [t_vt, t_at] · [v_vt, a_at] = t_vt · v_vt + t_at · a_at.

    Args:
        queries: (Q, D); items: (N, D).
        targets: (Q,) true item per query (default t_q = q, Q = N).
        column_owner: (N,) row owning each item column (several true columns per row).
        chunk_size: query rows per block.

    Returns:
        LongTensor (Q,) of 0-based ranks.
    """
    if queries.ndim != 2 or items.ndim != 2 or queries.shape[1] != items.shape[1]:
        raise ValueError(f"retrieval_metrics: queries (Q, D) and items (N, D) must share D, "
                         f"got {tuple(queries.shape)} and {tuple(items.shape)}")
    n_queries = queries.shape[0]
    if targets is None and column_owner is None:
        targets = torch.arange(n_queries)
    ranks = torch.empty(n_queries, dtype=torch.long)
    for start in range(0, n_queries, chunk_size):
        block = queries[start:start + chunk_size] @ items.T
        if column_owner is not None:
            owner = _as_tensor(column_owner, "column_owner").to(torch.long) - start
            # Columns owned by rows outside this block become "not true" for every row here.
            ranks[start:start + len(block)] = _grouped_block(block, owner)
        else:
            tgt = _as_tensor(targets, "targets").to(torch.long)[start:start + chunk_size]
            ranks[start:start + len(block)] = retrieval_ranks(block, tgt, chunk_size)
    return ranks


def _grouped_block(block: Tensor, owner: Tensor) -> Tensor:
    """:func:`grouped_retrieval_ranks` of a block of rows 0..c-1 (owner shifted so that
    columns owned elsewhere have an owner outside [0, c))."""
    rows = torch.arange(block.shape[0])
    positive = owner[None, :] == rows[:, None]
    if not bool(positive.any(dim=1).all()):
        raise ValueError("retrieval_metrics: every row must own at least one column")
    best = block.masked_fill(~positive, float("-inf")).amax(dim=1, keepdim=True)
    return ((block >= best) & ~positive).sum(dim=1)


def metrics_from_ranks(ranks: ArrayLike, ks: Sequence[int] = (1, 5, 10)) -> dict:
    """R@K, MedR and MnR from 0-based ranks (see :func:`retrieval_metrics`)."""
    ranks = np.asarray(ranks.numpy() if isinstance(ranks, Tensor) else ranks)
    out: dict = {}
    for k in ks:
        out[f"R@{k}"] = float(np.mean(ranks < k))
    out["MedR"] = float(np.median(ranks)) + 1.0
    out["MnR"] = float(np.mean(ranks)) + 1.0
    out["num_queries"] = int(ranks.shape[0])
    return out


def recall_curve(ranks: ArrayLike, max_k: int) -> np.ndarray:
    """R@K for K = 1..max_k, shape (max_k,): ``curve[k-1] = mean(rank < k)``."""
    ranks = np.asarray(ranks.numpy() if isinstance(ranks, Tensor) else ranks)
    return np.array([np.mean(ranks < k) for k in range(1, max_k + 1)])


def retrieval_metrics(
    scores: ArrayLike,
    ks: Sequence[int] = (1, 5, 10),
    targets: ArrayLike | None = None,
    chunk_size: int = 4096,
    column_owner: ArrayLike | None = None,
) -> dict:
    """Recall@K, median and mean rank for retrieval.

    Ranks follow :func:`retrieval_ranks` (0-based, ties counted against the query), or
    :func:`grouped_retrieval_ranks` when ``column_owner`` gives several true columns per
    row::

        R@K  = (1/Q) · #{q : rank_q < K}
        MedR = median_q(rank_q) + 1      (numpy median: mean of the two middle values)
        MnR  = mean_q(rank_q) + 1

    Args:
        scores: (Q, N) tensor or array, S[query, item]; square unless ``targets`` or
            ``column_owner`` given.
        ks: the K values for R@K.
        targets: optional (Q,) index of the true item per query (e.g. several captions
            of one clip); default t_q = q.
        chunk_size: rows per chunk; memory O(chunk_size x N).
        column_owner: optional (N,) row owning each column (clip→text with several
            captions per clip); exclusive with ``targets``.

    Returns:
        {"R@1": float, "R@5": float, "R@10": float, ..., "MedR": float, "MnR": float,
        "num_queries": int}; the R@K values are fractions in [0, 1].
    """
    if column_owner is not None:
        if targets is not None:
            raise ValueError("retrieval_metrics: pass targets or column_owner, not both")
        ranks = grouped_retrieval_ranks(scores, column_owner, chunk_size)
    else:
        ranks = retrieval_ranks(scores, targets=targets, chunk_size=chunk_size)
    return metrics_from_ranks(ranks, ks)
