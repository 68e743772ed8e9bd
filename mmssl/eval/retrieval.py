"""Zero-shot retrieval on YouCook2-format shards (the MIL-NCE protocol), both directions.

Segments are embedded with W windows averaged (:mod:`mmssl.eval.features`); each query is
a segment's sentence, or a clip-list row's text (see *Clip lists* below). Scores are
in the space where each pair meets (S_vat for MMV-FAC, the shared space for AVLnet/CLIP):

- text→video:        S = z_t^vt · z_v^vt
- text→audio:        S = z_t^at · z_a^at       (MMV: audio through g_va→vat)
- text→video+audio:  S = z_t^vt · z_v^vt + z_t^at · z_a^at
                     = z_t · (z_v + z_a) wherever vt and at share a space: AVLnet's sum
                     (shared space) and MMV's path (video and audio both reach S_vat
                     through g_va→vat, FAC); a sum of two scores for disjoint spaces.

and the reverse directions (video→text, audio→text, video+audio→text) score Sᵀ; when
several queries name one clip, a clip's rank is that of its best-ranked true sentence
(:func:`~mmssl.eval.retrieval_metrics.grouped_retrieval_ranks`). A clip with no audio
track scores with its video alone; a method without an audio tower reports the video
directions only. Every rank is pessimistic on ties
(:func:`~mmssl.eval.retrieval_metrics.retrieval_ranks`). Everything here is in memory;
:mod:`mmssl.eval.evaluate` runs it on a checkpoint and writes the results.

**Clip lists** say which segments a benchmark scores, and which of them are missing.
MIL-NCE's YouCook2 list (3,350 validation clips whose videos are not in HowTo100M's
training set) is a CSV with columns ``end,start,task,text,video_id`` (extra columns are
ignored, order is free). Each row is matched to a prepared segment of the same
``video_id`` by (start, end): among the segments starting within ``tolerance`` seconds of
the row's ``start`` (prepared clips start on a frame boundary, so starts differ by up to a
frame), the one whose end is nearest the row's ``end``, so that two steps sharing a start
stay two clips. Every row is a clip of its own, as in MIL-NCE's ``eval_youcook.py``: two
rows naming the same span (the list has one such pair) are two clips with equal
embeddings, which the pessimistic ranks count against the model. A row whose video is not
in the shards, or whose segment is not, is *reported* (``missing``), never silently
dropped. The row's ``text`` is its query.

**Protocols** (``EvalConfig.protocol``, else the checkpoint's ``eval_protocol``) place the
windows (:data:`WINDOW_MARGINS`): ``mmssl`` lets the last window end with the segment,
``milnce`` keeps it 0.4 s clear of the end, as MIL-NCE's ``eval_youcook.py``.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor

from mmssl.config import EvalConfig, to_dict
from mmssl.eval.features import FeatureExtractor, SegmentFeatures, subset_filter
from mmssl.eval.retrieval_metrics import embedding_ranks, metrics_from_ranks

DIRECTIONS = ("text->video", "text->audio", "text->video+audio")
REVERSE = {"text->video": "video->text", "text->audio": "audio->text",
           "text->video+audio": "video+audio->text"}
REQUIRED_COLUMNS = ("end", "start", "text", "video_id")
# Seconds between the last window's end and the segment's end, by protocol.
WINDOW_MARGINS = {"mmssl": 0.0, "milnce": 0.4}


@dataclass
class RetrievalSet:
    """Clips (N items) and their text queries (Q); ``targets[q]`` is query q's clip."""

    clips: SegmentFeatures
    queries: dict[str, Tensor]  # {space: (Q, D)}
    targets: Tensor  # (Q,) long
    sentences: list[str]
    clip_list: dict | None = None


@dataclass(frozen=True)
class ClipRow:
    video_id: str
    start: float
    end: float
    text: str
    task: str = ""


@dataclass
class ClipMatch:
    """``rows[i]`` is scored against segment ``segment_index[i]``; ``missing`` lists the
    rows that could not be, with the reason (``missing_video`` / ``missing_segment``)."""

    rows: list[ClipRow] = field(default_factory=list)
    segment_index: list[int] = field(default_factory=list)
    missing: list[dict] = field(default_factory=list)

    def summary(self) -> dict:
        reasons: dict[str, int] = {}
        for item in self.missing:
            reasons[item["reason"]] = reasons.get(item["reason"], 0) + 1
        return {"listed": len(self.rows) + len(self.missing), "found": len(self.rows),
                "missing": reasons, "missing_rows": self.missing}


