"""Evaluation segments and their windows, decoded beside the model.

A segment is one shard sample; its W windows of the model's clip length c start at
``linspace(0, max(0, d - c), W)`` (relative to the segment; :func:`window_starts`).
:class:`SegmentWindows` decodes them in DataLoader workers, so the model encodes one
batch while the next segments are decoded (``workers = 0``: in the calling process).

Worker w of n handles the samples whose index in the dataset is ≡ w (mod n) and hands
back one item per such sample — its windows, or nothing but its skip counts when it was
skipped or filtered out — so the loader, which takes items from its workers in turn,
yields the segments in dataset order whatever the number of workers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch

from mmssl.data.candidates import window_starts
from mmssl.data.clips import ClipCutter, OpenSample
from mmssl.data.shards import SkipCounter, open_samples, raw_samples, shard_paths
from mmssl.data.worker_loader import worker_loader
from mmssl.media import MediaError
from mmssl.shard_format import clip_key


def segment_key(meta: dict) -> str:
    """``<video_id>@<start seconds, 2 decimals>``: names a segment in results and exports."""
    return clip_key(meta["video_id"], meta["start"])


def segment_duration(sample: OpenSample) -> float:
    """Seconds of the segment: from the frames, or from the span for audio-only samples."""
    if sample.num_frames:
        return sample.duration
    return float(sample.meta["end"]) - float(sample.meta["start"])


def segment_windows(cutter: ClipCutter, sample: OpenSample, modality: str, windows: int,
                    margin: float = 0.0) -> torch.Tensor:
    """The segment's W input windows of ``modality``: (W, 3, T, h, w) uint8 video (centre
    crops of ``crop_size``) or (W, samples) float32 waveforms, starting at
    :func:`~mmssl.data.candidates.window_starts` (``margin``: seconds the last window ends
    before the segment's end)."""
    starts = window_starts(segment_duration(sample), cutter.clip_seconds(sample.fps or 1.0),
                           windows, margin)
    if modality == "video":
        return cutter.video_windows(sample, starts)
    return cutter.audio_windows(sample, starts)


class SegmentWindows(torch.utils.data.IterableDataset):
    """Items ``{"key", "meta", "has_audio", <modality>: (W, ...) windows, "skipped"}`` for
    the segments of ``shards`` whose meta passes ``keep``, in dataset order; every item
    carries its worker's running skip counts (``{"worker", "counts"}``), and an item
    without ``"key"`` stands for a sample skipped or filtered out."""

    def __init__(self, shards: str, cutter: ClipCutter, windows: int, modalities: list[str],
                 keep: Callable[[dict], bool] | None, need_video: bool, margin: float = 0.0):
        super().__init__()
        self.shards, self.cutter, self.windows, self.margin = shards, cutter, windows, margin
        self.modalities, self.keep, self.need_video = modalities, keep, need_video

    def __iter__(self) -> Iterator[dict]:
        info = torch.utils.data.get_worker_info()
        worker, workers = (info.id, info.num_workers) if info else (0, 1)
        skip = SkipCounter()
        # Every worker reads every tar; only worker 0 counts a shard that cannot be read.
        raw = raw_samples(shard_paths(self.shards), skip if worker == 0 else SkipCounter())
        for index, sample in enumerate(raw):
            if index % workers == worker:
                item = self._item(sample, skip)
                item["skipped"] = {"worker": worker, "counts": dict(skip.counts)}
                yield item

    def _item(self, raw: dict, skip: SkipCounter) -> dict:
        for sample in open_samples([raw], skip, self.need_video):  # at most one
            if self.keep is not None and not self.keep(sample.meta):
                return {}
            try:
                windows = {m: segment_windows(self.cutter, sample, m, self.windows,
                                                self.margin)
                           for m in self.modalities}
            except MediaError as error:
                skip(error.reason, f"{sample.where}: {error}")
                return {}
            return {"key": segment_key(sample.meta), "meta": sample.meta,
                    "has_audio": sample.has_audio, **windows}
        return {}


def segment_loader(dataset: SegmentWindows, workers: int, per_batch: int = 1):
    """``dataset``'s items through ``workers`` DataLoader workers (0: in this process).

    ``per_batch``: segments one forward pass takes (⌈batch_size / W⌉). The workers may
    decode that many plus one ahead of the model: with DataLoader's default of two items
    per worker, a batch of 64 clips (6.4 segments of 10 windows) left the model waiting
    for 4 segments' decoding before every pass (evaluation 1.27× its forward against
    1.14× at one segment per pass, ``benchmarks/eval_cost.py``)."""
    if workers == 0:
        return iter(dataset)
    return iter(worker_loader(dataset, workers, ahead=per_batch + 1))
