"""Frozen per-segment features from prepared shards: the W-window average of every paper.

Every evaluation (retrieval, linear probes, zero-shot classification, ``mmssl embed``) sees
a dataset in the shard format (``mmssl/shard_format.py``) as a list of *segments*, one per
shard sample. A segment of duration d gets W windows of the model's clip length c with
starts ``linspace(0, max(0, d - c), W)`` (relative to the segment), each window is encoded
and the W results are **averaged** (MIL-NCE / MMV test-time protocol)::

    z_seg = (1 / W) · Σ_w f(clip_w)          (no re-normalisation after the mean)

Level ``"embedding"``: f is ``method.embed(modality, x)``, giving one (N, D) matrix per
space the modality meets another in (``vt``, ``at``, ``va``; see ``mmssl/models/spaces``).
Level ``"backbone"``: f is the frozen encoder ``method.towers[modality]`` (its ``out_dim``
features, stored under ``"features"``), what linear probes read. Asking for both decodes
each window once. Text is the sample's first text (its sentence/label).

Audio-only samples (AudioSet files with no video) are kept when video is not asked for; a
segment without an audio track gets zeros and ``has_audio = False``. Unreadable samples are
skipped and counted by reason, never silently dropped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import Tensor
from tqdm import tqdm

from mmssl.data.candidates import window_starts
from mmssl.data.clips import ClipCutter, OpenSample
from mmssl.data.shards import SkipCounter, open_dataset
from mmssl.media import MediaError
from mmssl.shard_format import clip_key

LEVELS = ("embedding", "backbone")


@dataclass
class SegmentFeatures:
    """Features of N segments. ``video``/``audio``/``text``: {space or "features": (N, D)};
    an absent modality is an empty dict. ``metas``: each sample's JSON (shard format)."""

    keys: list[str]
    metas: list[dict]
    video: dict[str, Tensor] = field(default_factory=dict)
    audio: dict[str, Tensor] = field(default_factory=dict)
    text: dict[str, Tensor] = field(default_factory=dict)
    has_audio: Tensor | None = None
    skipped: dict[str, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.keys)

    def select(self, rows: list[int]) -> SegmentFeatures:
        """The segments at ``rows``, in that order."""
        index = torch.as_tensor(rows, dtype=torch.long)
        pick = {name: {k: v[index] for k, v in getattr(self, name).items()}
                for name in ("video", "audio", "text")}
        return SegmentFeatures([self.keys[i] for i in rows], [self.metas[i] for i in rows],
                               **pick, has_audio=self.has_audio[index], skipped=self.skipped)


def segment_key(meta: dict) -> str:
    """``<video_id>@<start seconds, 2 decimals>``: names a segment in results and exports."""
    return clip_key(meta["video_id"], meta["start"])


def segment_duration(sample: OpenSample) -> float:
    """Seconds of the segment: from the frames, or from the span for audio-only samples."""
    if sample.num_frames:
        return sample.duration
    return float(sample.meta["end"]) - float(sample.meta["start"])


class FeatureExtractor:
    """Encodes segments with a frozen ``method`` (its ``embed`` and ``towers``).

    Args:
        method: a registered method in eval mode.
        clip_frames, n_mels, window_ms, hop_ms: the training data settings (``DataConfig``).
        tokenizer: the run's tokenizer; ``max_words`` tokens per sentence.
        windows: W, windows averaged per segment.
        levels: ``"embedding"`` and/or ``"backbone"`` (see module docstring).
    """

    def __init__(self, method, data_config, tokenizer, windows: int = 10,
                 levels: tuple[str, ...] = ("embedding",)):
        if not levels or set(levels) - set(LEVELS):
            raise ValueError(f"feature levels must be among {LEVELS}, got {levels!r}")
        if windows < 1:
            raise ValueError(f"windows must be >= 1, got {windows}")
        self.method, self.tokenizer, self.windows = method, tokenizer, windows
        self.levels = tuple(levels)
        self.max_words = data_config.max_words
        self.cutter = ClipCutter.from_config(data_config)

    def encode(self, modality: str, x: Tensor) -> dict[str, Tensor]:
        """(B, ...) inputs → {space: (B, D)} and/or {"features": (B, D)} (backbone)."""
        out = {}
        if "backbone" in self.levels:
            out["features"] = self.method.towers[modality](x)
        if "embedding" in self.levels:
            out.update(self.method.embed(modality, x))
        return out

    def encode_text(self, sentences: list[str]) -> dict[str, Tensor]:
        """Sentences → {space: (S, D)} through the text tower."""
        if "text" not in self.method.modalities:
            raise ValueError(f"{type(self.method).__name__} has no text tower")
        return self.method.embed("text", self.tokenizer(sentences, self.max_words))

    @torch.no_grad()
    def segment(self, sample: OpenSample, modalities) -> dict[str, dict[str, Tensor]]:
        """One segment's window-averaged features per modality."""
        fps = sample.fps or 1.0
        starts = window_starts(segment_duration(sample), self.cutter.clip_seconds(fps),
                               self.windows)
        out = {}
        if "video" in modalities:
            video = torch.stack([self.cutter.video(sample, s) for s in starts])
            out["video"] = {k: v.mean(0) for k, v in self.encode("video", video).items()}
        if "audio" in modalities:
            audio = torch.stack([self.cutter.audio(sample, s)[0] for s in starts])
            out["audio"] = {k: v.mean(0) for k, v in self.encode("audio", audio).items()}
        if "text" in modalities:
            texts = sample.meta.get("texts") or [{"text": ""}]
            out["text"] = {k: v[0] for k, v in self.encode_text([texts[0]["text"]]).items()}
        return out

    @torch.no_grad()
    def extract(self, shards: str, modalities=None, keep: Callable[[dict], bool] | None = None,
                progress: bool = False) -> SegmentFeatures:
        """Features of every readable segment of ``shards`` whose meta passes ``keep``.

        ``modalities`` defaults to every tower the method has. Raises when nothing is left.
        """
        wanted = tuple(m for m in ("video", "audio", "text")
                       if m in (modalities or self.method.modalities))
        missing = set(wanted) - set(self.method.modalities)
        if missing:
            raise ValueError(f"{type(self.method).__name__} has no {sorted(missing)} tower")
        skip = SkipCounter()
        rows: dict[str, list] = {m: [] for m in wanted}
        keys, metas, has_audio = [], [], []
        samples = open_dataset(shards, skip, need_video="video" in wanted)
        for sample in tqdm(samples, desc="eval: embed", unit="segment", disable=not progress):
            if keep is not None and not keep(sample.meta):
                continue
            try:
                encoded = self.segment(sample, wanted)
            except MediaError as error:
                skip(error.reason, f"{sample.where}: {error}")
                continue
            for modality in wanted:
                rows[modality].append(encoded[modality])
            keys.append(segment_key(sample.meta))
            metas.append(sample.meta)
            has_audio.append(sample.has_audio)
        if not keys:
            raise ValueError(f"{shards}: no segment to evaluate (skipped: {skip.counts})")
        stacked = {m: {k: torch.stack([r[k] for r in rs]) for k in rs[0]}
                   for m, rs in rows.items()}
        return SegmentFeatures(keys, metas, **stacked, has_audio=torch.tensor(has_audio),
                               skipped=dict(skip.counts))


def subset_filter(subset: str | None) -> Callable[[dict], bool] | None:
    """Keep segments whose ``labels.subset`` is ``subset`` (all segments when None, and
    segments whose dataset has no subsets)."""
    if not subset:
        return None
    return lambda meta: meta.get("labels", {}).get("subset", subset) == subset
