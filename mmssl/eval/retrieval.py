"""Zero-shot retrieval on YouCook2-format shards (the MIL-NCE protocol), both directions.

Segments are embedded with W windows averaged (:mod:`mmssl.eval.features`); each query is
a segment's sentence, or a clip-list row's text (:mod:`mmssl.eval.clip_list`). Scores are
in the space where each pair meets (S_vat for MMV-FAC, the shared space for AVLnet/CLIP):

- text→video:        S = z_t^vt · z_v^vt
- text→audio:        S = z_t^at · z_a^at       (MMV: audio through g_va→vat)
- text→video+audio:  S = z_t^vt · z_v^vt + z_t^at · z_a^at
                     = z_t · (z_v + z_a) wherever vt and at share a space: AVLnet's sum
                     (shared space) and MMV's path (video and audio both reach S_vat
                     through g_va→vat, FAC); a sum of two scores for disjoint spaces.

and the reverse directions (video→text, audio→text, video+audio→text) score Sᵀ; when
several queries name one clip, a clip's rank is that of its best-ranked true sentence
(:func:`~mmssl.eval.metrics.grouped_retrieval_ranks`). A clip with no audio track scores
with its video alone; a method without an audio tower reports the video directions only.
Every rank is pessimistic on ties (:func:`~mmssl.eval.metrics.retrieval_ranks`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from mmssl.checkpoint import load_checkpoint
from mmssl.config import EvalConfig, save_config, to_dict
from mmssl.eval.artifacts import save_arrays
from mmssl.eval.clip_list import match_clips, read_clip_list
from mmssl.eval.features import FeatureExtractor, SegmentFeatures, subset_filter
from mmssl.eval.metrics import embedding_ranks, metrics_from_ranks
from mmssl.eval.published import PUBLISHED_NOTE, PUBLISHED_T2V

NAME = 40  # width of the table's first column
DIRECTIONS = ("text->video", "text->audio", "text->video+audio")
REVERSE = {"text->video": "video->text", "text->audio": "audio->text",
           "text->video+audio": "video+audio->text"}
RESULTS_NAME = "eval_youcook2.json"


@dataclass
class RetrievalSet:
    """Clips (N items) and their text queries (Q); ``targets[q]`` is query q's clip."""

    clips: SegmentFeatures
    queries: dict[str, Tensor]  # {space: (Q, D)}
    targets: Tensor  # (Q,) long
    sentences: list[str]
    clip_list: dict | None = None


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
    used = sorted(set(match.segment_index))
    position = {segment: i for i, segment in enumerate(used)}
    sentences = [row.text for row in match.rows]
    queries = {k: v for k, v in extractor.encode_text(sentences).items()}
    targets = torch.tensor([position[s] for s in match.segment_index])
    return RetrievalSet(clips.select(used), queries, targets, sentences, match.summary())


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
    scored in blocks of ``chunk_size`` rows (:func:`~mmssl.eval.metrics.embedding_ranks`)."""
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

    Returns (results dict as written by :func:`evaluate_youcook2`, the arrays the report
    draws: see :func:`report_arrays`)."""
    if "text" not in method.modalities:
        raise ValueError(f"{type(method).__name__} has no text tower: zero-shot retrieval "
                         "needs one")
    method.eval()
    extractor = FeatureExtractor(method, train_config.data, tokenizer, config.windows)
    data = build_retrieval_set(extractor, config, progress)
    metrics, ranks = retrieval_results(data)
    results = {
        "protocol": {"windows": config.windows, "subset": config.subset,
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


def evaluate_youcook2(checkpoint: str | Path, config: EvalConfig, progress: bool = True) -> dict:
    """Run the protocol on a checkpoint directory; writes ``eval_youcook2.json`` and the
    eval config next to it and returns the results."""
    checkpoint = Path(checkpoint)
    method, train_config, tokenizer = load_checkpoint(checkpoint)
    results, arrays = evaluate_retrieval(method, train_config, tokenizer, config, progress)
    (checkpoint / RESULTS_NAME).write_text(json.dumps(results, indent=1))
    save_arrays(checkpoint, "youcook2", arrays["tensors"], arrays["meta"])
    save_config(config, checkpoint / "eval_config.yaml")
    return results


def format_table(results: dict) -> str:
    """Results as a fixed-width table, chance level and published numbers beside ours."""
    clips, queries = results["protocol"]["clips"], results["protocol"].get("queries")
    title = (f"Zero-shot retrieval, YouCook2 format, {clips} clips, "
             f"{results['protocol']['windows']} windows averaged")
    if queries and queries != clips:
        title += f", {queries} queries"
    lines = [title, f"{'direction':<{NAME}}{'R@1':>7}{'R@5':>7}{'R@10':>7}{'MedR':>7}"
                    f"{'MnR':>8}"]
    for name, m in {**results["metrics"], **results.get("metrics_to_text", {})}.items():
        lines.append(f"{'ours ' + name:<{NAME}}{m['R@1']:>7.3f}{m['R@5']:>7.3f}{m['R@10']:>7.3f}"
                     f"{m['MedR']:>7.1f}{m['MnR']:>8.1f}")
    lines.append(f"{'chance':<{NAME}}{1 / clips:>7.3f}{5 / clips:>7.3f}{10 / clips:>7.3f}"
                 f"{(clips + 1) / 2:>7.1f}{(clips + 1) / 2:>8.1f}")
    for name, (r1, r5, r10, medr) in PUBLISHED_T2V.items():
        medr_text = "-" if medr is None else f"{medr:.1f}"
        lines.append(f"{'paper t->v ' + name:<{NAME}}{r1:>7.3f}{r5:>7.3f}{r10:>7.3f}"
                     f"{medr_text:>7}{'-':>8}")
    missing = results.get("clip_list", {}).get("missing")
    if missing:
        lines.append(f"clip list: {results['clip_list']['found']} of "
                     f"{results['clip_list']['listed']} clips found; missing {missing}")
    lines.append(f"({PUBLISHED_NOTE})")
    return "\n".join(lines)
