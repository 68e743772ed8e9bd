"""Frozen per-segment features from prepared shards: the W-window average of every paper.

Every evaluation (retrieval, linear probes, zero-shot classification, ``mmssl embed``) sees
a dataset in the shard format (``mmssl/shard_format.py``) as a list of *segments*, one per
shard sample. A segment of duration d gets W windows of the model's clip length c with
starts ``linspace(0, max(0, d - c), W)`` (relative to the segment), each window is encoded
and the W results are **averaged** (MIL-NCE / MMV test-time protocol)::

    z_seg = (1 / W) · Σ_w f(clip_w)          (no re-normalisation after the mean)

Level ``"embedding"``: f is ``method.embed(modality, x)``, giving one (N, D) matrix per
space the modality meets another in (``vt``, ``at``, ``va``; see ``mmssl/models/spaces``).
Level ``"backbone"``: f is the frozen encoder, ``method.towers.encode(modality, x)`` (its
``out_dim`` features, stored under ``"features"``), what linear probes read. Asking for both decodes
each window once. Text is the sample's first text (its sentence/label).

Audio-only samples (AudioSet files with no video) are kept when video is not asked for; a
segment without an audio track gets zeros and ``has_audio = False``. Unreadable samples are
skipped and counted by reason, never silently dropped.

Windows are encoded in batches of up to ``batch_size`` clips (``EvalConfig.batch_size``)
that may hold the windows of several segments; each segment's W results are then averaged
over exactly its own rows, so the features equal those of encoding each segment alone up
to float rounding in the batched kernels. Sentences are encoded in batches too.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

import torch
from torch import Tensor
from tqdm import tqdm

from mmssl.config import EvalConfig
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


class WindowAverager:
    """Encodes the windows of consecutive segments in batches of up to ``batch_size`` clips
    and hands back each segment's mean: z_seg = (1 / W) · Σ_w f(clip_w).

    A batch may hold the windows of several segments and a segment's windows may span
    batches; the mean of a segment is always taken over its own W rows, stacked in window
    order, as when the segment is encoded alone.

    Args:
        encode: (B, ...) inputs → {name: (B, D)} outputs.
        batch_size: clips per call of ``encode``.
    """

    def __init__(self, encode: Callable[[Tensor], dict[str, Tensor]], batch_size: int):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.encode, self.batch_size = encode, batch_size
        self.pending: list[Tensor] = []  # windows not yet encoded, in order
        self.waiting: deque[int] = deque()  # window counts of segments not yet averaged
        self.rows: dict[str, list[Tensor]] = {}  # encoded rows of the waiting segments
        self.means: dict[str, list[Tensor]] = {}  # one (D,) mean per finished segment

    def add(self, windows: Tensor) -> None:
        """One segment's (W, ...) windows; encodes every full batch now available."""
        if len(windows) == 0:
            raise ValueError("a segment needs at least one window")
        self.pending.extend(windows.unbind(0))
        self.waiting.append(len(windows))
        while len(self.pending) >= self.batch_size:
            self._encode(self.batch_size)

    def finish(self) -> dict[str, Tensor]:
        """{name: (N, D)}: the mean of each segment added, in order."""
        if self.pending:
            self._encode(len(self.pending))
        return {name: torch.stack(means) for name, means in self.means.items()}

    def _encode(self, count: int) -> None:
        batch = torch.stack(self.pending[:count])
        del self.pending[:count]
        for name, value in self.encode(batch).items():
            self.rows.setdefault(name, []).extend(value.unbind(0))
        done = len(next(iter(self.rows.values())))
        while self.waiting and self.waiting[0] <= done:
            windows = self.waiting.popleft()
            done -= windows
            for name, rows in self.rows.items():
                self.means.setdefault(name, []).append(torch.stack(rows[:windows]).mean(0))
                del rows[:windows]


