"""Frozen per-segment features from prepared shards: the W-window average of every paper.

Every evaluation (retrieval, linear probes, zero-shot classification, ``mmssl embed``) sees
a dataset in the shard format (``mmssl/shard_format.py``) as a list of *segments*, one per
shard sample. A segment of duration d gets W windows of the model's clip length c with
starts ``linspace(0, max(0, d - c - margin), W)`` (relative to the segment; the margin is
0, or 0.4 s under MIL-NCE's protocol), each window is encoded
and the W results are **averaged** (MIL-NCE / MMV test-time protocol)::

    z_seg = (1 / W) · Σ_w f(clip_w)          (no re-normalisation after the mean)

Level ``"embedding"``: f is ``method.embed(modality, x)``, giving one (N, D) matrix per
space the modality meets another in (``vt``, ``at``, ``va``; see ``mmssl/models/spaces``).
Level ``"backbone"``: f is the frozen encoder, ``method.towers.encode(modality, x)`` (its
``out_dim`` features, stored under ``"features"``), what linear probes read. Asking for both decodes
each window once. Text is the sample's first text (its sentence/label).

Audio-only samples (AudioSet files with no video) are kept when video is not asked for; a
segment without an audio track gets silence and ``has_audio = False``. Unreadable samples
are skipped and counted by reason, never silently dropped.

Segments are decoded in DataLoader workers (:mod:`mmssl.eval.segments`) while the model
encodes the windows already decoded; the model turns the uint8 frames and the waveforms
into its inputs itself, on its device, in batches (normalisation, log-mel).

Windows are encoded in batches of up to ``batch_size`` clips (``EvalConfig.batch_size``)
that may hold the windows of several segments; each segment's W results are then averaged
over exactly its own rows, so the features equal those of encoding each segment alone up
to float rounding in the batched kernels. Sentences are encoded in batches too.
"""

from __future__ import annotations

import math
from collections import Counter, deque
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial

import torch
from torch import Tensor
from tqdm import tqdm

from mmssl.config import EvalConfig
from mmssl.data.clips import ClipCutter, OpenSample
from mmssl.data.threads import core_share, decode_workers
from mmssl.eval.segments import (
    SegmentWindows,
    segment_duration,
    segment_key,
    segment_loader,
    segment_windows,
)

__all__ = ["FeatureExtractor", "SegmentFeatures", "WindowAverager", "segment_duration",
           "segment_key", "subset_filter"]

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
        window_margin: seconds the last window ends before the segment's end
            (:func:`~mmssl.data.candidates.window_starts`; MIL-NCE's protocol: 0.4).
        workers: loader workers decoding segments beside the model (None: half the
            process's cores, :func:`mmssl.data.threads.decode_workers`; 0: none).
    """

    def __init__(self, method, data_config, tokenizer, windows: int = 10,
                 levels: tuple[str, ...] = ("embedding",),
                 batch_size: int = EvalConfig.batch_size, window_margin: float = 0.0,
                 workers: int | None = None):
        if not levels or set(levels) - set(LEVELS):
            raise ValueError(f"feature levels must be among {LEVELS}, got {levels!r}")
        if windows < 1:
            raise ValueError(f"windows must be >= 1, got {windows}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.method, self.tokenizer, self.windows = method, tokenizer, windows
        self.levels, self.batch_size = tuple(levels), batch_size
        self.window_margin = window_margin
        self.max_words = data_config.max_words
        self.cutter = ClipCutter.from_config(data_config)
        self.device = next(method.parameters()).device
        self.workers = decode_workers(workers)

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
        ``linspace(0, max(0, d - c - margin), W)``."""
        return segment_windows(self.cutter, sample, modality, self.windows, self.window_margin)

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
        keys, metas, has_audio, skipped = [], [], [], {}
        dataset = SegmentWindows(shards, self.cutter, self.windows, clips, keep,
                                 need_video="video" in wanted, margin=self.window_margin)
        with self._threads_beside_workers():
            items = segment_loader(dataset, self.workers,
                                   math.ceil(self.batch_size / self.windows))
            for item in tqdm(items, desc="eval: embed", unit="sample", disable=not progress):
                skipped[item["skipped"]["worker"]] = item["skipped"]["counts"]
                if "key" not in item:  # skipped or filtered out
                    continue
                for modality in clips:
                    averagers[modality].add(item[modality])
                keys.append(item["key"])
                metas.append(item["meta"])
                has_audio.append(item["has_audio"])
        counts = dict(sum((Counter(c) for c in skipped.values()), Counter()))
        if not keys:
            raise ValueError(f"{shards}: no segment to evaluate (skipped: {counts})")
        features = {m: averager.finish() for m, averager in averagers.items()}
        if "text" in wanted:
            features["text"] = self.encode_text([(m.get("texts") or [{"text": ""}])[0]["text"]
                                                 for m in metas])
        return SegmentFeatures(keys, metas, **features, has_audio=torch.tensor(has_audio),
                               skipped=counts)

    @contextmanager
    def _threads_beside_workers(self):
        """While workers decode on this machine's cores, the model's torch threads keep to
        the cores they leave (threads waiting on each other cost far more than the cores
        they would add); the thread count is put back after."""
        before = torch.get_num_threads()
        share = max(1, core_share() - self.workers)
        if self.workers and before > share:
            torch.set_num_threads(share)
        try:
            yield
        finally:
            torch.set_num_threads(before)


def subset_filter(subset: str | None) -> Callable[[dict], bool] | None:
    """Keep segments whose ``labels.subset`` is ``subset`` (all segments when None, and
    segments whose dataset has no subsets)."""
    if not subset:
        return None
    return lambda meta: meta.get("labels", {}).get("subset", subset) == subset
