"""WebDataset pipelines from prepared shards to batches (the batch contract of DESIGN.md).

Shards are split by process (rank) and by DataLoader worker here, not by Accelerate: the
loader is never passed to ``accelerator.prepare``. Each epoch reshuffles the shard order
with a seed shared by all ranks, so the split stays disjoint.

Training batch: ``video`` (B, 3, T, H, W) float, ``audio`` (B, 1, n_mels, frames) log-mel,
``audio_mask`` (B,) bool, ``text`` (B, K, L) int64 with the anchor narration at k = 0,
``text_mask`` (B, K) bool, ``meta``; with ``views=2`` also ``video_view2`` (B, 3, T, H, W),
both views randomly cropped.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator

import torch
import webdataset as wds

from mmssl.config import DataConfig
from mmssl.data.augment import random_resized_crop
from mmssl.data.candidates import candidate_window, clip_start
from mmssl.data.clips import ClipCutter, OpenSample
from mmssl.data.shards import SkipCounter, open_samples, raw_samples, shard_paths
from mmssl.data.tokenizer import WordTokenizer
from mmssl.media import MediaError
from mmssl.shard_format import clip_key, read_manifest


def reader_shards(paths: list[str], seed: int, epoch: int, rank: int, world: int, worker: int,
                  workers: int) -> list[str]:
    """The shards one reader (rank, worker) reads in ``epoch``: the epoch's shuffled order,
    every ``world``-th from ``rank``, then every ``workers``-th from ``worker``."""
    order = list(paths)
    random.Random(seed * 1_000_003 + epoch).shuffle(order)
    return order[rank::world][worker::workers]


class TrainingClips:
    """MIL-NCE training clips: per sample, ``clips_per_sample`` anchor narrations, each
    with its K neighbouring candidates and the clip cut around it."""

    def __init__(self, config: DataConfig, tokenizer: WordTokenizer):
        if config.views not in (1, 2):
            raise ValueError(f"data.views must be 1 or 2, got {config.views}")
        self.config = config
        self.tokenizer = tokenizer
        self.cutter = ClipCutter.from_config(config)

    def __call__(self, samples: Iterator[OpenSample], rng: random.Random,
                 skip: SkipCounter) -> Iterator[dict]:
        for sample in samples:
            texts = [t for t in sample.meta["texts"] if t["start"] < sample.duration]
            if not texts:
                skip("no_narration", sample.where)
                continue
            anchors = rng.sample(range(len(texts)), min(self.config.clips_per_sample, len(texts)))
            try:
                clips = [self._clip(sample, texts, anchor, rng) for anchor in anchors]
            except MediaError as error:  # a sample whose frames fail mid-way: skip it whole
                skip(error.reason, f"{sample.where}: {error}")
                continue
            yield from clips

    def _clip(self, sample: OpenSample, texts: list[dict], anchor: int,
              rng: random.Random) -> dict:
        k = self.config.num_candidates
        first, last = candidate_window([t["start"] for t in texts], [t["end"] for t in texts],
                                       anchor, k)
        # The anchor goes first: K = 1 methods (CLIP, AVLnet) read candidate 0 only.
        others = [i for i in range(first, last + 1) if i != anchor]
        chosen = [texts[i]["text"] for i in [anchor, *others]]
        text = torch.zeros(k, self.config.max_words, dtype=torch.long)
        text[: len(chosen)] = self.tokenizer(chosen, self.config.max_words)
        span = (texts[anchor]["start"], texts[anchor]["end"])
        clip_seconds = self.cutter.clip_seconds(sample.fps)
        start = clip_start(*span, clip_seconds, sample.duration, rng)
        audio, has_audio = self.cutter.audio(sample, start)
        video_id = sample.meta["video_id"]
        absolute = sample.meta["start"] + start
        meta = {"key": clip_key(video_id, absolute), "video_id": video_id, "start": absolute,
                "anchor": texts[anchor]["text"]}
        clip = {"video": self.cutter.video(sample, start), "audio": audio,
                "audio_mask": has_audio, "text": text,
                "text_mask": torch.arange(k) < len(chosen), "meta": meta}
        if self.config.views == 2:
            # Two views: each its own start inside the anchor's span and its own crop.
            second = clip_start(*span, clip_seconds, sample.duration, rng)
            crop = self.config.crop_scale
            clip["video"] = random_resized_crop(clip["video"], crop, rng)
            clip["video_view2"] = random_resized_crop(self.cutter.video(sample, second), crop,
                                                      rng)
        return clip


def collate(items: list[dict]) -> dict:
    """Stack a list of per-clip dicts into the batch contract."""
    batch = {key: torch.stack([torch.as_tensor(item[key]) for item in items])
             for key in items[0] if key != "meta"}
    batch["meta"] = [item["meta"] for item in items]
    return batch


class TrainingStream(torch.utils.data.IterableDataset):
    """An endless stream of batches of MIL-NCE training clips from ``config.shards``.

    Epoch e reads this rank's shards in the order of seed ``(seed, e)``; epochs follow one
    another inside the stream, so DataLoader workers and shuffle buffers live across them.
    Because the stream never ends, every rank takes exactly as many batches as the loop
    asks for (no rank runs dry first and hangs the others in a collective), whatever the
    number of samples in its shards.

    With ``config.mix`` ({directory: weight}) the stream is *resampled*: each reader draws
    shards with replacement, a shard of directory d with probability ∝ weight_d.

    ``start_batch``: the data position to resume from — how many batches this rank's
    DataLoader already handed out. The loader takes batches from its workers in turn, so
    worker w regenerates and drops its share of them (:func:`batches_before`) before
    yielding; the stream then continues exactly where it stopped.
    """

    def __init__(self, config: DataConfig, tokenizer: WordTokenizer, seed: int = 0,
                 rank: int = 0, world: int = 1, start_batch: int = 0):
        super().__init__()
        self.config, self.seed, self.rank, self.world = config, seed, rank, world
        self.start_batch = start_batch
        self.sources = mix_sources(config)
        self.paths = [path for paths, _ in self.sources for path in paths]
        if not config.mix:
            check_readers(config, len(self.paths), world)
        self.clips = TrainingClips(config, tokenizer)
        self.skip = SkipCounter()
        self.first_epoch = 0

    def __iter__(self) -> Iterator[dict]:
        info = torch.utils.data.get_worker_info()
        workers = info.num_workers if info else 1
        # A DataLoader asks its workers in turn starting from worker 0, but after
        # start_batch batches it is worker (start_batch mod workers)'s turn: DataLoader
        # worker i plays the part of worker (i + start_batch) mod workers of the first run.
        worker = ((info.id if info else 0) + self.start_batch) % workers
        rng = random.Random(hash((self.seed, self.first_epoch, self.rank, worker)))
        clips = wds.shuffle(self.config.shuffle_buffer, rng=rng)(self._clips(rng, worker, workers))
        to_skip = batches_before(self.start_batch, worker, workers)
        for index, items in enumerate(_groups(clips, self.config.batch_size)):
            if index < to_skip:  # already trained on before the resume
                continue
            batch = collate(items)
            # Skips are counted in the worker; each batch carries that worker's running
            # totals so the training loop can log them.
            batch["skipped"] = {"worker": worker, "counts": dict(self.skip.counts)}
            yield batch

    def _clips(self, rng: random.Random, worker: int, workers: int) -> Iterator[dict]:
        if self.config.mix:
            # Seeded from a string (hashed with SHA-512, unlike hash() of a str, which
            # changes from process to process), so a resumed run draws the same shards.
            url_rng = random.Random(f"shards/{self.seed}/{self.rank}/{worker}")
            return self._clips_from(resampled_urls(self.sources, url_rng), rng, "resampled")
        return self._epochs(rng, worker, workers)

    def _epochs(self, rng: random.Random, worker: int, workers: int) -> Iterator[dict]:
        for epoch in itertools.count(self.first_epoch):
            urls = reader_shards(self.paths, self.seed, epoch, self.rank, self.world, worker,
                                 workers)
            yield from self._clips_from(urls, rng, f"epoch {epoch}")

    def _clips_from(self, urls, rng: random.Random, what: str) -> Iterator[dict]:
        raw = wds.shuffle(self.config.shuffle_buffer, rng=rng)(raw_samples(urls, self.skip))
        samples = open_samples(raw, self.skip)
        produced = 0
        for clip in self.clips(samples, rng, self.skip):
            produced += 1
            yield clip
        if not produced:
            raise RuntimeError(f"{self.config.shards or self.config.mix}: {what} gave no clip "
                               f"for rank {self.rank}; skipped: {self.skip.counts}")


def check_readers(config: DataConfig, shards: int, world: int) -> None:
    """Every reader (process × loader worker) needs a shard of its own in each epoch: fewer
    is an error here, before any process could wait forever on another in a collective."""
    workers = max(1, config.num_workers)
    if shards < world * workers:
        raise ValueError(
            f"{config.shards}: {shards} shards cannot feed {world} process(es) × {workers} "
            "loader worker(s); every reader needs a shard of its own. Prepare more, smaller "
            "shards (--samples-per-shard), use fewer workers, or use resampled shards "
            "(data.mix).")


def _groups(items: Iterator, size: int) -> Iterator[list]:
    """Consecutive lists of ``size`` items; an incomplete last group is dropped."""
    group = []
    for item in items:
        group.append(item)
        if len(group) == size:
            yield group
            group = []


def batches_before(start: int, worker: int, workers: int) -> int:
    """How many of a DataLoader's first ``start`` batches came from ``worker``.

    A DataLoader over an IterableDataset takes batch n from worker ``n mod workers``, so
    the count is ``|{n < start : n ≡ worker (mod workers)}| = max(0, ⌈(start − worker) /
    workers⌉)``.
    """
    return max(0, -(-(start - worker) // workers))


def mix_sources(config: DataConfig) -> list[tuple[list[str], float]]:
    """``[(shard paths, weight), ...]``: ``config.mix`` when set, else ``config.shards``
    with weight 1. A directory with no shards or a weight ≤ 0 is an error."""
    mix = config.mix or {config.shards: 1.0}
    sources = []
    for directory, weight in mix.items():
        if float(weight) <= 0:
            raise ValueError(f"data.mix: weight of {directory} must be > 0, got {weight}")
        paths = shard_paths(directory)
        if not paths:
            raise ValueError(f"{directory}: the manifest lists no shard with samples")
        sources.append((paths, float(weight)))
    return sources


def resampled_urls(sources: list[tuple[list[str], float]], rng: random.Random
                   ) -> Iterator[str]:
    """Endless shard draws with replacement: a source with probability ∝ its weight, then
    one of its shards uniformly."""
    weights = [weight for _, weight in sources]
    while True:
        paths, _ = rng.choices(sources, weights=weights)[0]
        yield rng.choice(paths)


def data_plan(config: DataConfig, world: int, seed: int = 0) -> dict:
    """What each rank and worker reads in epoch 0 (from the manifests, nothing decoded).

    ``clips`` per rank is the upper bound samples × clips_per_sample (a sample with fewer
    narrations gives fewer); ``batches_per_epoch`` is the smallest rank's clips // batch.
    """
    workers = max(1, config.num_workers)
    counts = {}
    for directory in (config.mix or {config.shards: 1.0}):
        for shard in read_manifest(directory)["shards"]:
            if shard["samples"]:
                counts[shard["path"]] = shard["samples"]
    if not config.mix:
        check_readers(config, len(counts), world)
    plan = {"shards": len(counts), "samples": sum(counts.values()), "world": world,
            "workers_per_rank": workers, "per_batch": config.batch_size,
            "global_batch": config.batch_size * world,
            "resampled": bool(config.mix), "ranks": []}
    for rank in range(world):
        split = [reader_shards(list(counts), seed, 0, rank, world, w, workers)
                 for w in range(workers)]
        samples = sum(counts[path] for shards in split for path in shards)
        plan["ranks"].append({"rank": rank, "shards_per_worker": [len(s) for s in split],
                              "samples": samples,
                              "clips": samples * config.clips_per_sample})
    plan["batches_per_epoch"] = min(r["clips"] for r in plan["ranks"]) // config.batch_size
    return plan