class FeatureExtractor:
    """Encodes segments with a frozen ``method`` (its ``embed`` and ``towers``), on the
    device its parameters are on; features come back on the CPU.

    Args:
        method: a registered method in eval mode.
        data_config: the training data settings (``DataConfig``: clip length, log-mel,
            ``max_words`` tokens per sentence).
        tokenizer: the run's tokenizer.
        windows: W, windows averaged per segment.
        levels: ``"embedding"`` and/or ``"backbone"`` (see module docstring).
        batch_size: clips (or sentences) per forward pass.
    """

    def __init__(self, method, data_config, tokenizer, windows: int = 10,
                 levels: tuple[str, ...] = ("embedding",),
                 batch_size: int = EvalConfig.batch_size):
        if not levels or set(levels) - set(LEVELS):
            raise ValueError(f"feature levels must be among {LEVELS}, got {levels!r}")
        if windows < 1:
            raise ValueError(f"windows must be >= 1, got {windows}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.method, self.tokenizer, self.windows = method, tokenizer, windows
        self.levels, self.batch_size = tuple(levels), batch_size
        self.max_words = data_config.max_words
        self.cutter = ClipCutter.from_config(data_config)
        self.device = next(method.parameters()).device

    @torch.no_grad()
    def encode(self, modality: str, x: Tensor) -> dict[str, Tensor]:
        """(B, ...) inputs → {space: (B, D)} and/or {"features": (B, D)} (backbone)."""
        x = x.to(self.device)
        out = {}
        if "backbone" in self.levels:
            out["features"] = self.method.towers.encode(modality, x)
        if "embedding" in self.levels:
            out.update(self.method.embed(modality, x))
        return {name: value.cpu() for name, value in out.items()}

    @torch.no_grad()
    def encode_text(self, sentences: list[str]) -> dict[str, Tensor]:
        """Sentences → {space: (S, D)} through the text tower, ``batch_size`` at a time."""
        if "text" not in self.method.modalities:
            raise ValueError(f"{type(self.method).__name__} has no text tower")
        ids = self.tokenizer(sentences, self.max_words)
        parts = [self.method.embed("text", chunk.to(self.device))
                 for chunk in ids.split(self.batch_size)]
        return {space: torch.cat([part[space] for part in parts]).cpu() for space in parts[0]}

    def windows_of(self, sample: OpenSample, modality: str) -> Tensor:
        """The segment's W input windows of ``modality``: (W, 3, T, h, w) uint8 video (centre
        crops of ``crop_size``) or (W, samples) float32 waveforms, starting at
        ``linspace(0, max(0, d - c), W)``."""
        starts = window_starts(segment_duration(sample),
                               self.cutter.clip_seconds(sample.fps or 1.0), self.windows)
        if modality == "video":
            return torch.stack([self.cutter.video(sample, s) for s in starts])
        return torch.stack([self.cutter.audio(sample, s)[0] for s in starts])

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
        clips = [m for m in wanted if m != "text"]
        averagers = {m: WindowAverager(partial(self.encode, m), self.batch_size) for m in clips}
        skip = SkipCounter()
        keys, metas, has_audio = [], [], []
        samples = open_dataset(shards, skip, need_video="video" in wanted)
        for sample in tqdm(samples, desc="eval: embed", unit="segment", disable=not progress):
            if keep is not None and not keep(sample.meta):
                continue
            try:  # decode every window before queueing any: a bad sample leaves no trace
                windows = {m: self.windows_of(sample, m) for m in clips}
            except MediaError as error:
                skip(error.reason, f"{sample.where}: {error}")
                continue
            for modality, x in windows.items():
                averagers[modality].add(x)
            keys.append(segment_key(sample.meta))
            metas.append(sample.meta)
            has_audio.append(sample.has_audio)
        if not keys:
            raise ValueError(f"{shards}: no segment to evaluate (skipped: {skip.counts})")
        features = {m: averager.finish() for m, averager in averagers.items()}
        if "text" in wanted:
            features["text"] = self.encode_text([(m.get("texts") or [{"text": ""}])[0]["text"]
                                                 for m in metas])
        return SegmentFeatures(keys, metas, **features, has_audio=torch.tensor(has_audio),
                               skipped=dict(skip.counts))



def subset_filter(subset: str | None) -> Callable[[dict], bool] | None:
    """Keep segments whose ``labels.subset`` is ``subset`` (all segments when None, and
    segments whose dataset has no subsets)."""
    if not subset:
        return None
    return lambda meta: meta.get("labels", {}).get("subset", subset) == subset
