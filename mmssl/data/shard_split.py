"""Which shards each reader reads: a reader is one (process, DataLoader worker) pair.

Shards are split by process (rank) and by DataLoader worker here, not by Accelerate: the
loader is never passed to ``accelerator.prepare``. Each epoch reshuffles the shard order
with a seed shared by all ranks, so the split stays disjoint. :func:`data_plan` is what
``--dry-run`` prints of it.
"""

from __future__ import annotations

import random

from mmssl.config import ConfigError, DataConfig
from mmssl.data.shard_urls import fetch_manifest


def reader_shards(paths: list[str], seed: int, epoch: int, rank: int, world: int, worker: int,
                  workers: int) -> list[str]:
    """The shards one reader (rank, worker) reads in ``epoch``: the epoch's shuffled order,
    every ``world``-th from ``rank``, then every ``workers``-th from ``worker``."""
    order = list(paths)
    random.Random(seed * 1_000_003 + epoch).shuffle(order)
    return order[rank::world][worker::workers]


def check_readers(config: DataConfig, shards: int, world: int) -> None:
    """Every reader (process × loader worker) needs a shard of its own in each epoch: fewer
    is an error here, before any process could wait forever on another in a collective."""
    workers = max(1, config.num_workers)
    if shards < world * workers:
        raise ConfigError(
            f"{config.shards}: {shards} shards cannot feed {world} process(es) × {workers} "
            "loader worker(s); every reader needs a shard of its own. Prepare more, smaller "
            "shards (--samples-per-shard), use fewer workers, or use resampled shards "
            "(data.mix).")


def data_plan(config: DataConfig, world: int, seed: int = 0) -> dict:
    """What each rank and worker reads in epoch 0 (from the manifests, nothing decoded).

    ``clips`` per rank is the upper bound samples × clips_per_sample (a sample with fewer
    narrations gives fewer); ``batches_per_epoch`` is the smallest rank's clips // batch.
    """
    workers = max(1, config.num_workers)
    counts = {}
    for directory in (config.mix or {config.shards: 1.0}):
        for shard in fetch_manifest(directory)["shards"]:
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
