"""The resumable training stream: endless batches of training clips from prepared shards.

Per reader (process × DataLoader worker, :mod:`mmssl.data.shard_split`)::

    shards → tar samples → shuffle buffer → JSON members read → clip plans → shuffle buffer
           → [replayed: the plans of batches already trained on] → clips materialised
             into the rows of a batch (frames, sound and token ids written in place)

Both shuffle buffers hold raw samples or plans, never decoded clips, and one RNG per reader
makes every draw (shuffles, anchors, starts, crops), so the plan stream is a function of
the seed, the rank and the worker alone. Resuming at a data position replays that plan
stream without decoding (:mod:`mmssl.data.training_clips`) and decodes from there on.

The batch contract is that of :mod:`mmssl.data.batching`, plus ``skipped``: the worker's
running count of samples and clips skipped for bad data, by reason; and ``recycle``: the tag
by which a consumer done with the batch hands its buffers back, None for buffers that are
not kept (:meth:`TrainingStream.release`, :mod:`mmssl.data.recycling`).
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator

import torch
import webdataset as wds

from mmssl.config import DataConfig
from mmssl.data.batching import collate
from mmssl.data.labelled_clips import LabelledClips
from mmssl.data.recycling import RECYCLE_KEY, BufferPool
from mmssl.data.shard_mix import mix_sources, resampled_urls
from mmssl.data.shard_split import check_readers, reader_shards
from mmssl.data.shards import SkipCounter, raw_samples, read_samples
from mmssl.data.tokenizer import WordTokenizer
from mmssl.data.training_clips import ClipPlan, TrainingClips
from mmssl.media import MediaError

# Clips that fail to decode one after another before a reader gives up: far more than
# a damaged shard holds, so reaching it means the data cannot train at all.
FAILED_CLIPS_IN_A_ROW_LIMIT = 1000


class TrainingStream(torch.utils.data.IterableDataset):
    """An endless stream of batches of MIL-NCE training clips from ``config.shards``.

    Epoch e reads this rank's shards in the order of seed ``(seed, e)``; epochs follow one
    another inside the stream, so DataLoader workers and shuffle buffers live across them.
    Because the stream never ends, every rank takes exactly as many batches as the loop
    asks for (no rank runs dry first and hangs the others in a collective), whatever the
    number of samples in its shards.

    With ``config.mix`` ({directory: weight}) the stream is *resampled*
    (:mod:`mmssl.data.shard_mix`).

    ``start_batch``: the data position to resume from — how many batches this rank's
    DataLoader already handed out. The loader takes batches from its workers in turn, so
    worker w replays the plans of its share of them (:func:`batches_before`) without
    opening an mp4, and the stream continues exactly where it stopped. Replaying sees
    everything the JSON members say (bad JSON, no narration, no video); what it cannot see
    is damaged media — an mp4 that does not open or whose frames or audio fail to decode:
    the first run dropped that clip, the replay does not, so a resume across one continues
    one clip later on that worker.
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
        # Narrated clips (MIL-NCE's) unless the config asks for labelled ones (SupCon's),
        # which may be of audio-only samples (AudioSet).
        self.clips = LabelledClips(config) if config.label_key else TrainingClips(config,
                                                                                  tokenizer)
        self.need_video = not config.label_key or config.label_modality == "video"
        self.skip = SkipCounter()
        self.first_epoch = 0
        # Made here, before DataLoader workers start, so that they share its table.
        self.buffers = BufferPool(config.num_workers)

    def __iter__(self) -> Iterator[dict]:
        info = torch.utils.data.get_worker_info()
        workers = info.num_workers if info else 1
        # A DataLoader asks its workers in turn starting from worker 0, but after
        # start_batch batches it is worker (start_batch mod workers)'s turn: DataLoader
        # worker i plays the part of worker (i + start_batch) mod workers of the first run.
        worker = ((info.id if info else 0) + self.start_batch) % workers
        self.buffers.start(info.id if info else 0)
        rng = random.Random(hash((self.seed, self.first_epoch, self.rank, worker)))
        plans = wds.shuffle(self.config.shuffle_buffer, rng=rng)(self._plans(rng, worker, workers))
        self.replay(plans, batches_before(self.start_batch, worker, workers)
                    * self.config.batch_size)
        try:
            while True:
                batch = self._batch(plans)
                # Skips are counted in the worker; each batch carries that worker's running
                # totals so the training loop can log them.
                batch["skipped"] = {"worker": worker, "counts": dict(self.skip.counts)}
                yield batch
        finally:  # no mp4 stays open in a process that may fork loader workers later
            self.clips.close()

    def release(self, batch: dict) -> None:
        """The consumer is done with ``batch``: its tensors may be written again
        (:mod:`mmssl.data.recycling`). Never call it for a batch still in use."""
        self.buffers.release(batch)

    def replay(self, plans: Iterator[ClipPlan], count: int) -> None:
        """Take the next ``count`` plans, already trained on, without decoding them."""
        for plan in itertools.islice(plans, count):
            self.clips.skip(plan)

    def _batch(self, plans: Iterator[ClipPlan]) -> dict:
        """The next ``batch_size`` clips that decode, each decoded into its row."""
        size = self.config.batch_size
        rows, tag = self.buffers.take(size, self.clips.row_fields())
        clips, failed = [], 0
        for plan in plans:
            try:
                clips.append(self.clips.materialise(plan, rows.row(len(clips))))
            except MediaError as error:
                self.skip(error.reason, f"{plan.sample.where}: {error}")
                failed += 1
                if failed == FAILED_CLIPS_IN_A_ROW_LIMIT:
                    raise RuntimeError(f"{self.config.shards or self.config.mix}: the last "
                                       f"{failed} clips of rank {self.rank} all failed to "
                                       f"decode, the last {plan.sample.where}: {error}") from error
                continue
            failed = 0
            if len(clips) == size:
                return {**collate(clips, rows), RECYCLE_KEY: tag}
        raise AssertionError("the plan stream is endless")

    def _plans(self, rng: random.Random, worker: int, workers: int) -> Iterator[ClipPlan]:
        if self.config.mix:
            # Seeded from a string (hashed with SHA-512, unlike hash() of a str, which
            # changes from process to process), so a resumed run draws the same shards.
            url_rng = random.Random(f"shards/{self.seed}/{self.rank}/{worker}")
            return self._plans_from(resampled_urls(self.sources, url_rng), rng, "resampled")
        return self._epochs(rng, worker, workers)

    def _epochs(self, rng: random.Random, worker: int, workers: int) -> Iterator[ClipPlan]:
        for epoch in itertools.count(self.first_epoch):
            urls = reader_shards(self.paths, self.seed, epoch, self.rank, self.world, worker,
                                 workers)
            yield from self._plans_from(urls, rng, f"epoch {epoch}")

    def _plans_from(self, urls, rng: random.Random, what: str) -> Iterator[ClipPlan]:
        raw = wds.shuffle(self.config.shuffle_buffer, rng=rng)(raw_samples(urls, self.skip))
        samples = read_samples(raw, self.skip, self.need_video)
        planned = 0
        for plan in self.clips.plans(samples, rng, self.skip):
            planned += 1
            yield plan
        if not planned:
            raise RuntimeError(f"{self.config.shards or self.config.mix}: {what} gave no clip "
                               f"for rank {self.rank}; skipped: {self.skip.counts}")


def batches_before(start: int, worker: int, workers: int) -> int:
    """How many of a DataLoader's first ``start`` batches came from ``worker``.

    A DataLoader over an IterableDataset takes batch n from worker ``n mod workers``, so
    the count is ``|{n < start : n ≡ worker (mod workers)}| = max(0, ⌈(start − worker) /
    workers⌉)``.
    """
    return max(0, -(-(start - worker) // workers))
