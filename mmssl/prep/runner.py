"""Running a conversion: videos assigned to shards deterministically, each video converted
as its own job on an executor (a local process pool or Ray, see
:mod:`mmssl.prep.executors`), optionally only this node's share of the shards, complete
shards skipped on a re-run, a manifest written by the run that sees every shard complete.

The unit of work is the video, not the shard, so every worker is busy from the first video
whatever the shard size; the converted samples come back to this process, which writes each
shard as soon as all of its videos are in (workers never write shards). A shard's bytes
depend only on its videos' samples in plan order, never on which worker converted what or
when it finished.
"""

from __future__ import annotations

import gc
import json
import sys
import time
from collections import Counter
from dataclasses import asdict
from pathlib import Path

from tqdm import tqdm

from mmssl.config import PrepConfig
from mmssl.media.backends import VIDEO_BACKENDS
from mmssl.prep.convert import Converted, Failure, convert_video, sample_seconds
from mmssl.prep.executors import RunOptions, run_calls
from mmssl.prep.shard_writer import ShardWriter, write_json_atomic
from mmssl.prep.tasks import VideoTask
from mmssl.shard_format import MANIFEST_NAME, is_complete, shard_name, stats_path


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


def write_shard(tar_path: str, videos: list[Converted]) -> dict:
    """Write the converted ``videos`` (in plan order) as one complete shard; returns its
    stats: videos with samples, seconds, failures by reason, and the truncated downloads
    whose early samples were kept (``truncated_kept`` videos, ``truncated_seconds_kept``)."""
    failures = [failure for video in videos for failure in video.failures]
    truncated = [video.truncated for video in videos if video.truncated is not None]
    with ShardWriter(tar_path) as writer:
        for video in videos:
            for sample in video.samples:
                writer.write(sample)
        seconds = sum(sample_seconds(s) for video in videos for s in video.samples)
        stats = {
            "shard": Path(tar_path).name, "videos": sum(bool(v.samples) for v in videos),
            "seconds": round(seconds, 3),
            "failed": dict(Counter(f.reason for f in failures)),
            "failures": [asdict(f) for f in failures],
            "truncated_kept": len(truncated),
            "truncated_seconds_kept": round(sum(t.seconds for t in truncated), 3),
        }
        writer.finish(stats)
    return stats


def run_prep(tasks: list[VideoTask], out_dir: str | Path, config: PrepConfig, dataset: str,
             annotation_failures: list[Failure] = (), progress: bool = True,
             run: RunOptions | None = None) -> dict:
    """Convert ``tasks`` into shards under ``out_dir``; returns the manifest.

    ``annotation_failures`` (records the converter could not read) are counted in the
    manifest beside the media failures. ``run`` picks the executor and this node's share
    of the shards (default: the options of the command line that built ``config``, else
    a local process pool converting every shard).

    ``manifest.json`` is written only by a run that finds every planned shard complete
    after converting its own: with several nodes, whichever finishes last writes it (or
    ``manifest_only`` writes it later). A run that finds shards missing writes nothing
    more, says so on stderr and returns the same summary with ``"complete": False``,
    listing only the complete shards.
    """
    run = run or RunOptions()
    VIDEO_BACKENDS.get(config.video_backend)  # an unknown name fails here, not per video
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    planned = plan_shards(tasks, config.samples_per_shard)
    paths = [str(out_dir / shard_name(index)) for index in range(len(planned))]
    started = time.time()
    if not run.manifest_only:
        todo = [i for i, path in enumerate(paths) if run.owns(i) and not is_complete(path)]
        _convert(paths, planned, todo, config, run, dataset, progress)
    missing = [path for path in paths if not is_complete(path)]
    if missing and run.manifest_only:
        raise RuntimeError(f"{out_dir}: {len(missing)} of {len(paths)} shards are not complete "
                           f"(first: {Path(missing[0]).name}); convert them before writing "
                           "the manifest")
    complete = [path for path in paths if is_complete(path)]
    manifest = build_manifest(complete, dataset, config, time.time() - started)
    annotation_counts = Counter(f.reason for f in annotation_failures)
    manifest["failed"] = dict(Counter(manifest["failed"]) + annotation_counts)
    manifest["annotation_failures"] = [asdict(f) for f in annotation_failures]
    if missing:
        _report_waiting(run, len(missing), len(paths))
        return {**manifest, "complete": False, "planned_shards": len(paths)}
    write_json_atomic(out_dir / MANIFEST_NAME, manifest)
    return manifest


def _convert(paths: list[str], planned: list[list[VideoTask]], todo: list[int],
             config: PrepConfig, run: RunOptions, dataset: str, progress: bool) -> None:
    """Convert every video of the shards ``todo`` (one executor job each) and write each
    shard once all its videos are in; the bar counts videos."""
    jobs = [(shard, position) for shard in todo for position in range(len(planned[shard]))]
    calls = [(planned[shard][position], config) for shard, position in jobs]
    converted: dict[int, list[Converted | None]] = {s: [None] * len(planned[s]) for s in todo}
    waiting = {shard: len(planned[shard]) for shard in todo}
    bar = tqdm(total=len(calls), desc=f"prep {dataset}", unit="video", disable=not progress)
    # Workers are forked from this process: garbage it still holds (say, PyAV objects of an
    # earlier decode in the same program) would be freed inside a worker, where FFmpeg's
    # threads behind them never existed, which can crash it. Collect it here, and keep what
    # is left out of the workers' collections.
    gc.collect()
    gc.freeze()
    try:
        for index, video in run_calls(convert_video, calls, run, config.workers):
            shard, position = jobs[index]
            converted[shard][position] = video
            waiting[shard] -= 1
            if not waiting[shard]:
                write_shard(paths[shard], converted.pop(shard))
            bar.update(1)
    finally:
        gc.unfreeze()
        bar.close()


def _report_waiting(run: RunOptions, missing: int, planned: int) -> None:
    print(f"node {run.node_rank} of {run.num_nodes}: done; {missing} of {planned} shards are "
          "still converting elsewhere (or not started). manifest.json will be written by the "
          "run that completes the last shard, or rerun with --manifest-only once all are "
          "complete.", file=sys.stderr)


def build_manifest(paths: list[str], dataset: str, config: PrepConfig, seconds: float) -> dict:
    """The manifest from the shards' stats files (see :mod:`mmssl.shard_format`)."""
    shards, failed, truncated, kept_seconds = [], Counter(), 0, 0.0
    for path in paths:
        stats = json.loads(stats_path(path).read_text())
        shards.append({"name": Path(path).name, "samples": stats["samples"]})
        failed.update(stats["failed"])
        truncated += stats.get("truncated_kept", 0)  # absent from older shards' stats
        kept_seconds += stats.get("truncated_seconds_kept", 0.0)
    return {
        "dataset": dataset, "shards": shards,
        "total_samples": sum(s["samples"] for s in shards), "failed": dict(failed),
        "truncated_kept": truncated, "truncated_seconds_kept": round(kept_seconds, 3),
        "prep": asdict(config), "wall_seconds": round(seconds, 2),
    }
