"""Text → the best-matching spans of an index written by ``mmssl embed --videos``.

Each query is embedded by the index's checkpoint (:meth:`mmssl.api.Model.embed_text`) and
scored against every span as evaluation scores it (``mmssl/eval/retrieval.py``)::

    video         s = z_t^vt · z_v^vt
    audio         s = z_t^at · z_a^at        (0 for a span without sound)
    video+audio   s = z_t^vt · z_v^vt + z_t^at · z_a^at
                    = [z_t^vt, z_t^at] · [z_v^vt, z_a^at]

**Exact search** reads the index one file (part) at a time and scores it in blocks of
``block_rows`` spans; a running best ``top`` per query is merged with each block's, so
memory is one block's (Q, block_rows) scores plus one part, whatever the index's size
(as :func:`mmssl.eval.retrieval_metrics.embedding_ranks` bounds retrieval's). **faiss**
(``backend="faiss"``, when the package is installed) builds an exact inner-product
index (``IndexFlatIP``) over every span: the same hits, faster for many queries, with the
whole index in memory.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from mmssl.api import Model, load
from mmssl.api.collection import index_info, iter_index
from mmssl.api.model import parse_span_key
from mmssl.config import SearchConfig

TARGETS = {"video": (("video", "vt"),), "audio": (("audio", "at"),),
           "video+audio": (("video", "vt"), ("audio", "at"))}
BACKENDS = ("exact", "faiss")


@dataclass(frozen=True)
class Hit:
    """One span found for a query: its rank (1 = best), score, key and where it is."""

    rank: int
    score: float
    key: str
    video_id: str
    start: float
    end: float
    path: str


def query_vectors(model: Model, queries: list[str], target: str) -> Tensor:
    """(Q, D') query side of :data:`TARGETS` ``target`` (the spaces concatenated)."""
    text = model.embed_text(queries)
    return torch.cat([text[space] for _, space in _target(target)], dim=1)


def span_vectors(arrays: dict[str, Tensor], target: str) -> Tensor:
    """(N, D') span side of ``target`` from an index file's arrays; audio rows of spans
    without sound are zeros."""
    parts = []
    for modality, space in _target(target):
        name = f"{modality}.{space}"
        if name not in arrays:
            raise ValueError(f"the index has no {name} (arrays: {sorted(arrays)}); embed "
                             f"with --modalities {modality} at level embedding")
        value = arrays[name].float()
        if modality == "audio" and "has_audio" in arrays:
            value = value * arrays["has_audio"].to(value)[:, None]
        parts.append(value)
    return torch.cat(parts, dim=1)


def best_in_blocks(queries: Tensor, files: Iterable[tuple[list[str], Tensor]], top: int,
                   block_rows: int) -> list[list[tuple[float, str]]]:
    """The ``top`` (score, key) of each query over spans given file by file, best first.

    Each block of ``block_rows`` spans is scored, (Q, b), and its best merged with the
    running best: ``best ← topk([best, block_best])``."""
    if top < 1 or block_rows < 1:
        raise ValueError(f"top and block_rows must be >= 1, got {top}, {block_rows}")
    best = torch.full((len(queries), 0), float("-inf"))
    best_keys: list[list[str]] = [[] for _ in range(len(queries))]
    for keys, items in files:
        for start in range(0, len(keys), block_rows):
            scores = queries @ items[start : start + block_rows].T
            values, index = scores.topk(min(top, scores.shape[1]), dim=1)
            merged = torch.cat([best, values], dim=1)
            best, order = merged.topk(min(top, merged.shape[1]), dim=1)
            for row in range(len(queries)):
                candidates = best_keys[row] + [keys[start + int(i)] for i in index[row]]
                best_keys[row] = [candidates[int(i)] for i in order[row]]
    return [list(zip(best[row].tolist(), best_keys[row], strict=True))
            for row in range(len(queries))]


def best_with_faiss(queries: Tensor, files: Iterable[tuple[list[str], Tensor]],
                    top: int) -> list[list[tuple[float, str]]]:
    """The same answer as :func:`best_in_blocks` from a faiss ``IndexFlatIP``."""
    try:
        import faiss
    except ImportError:
        raise RuntimeError("backend faiss needs the faiss package (pip install faiss-cpu); "
                           "backend exact needs nothing") from None
    index, keys = faiss.IndexFlatIP(queries.shape[1]), []
    for file_keys, items in files:
        index.add(items.contiguous().numpy())
        keys += file_keys
    scores, rows = index.search(queries.contiguous().numpy(), min(top, len(keys)))
    return [[(float(s), keys[int(r)]) for s, r in zip(srow, rrow, strict=True) if r >= 0]
            for srow, rrow in zip(scores, rows, strict=True)]


def search(index: str | Path, queries: list[str], config: SearchConfig,
           checkpoint: str | Path | None = None, model: Model | None = None
           ) -> list[list[Hit]]:
    """The best ``config.top`` spans of ``index`` for each query; the query tower is
    ``model``, else the checkpoint given, else the one the index was embedded with."""
    if config.backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {config.backend!r}")
    if not queries:
        raise ValueError("no query to search for")
    info = index_info(index)
    if model is None:
        checkpoint = checkpoint or info.get("checkpoint")
        if not checkpoint:
            raise ValueError(f"{index} does not name its checkpoint; pass --checkpoint")
        model = load(checkpoint, device=config.device)
    vectors = query_vectors(model, list(queries), config.target).float().cpu()
    files = ((keys, span_vectors(arrays, config.target)) for keys, arrays in iter_index(index))
    found = (best_with_faiss(vectors, files, config.top) if config.backend == "faiss"
             else best_in_blocks(vectors, files, config.top, config.block_rows))
    return [[_hit(rank, score, key, info["videos"]) for rank, (score, key)
             in enumerate(row, start=1)] for row in found]


def _hit(rank: int, score: float, key: str, videos: dict[str, str]) -> Hit:
    video_id, start, end = parse_span_key(key)
    return Hit(rank, score, key, video_id, start, end, videos.get(video_id, ""))


def _target(target: str):
    if target not in TARGETS:
        raise ValueError(f"target must be one of {sorted(TARGETS)}, got {target!r}")
    return TARGETS[target]


def format_hits(query: str, hits: list[Hit]) -> str:
    """Plain-text lines for the terminal: rank, score, span, file."""
    lines = [f"{query!r}:"]
    lines += [f"  {hit.rank:3d}  {hit.score:+.4f}  {hit.video_id}  "
              f"{hit.start:8.2f}-{hit.end:<8.2f}  {hit.path}" for hit in hits]
    return "\n".join(lines)