def read_clip_list(path: str | Path) -> list[ClipRow]:
    """Rows of a clip-list CSV; a bad header or row raises naming the file and line."""
    path = Path(path)
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        absent = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
        if absent:
            raise ValueError(f"{path}: clip list needs columns {list(REQUIRED_COLUMNS)}; "
                             f"missing {absent} (header: {reader.fieldnames})")
        rows = []
        for line, record in enumerate(reader, start=2):
            try:
                start, end = float(record["start"]), float(record["end"])
            except (TypeError, ValueError):
                raise ValueError(f"{path}: line {line}: start/end must be numbers, got "
                                 f"{record['start']!r}, {record['end']!r}") from None
            if not end > start >= 0 or not record["video_id"]:
                raise ValueError(f"{path}: line {line}: need a video_id and 0 <= start < end, "
                                 f"got {record['video_id']!r} {start}-{end}")
            rows.append(ClipRow(record["video_id"], start, end, record["text"] or "",
                                record.get("task") or ""))
    if not rows:
        raise ValueError(f"{path}: clip list is empty")
    return rows


def match_clips(rows: list[ClipRow], metas: list[dict], tolerance: float = 1.0) -> ClipMatch:
    """Match each row to a segment of its video by (start, end) (see module docstring).

    ``metas``: the shard JSON of each prepared segment (``video_id``, ``start`` and ``end``
    in the source video, seconds; without an ``end`` only starts are compared).
    """
    by_video: dict[str, list[tuple[float, float, int]]] = {}
    for index, meta in enumerate(metas):
        start = float(meta["start"])
        end = float(meta.get("end", start))
        by_video.setdefault(meta["video_id"], []).append((start, end, index))
    match = ClipMatch()
    for row in rows:
        segments = by_video.get(row.video_id)
        if not segments:
            match.missing.append({"video_id": row.video_id, "start": row.start,
                                  "reason": "missing_video"})
            continue
        near = [s for s in segments if abs(s[0] - row.start) <= tolerance]
        if not near:
            match.missing.append({"video_id": row.video_id, "start": row.start,
                                  "reason": "missing_segment"})
            continue
        best = min(near, key=lambda s: (abs(s[1] - row.end), abs(s[0] - row.start)))
        match.rows.append(row)
        match.segment_index.append(best[2])
    return match


def build_retrieval_set(extractor: FeatureExtractor, config: EvalConfig,
                        progress: bool = False) -> RetrievalSet:
    """Embed the evaluation clips and their queries (every ``config.subset`` segment and
    its sentence, or the rows of ``config.clip_list`` found in the shards)."""
    clips = extractor.extract(config.shards, keep=subset_filter(config.subset),
                              progress=progress)
    if not config.clip_list:
        sentences = [(m.get("texts") or [{"text": ""}])[0]["text"] for m in clips.metas]
        return RetrievalSet(clips, clips.text, torch.arange(len(clips)), sentences)
    match = match_clips(read_clip_list(config.clip_list), clips.metas, config.clip_tolerance)
    if not match.rows:
        raise ValueError(f"{config.clip_list}: none of its {len(match.missing)} clips is in "
                         f"{config.shards} (subset {config.subset!r})")
    sentences = [row.text for row in match.rows]
    queries = extractor.encode_text(sentences)
    targets = torch.arange(len(match.rows))  # every row is a clip of its own
    return RetrievalSet(clips.select(match.segment_index), queries, targets, sentences,
                        match.summary())


def score_embeddings(data: RetrievalSet) -> dict[str, tuple[Tensor, Tensor]]:
    """{direction: (query side (Q, D'), clip side (N, D'))} with S = query · clipᵀ, for each
    text→X direction the method can score. text→video+audio concatenates the two spaces:
    [z_t^vt, z_t^at] · [z_v^vt, z_a^at] = z_t^vt · z_v^vt + z_t^at · z_a^at."""
    video, text = data.clips.video, data.queries
    pairs = {"text->video": (text["vt"], video["vt"])}
    if data.clips.audio:
        audio = data.clips.audio["at"] * data.clips.has_audio[:, None]
        pairs["text->audio"] = (text["at"], audio)
        pairs["text->video+audio"] = (torch.cat([text["vt"], text["at"]], dim=1),
                                      torch.cat([video["vt"], audio], dim=1))
    return pairs


