"""Running a conversion: videos assigned to shards deterministically, shards converted in
a process pool, complete shards skipped on a re-run, a manifest written at the end."""

from __future__ import annotations

import json
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict
from pathlib import Path

from tqdm import tqdm

from data_prep.convert import Failure, convert_video
from data_prep.shard_writer import ShardWriter, write_json_atomic
from data_prep.tasks import VideoTask
from mmssl.config import PrepConfig
from mmssl.shard_format import (
    MANIFEST_NAME,
    META_KEY,
    decode_meta,
    is_complete,
    shard_name,
    stats_path,
)


def plan_shards(tasks: list[VideoTask], samples_per_shard: int) -> list[list[VideoTask]]:
    """Videos sorted by id, packed greedily into shards of at most ``samples_per_shard``
    planned segments (a video is never split). Depends only on the annotations, so every
    run and every machine agrees on which video goes where."""
    shards: list[list[VideoTask]] = [[]]
    count = 0
    for task in sorted(tasks, key=lambda t: t.video_id):
        size = max(1, len(task.segments))
        if shards[-1] and count + size > samples_per_shard:
            shards.append([])
            count = 0
        shards[-1].append(task)
        count += size
    return [shard for shard in shards if shard]


def write_shard(tar_path: str, tasks: list[VideoTask], config: PrepConfig) -> dict:
    """Convert ``tasks`` into one complete shard; returns its stats."""
    failures, seconds, videos = [], 0.0, 0
    with ShardWriter(tar_path) as writer:
        for task in tasks:
            samples, failed = convert_video(task, config)
            failures.extend(failed)
            videos += bool(samples)
            for sample in samples:
                writer.write(sample)
            seconds += sum(_duration(sample) for sample in samples)
        stats = {
            "shard": Path(tar_path).name, "videos": videos, "seconds": round(seconds, 3),
            "failed": dict(Counter(f.reason for f in failures)),
            "failures": [asdict(f) for f in failures],
        }
        writer.finish(stats)
    return stats


def run_prep(tasks: list[VideoTask], out_dir: str | Path, config: PrepConfig, dataset: str,
             annotation_failures: list[Failure] = (), progress: bool = True) -> dict:
    """Convert ``tasks`` into shards under ``out_dir``; returns the manifest.

    ``annotation_failures`` (records the converter could not read) are counted in the
    manifest beside the media failures.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    planned = plan_shards(tasks, config.samples_per_shard)
    paths = [str(out_dir / shard_name(index)) for index in range(len(planned))]
    todo = [index for index, path in enumerate(paths) if not is_complete(path)]
    started = time.time()
    bar = tqdm(total=sum(len(planned[i]) for i in todo), desc=f"prep {dataset}", unit="video",
               disable=not progress)
    with ProcessPoolExecutor(max_workers=max(1, config.workers)) as pool:
        futures = {pool.submit(write_shard, paths[i], planned[i], config): i for i in todo}
        for future in as_completed(futures):
            future.result()
            bar.update(len(planned[futures[future]]))
    bar.close()
    manifest = build_manifest(paths, dataset, config, time.time() - started)
    annotation_counts = Counter(f.reason for f in annotation_failures)
    manifest["failed"] = dict(Counter(manifest["failed"]) + annotation_counts)
    manifest["annotation_failures"] = [asdict(f) for f in annotation_failures]
    write_json_atomic(out_dir / MANIFEST_NAME, manifest)
    return manifest


def build_manifest(paths: list[str], dataset: str, config: PrepConfig, seconds: float) -> dict:
    """The manifest from the shards' stats files (see :mod:`mmssl.shard_format`)."""
    shards, failed = [], Counter()
    for path in paths:
        stats = json.loads(stats_path(path).read_text())
        shards.append({"name": Path(path).name, "samples": stats["samples"]})
        failed.update(stats["failed"])
    return {
        "dataset": dataset, "shards": shards,
        "total_samples": sum(s["samples"] for s in shards), "failed": dict(failed),
        "prep": asdict(config), "wall_seconds": round(seconds, 2),
    }


def _duration(sample: dict) -> float:
    meta = decode_meta(sample[META_KEY])
    return meta["end"] - meta["start"]