def score_matrices(data: RetrievalSet) -> dict[str, Tensor]:
    """{direction: full (Q, N) text→X scores}; for small sets, plots and tests only."""
    return {name: q @ c.T for name, (q, c) in score_embeddings(data).items()}


def retrieval_results(data: RetrievalSet, chunk_size: int = 1024) -> tuple[dict, dict]:
    """({direction: metrics}, {direction: ranks}) for text→X and X→text (0-based ranks),
    scored in blocks of ``chunk_size`` rows
    (:func:`~mmssl.eval.retrieval_metrics.embedding_ranks`)."""
    ranks = {}
    for name, (query, clip) in score_embeddings(data).items():
        ranks[name] = embedding_ranks(query, clip, targets=data.targets, chunk_size=chunk_size)
        ranks[REVERSE[name]] = embedding_ranks(clip, query, column_owner=data.targets,
                                               chunk_size=chunk_size)
    return {name: metrics_from_ranks(r) for name, r in ranks.items()}, ranks


def evaluate_retrieval(method, train_config, tokenizer, config: EvalConfig,
                       progress: bool = False) -> tuple[dict, dict]:
    """The protocol on an in-memory ``method`` (e.g. periodic eval during training);
    writes nothing.

    Returns (results dict, as :func:`mmssl.eval.evaluate.evaluate_youcook2` writes it, and
    the arrays the report draws: see :func:`report_arrays`)."""
    if "text" not in method.modalities:
        raise ValueError(f"{type(method).__name__} has no text tower: zero-shot retrieval "
                         "needs one")
    method.eval()
    protocol = retrieval_protocol(config, train_config)
    extractor = FeatureExtractor(method, train_config.data, tokenizer, config.windows,
                                 batch_size=config.batch_size,
                                 window_margin=WINDOW_MARGINS[protocol])
    data = build_retrieval_set(extractor, config, progress)
    metrics, ranks = retrieval_results(data)
    results = {
        "protocol": {"name": protocol, "window_margin": WINDOW_MARGINS[protocol],
                     "windows": config.windows, "subset": config.subset,
                     "clips": len(data.clips), "queries": len(data.sentences),
                     "clip_frames": train_config.data.clip_frames,
                     "clip_list": config.clip_list or None},
        "metrics": {name: metrics[name] for name in DIRECTIONS if name in metrics},
        "metrics_to_text": {REVERSE[name]: metrics[REVERSE[name]] for name in DIRECTIONS
                            if name in metrics},
        "skipped": data.clips.skipped,
        "eval_config": to_dict(config),
    }
    if data.clip_list is not None:
        results["clip_list"] = data.clip_list
    return results, report_arrays(data, ranks)


def retrieval_protocol(config: EvalConfig, train_config) -> str:
    """``config.protocol``, or the checkpoint's own (``train_config.eval_protocol``) when
    empty; an unknown name is an error."""
    protocol = config.protocol or train_config.eval_protocol
    if protocol not in WINDOW_MARGINS:
        raise ValueError(f"unknown retrieval protocol {protocol!r}; known: "
                         f"{sorted(WINDOW_MARGINS)}")
    return protocol


def report_arrays(data: RetrievalSet, ranks: dict[str, Tensor], sample: int = 32) -> dict:
    """{"tensors": ..., "meta": ...} for the report: ranks per direction (``ranks/<dir>``),
    a (n, n) block of text→video scores for the first n queries against their own clips
    (``sample_scores``, true pairs on the diagonal), and the clips' video embeddings
    (``video_embeddings``) with their recipe type for the PCA plot."""
    n = min(sample, len(data.sentences))
    rows = data.targets[:n]
    block = data.queries["vt"][:n] @ data.clips.video["vt"][rows].T
    tensors = {f"ranks/{name}": r for name, r in ranks.items()}
    tensors.update(sample_scores=block, video_embeddings=data.clips.video["vt"])
    groups = [str(m.get("labels", {}).get("recipe_type", m.get("dataset", "?")))
              for m in data.clips.metas]
    return {"tensors": tensors, "meta": {"num_clips": len(data.clips), "keys": data.clips.keys,
                                         "groups": groups, "group_name": "recipe_type"}}
