"""Training clips per second from prepared shards, against decoding the same clips bare.

    python benchmarks/loader_throughput.py [--json benchmarks/results/loader_throughput.json]
        [--videos 24] [--clips 1536] [--configs demo 16x112 32x224]

Shards come from a small synthetic HowTo100M world (128×96, 16 fps sources) converted by
``mmssl.prep.howto100m.prepare`` at 8 fps and the short side of each config:

- ``demo``: 8 frames of 48×64 (``DataConfig`` defaults, short side 48);
- ``16x112``: 16 frames, 112² crops of the 150×112 frames (short side 112);
- ``32x224``: 32 frames, 224² crops of the 298×224 frames (short side 224; MIL-NCE's size).

Paths, each on one process with one torch thread, as in a DataLoader worker
(``TrainingStream`` iterated in the main process):

- ``stream``: ``mmssl.data.training_stream.TrainingStream``, each batch handed back once
  taken (``TrainingStream.release``, as the training loop does after its step) — tar
  reading, shuffle buffers of samples and clip plans, an MP4 open per sample, seek +
  decode + RGB of the clip's frames and the crop copied into the batch's row, the audio
  window (a seek to one AAC frame before it: shard audio is encoded for that), the
  candidates' token ids, collating the batch;
- ``bare``: the same shards read in order with ``tarfile``; per sample one PyAV open and,
  for as many clips as the stream cuts from it (``min(clips_per_sample, narrations)``), a
  seek to a random start, ``clip_frames`` frames decoded to planar RGB arrays through one
  reused swscale context and one decoder thread (as :class:`~mmssl.media.ClipReader` does), and
  the clip's audio decoded from a seek to just before it. Nothing else: no crop, no
  tokens, no batch.

- ``worker``: the stream as training reads it, in one DataLoader worker
  (:func:`mmssl.data.worker_loader.worker_loader`): batches in shared memory, handed over;
  this process only takes each batch and hands it back (``TrainingStream.release``, as the
  training loop does after its step), so the worker refills buffers already faulted in.
  Measured per wall second of this process and per CPU second of the worker process
  (``/proc/<pid>/stat``): the second is what one worker core delivers
  (``docs/scaling.md``'s r). ``kept``: the same without the hand-back (a consumer that
  keeps its batches), every batch in fresh shared memory.

The stream and the bare take turns every ``CHUNK`` (4) batches — 128 clips each — inside
one round, so both see the same machine: on the shared machine of ``benchmarks/README.md``
its speed drifts by a quarter over seconds, and a round of each in turn (this script's
method before) moved their ratio by as much. Each figure is clips per wall second and per
CPU second of the process doing the work; the rates printed are medians over ``--rounds``,
each ratio the median of the rounds' own ratios (paired), with its range in the JSON. The
worker's ratios pair it with the bare of its round, measured seconds before. Goal: stream
and worker ≥ 0.8 × bare.

The stream is measured in its steady state: its first ``shuffle_buffer`` (256) plans open
the readers of ~64 samples whose other clips come later, so a short run (the 384 clips
this script took before) charges it ~50 opens that a long one spreads over the epoch.
"""

from __future__ import annotations

import argparse
import io
import itertools
import json
import os
import platform
import random
import tarfile
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np
import torch
from av.video.reformatter import VideoReformatter

from mmssl.config import DataConfig, PrepConfig, SynthConfig
from mmssl.data.shards import shard_paths
from mmssl.data.tokenizer import WordTokenizer
from mmssl.data.training_stream import TrainingStream
from mmssl.data.worker_loader import worker_loader
from mmssl.prep.howto100m import prepare
from mmssl.shard_format import AUDIO_RATE, MEDIA_KEY, META_KEY, decode_meta
from mmssl.synth.generate import generate_world

BATCH = 32
# name: (clip frames, prepared short side, crop (height, width))
CONFIGS = {"demo": (8, 48, (48, 64)), "16x112": (16, 112, (112, 112)),
           "32x224": (32, 224, (224, 224))}
CHUNK = 4  # batches the stream and the bare each take in turn (interleaved_rates)
AUDIO_PREROLL_SECONDS = 0.2  # as ClipReader: AAC frames overlap, decode from a bit earlier


def make_shards(root: Path, videos: int, short_sides) -> dict[int, str]:
    """Synthetic HowTo100M sources → shards at each short side; {short side: dir}."""
    generate_world(root / "world", SynthConfig(howto_videos=videos, youcook_val_videos=0,
                                               youcook_train_videos=0), progress=False)
    howto = root / "world" / "howto100m"
    out = {}
    for short_side in sorted(set(short_sides)):
        out[short_side] = str(root / f"shards{short_side}")
        prepare(howto / "caption.json", howto / "videos", out[short_side],
                PrepConfig(short_side=short_side, samples_per_shard=2), progress=False)
    return out


def tokenizer_for(root: Path) -> WordTokenizer:
    captions = json.loads((root / "world" / "howto100m" / "caption.json").read_text())
    return WordTokenizer.train(t for c in captions.values() for t in c["text"])


def bench_configs(root: Path, videos: int, names=("demo", "16x112")
                  ) -> tuple[WordTokenizer, list[tuple[str, int, DataConfig]]]:
    """The tokenizer of a synthetic world and its ``(name, short side, config)`` triples
    for the configs ``names`` (see the module doc), read in-process."""
    shards = make_shards(root, videos, [CONFIGS[name][1] for name in names])
    configs = [(name, CONFIGS[name][1], DataConfig(
                    shards=shards[CONFIGS[name][1]], clip_frames=CONFIGS[name][0],
                    batch_size=BATCH, num_workers=0, crop_size=CONFIGS[name][2]))
               for name in names]
    return tokenizer_for(root), configs


class Clock:
    """Wall and CPU seconds (``time.process_time``: this process's work only, whatever
    else the machine runs) spent inside ``with clock:`` blocks, summed."""

    def __init__(self):
        self.wall = self.cpu = 0.0

    def __enter__(self):
        self._wall, self._cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall += time.perf_counter() - self._wall
        self.cpu += time.process_time() - self._cpu


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far, all its threads
    (``/proc/<pid>/stat``, in clock ticks)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Worker:
    """``TrainingStream`` in one DataLoader worker, as training reads it
    (:func:`mmssl.data.worker_loader.worker_loader`): batches built in shared memory and
    handed to this process, which takes them and, with ``release``, hands each back at once
    as the training loop does after its step. :meth:`take` counts the CPU time the worker
    spends making the batches taken."""

    def __init__(self, config: DataConfig, tokenizer: WordTokenizer, release: bool):
        self.stream, self.release = TrainingStream(config, tokenizer, seed=0), release
        self.batches = iter(worker_loader(self.stream, workers=1))
        for _ in range(2):  # warm-up
            next(self.batches)
        self.pid = self.batches._workers[0].pid  # benchmark only: DataLoader's worker
        self.cpu = 0.0

    def idle_cpu_seconds(self) -> float:
        """The worker's CPU seconds once it has gone idle: its prefetch queue full again,
        no CPU time added over three polls 20 ms apart."""
        last, still = process_cpu_seconds(self.pid), 0
        while still < 3:
            time.sleep(0.02)
            now = process_cpu_seconds(self.pid)
            last, still = now, still + 1 if now == last else 0
        return last

    def take(self, count: int) -> None:
        """Take ``count`` batches, adding the CPU time the worker spends refilling its
        queue (exactly those batches) to ``self.cpu``."""
        start = self.idle_cpu_seconds()
        for batch in itertools.islice(self.batches, count):
            assert batch["video"].ndim == 5
            if self.release:
                self.stream.release(batch)
        self.cpu += self.idle_cpu_seconds() - start


def interleaved_rates(config: DataConfig, tokenizer: WordTokenizer, clips: int
                      ) -> dict[str, float]:
    """Clips per second of each path, taking turns every ``CHUNK`` batches (``CHUNK ×
    batch_size`` clips each) so that all see the same machine — its speed drifts by a
    quarter over seconds here: the stream in this process (wall and CPU seconds, each batch
    handed back once taken as the training loop does; one warm-up batch not counted), the
    bare decode (wall and CPU), and per CPU second of its worker, the stream in a DataLoader
    worker whose batches are handed back (``worker``) or kept (``kept``). A worker works
    only while its own turn refills its queue, so the others run alone."""
    stream = TrainingStream(config, tokenizer, seed=0)
    batches, bare = iter(stream), bare_clips(config)
    next(batches)
    workers = {"worker": Worker(config, tokenizer, release=True),
               "kept": Worker(config, tokenizer, release=False)}
    stream_clock, bare_clock = Clock(), Clock()
    chunk, done = CHUNK * config.batch_size, 0
    while done < clips:
        with stream_clock:
            for batch in itertools.islice(batches, CHUNK):
                assert batch["video"].shape[2] == config.clip_frames
                stream.release(batch)
        with bare_clock:
            assert sum(1 for _ in itertools.islice(bare, chunk)) == chunk
        for worker in workers.values():
            worker.take(CHUNK)
        done += chunk
    return {"stream_clips_per_s": done / stream_clock.wall,
            "stream_clips_per_cpu_s": done / stream_clock.cpu,
            "bare_clips_per_s": done / bare_clock.wall,
            "bare_clips_per_cpu_s": done / bare_clock.cpu,
            "worker_clips_per_cpu_s": done / workers["worker"].cpu,
            "worker_kept_clips_per_cpu_s": done / workers["kept"].cpu}


def bare_frames(container, reformatter: VideoReformatter, first: int, count: int,
                fps: float) -> list[np.ndarray]:
    """Seek to frame ``first`` and decode ``count`` frames to RGB planes."""
    stream = container.streams.video[0]
    container.seek((stream.start_time or 0) + int(first / fps / stream.time_base),
                   stream=stream, backward=True)
    images = []
    for frame in container.decode(stream):
        if round(float(frame.time or 0.0) * fps) >= first:
            # Planar RGB, as ClipReader converts (the same values as rgb24, cheaper).
            image = reformatter.reformat(frame, format="gbrp", threads=1)
            images.append([np.frombuffer(plane, np.uint8) for plane in image.planes])
            if len(images) == count:
                break
    return images


def bare_audio(container, start: float, seconds: float) -> list[np.ndarray]:
    """Seek to just before ``start`` and decode the audio frames up to ``start + seconds``."""
    stream = container.streams.audio[0]
    preroll = max(start - AUDIO_PREROLL_SECONDS, 0.0)
    container.seek((stream.start_time or 0) + int(preroll / stream.time_base), stream=stream,
                   backward=True)
    pieces = []
    for frame in container.decode(stream):
        if float(frame.time or 0.0) >= start + seconds:
            break
        pieces.append(frame.to_ndarray())
    return pieces


def bare_samples(shards: str):
    """(mp4 bytes, meta) of every sample, shard after shard, endlessly."""
    for path in itertools.cycle(shard_paths(shards)):
        with tarfile.open(path) as tar:
            members = {}
            for member in tar.getmembers():
                key, _, ext = member.name.partition(".")
                members.setdefault(key, {})[ext] = tar.extractfile(member).read()
        for parts in members.values():
            if MEDIA_KEY in parts and META_KEY in parts:
                yield parts[MEDIA_KEY], decode_meta(parts[META_KEY])


def bare_clips(config: DataConfig) -> Iterator[None]:
    """Decodes the same kind of clips as the stream, video and audio, with nothing but
    PyAV and one swscale context; yields after each clip, endlessly."""
    rng = random.Random(0)
    reformatter = VideoReformatter()
    for data, meta in bare_samples(config.shards):
        fps, frames = float(meta["fps"]), int(meta["num_frames"])
        with av.open(io.BytesIO(data)) as container:
            container.streams.video[0].codec_context.thread_count = 1  # as ClipReader
            for _ in range(min(config.clips_per_sample, len(meta["texts"]))):
                first = rng.randrange(max(1, frames - config.clip_frames))
                assert bare_frames(container, reformatter, first, config.clip_frames, fps)
                if container.streams.audio:
                    assert bare_audio(container, first / fps, config.clip_frames / fps)
                yield


FIELDS = ("stream_clips_per_s", "stream_clips_per_cpu_s", "bare_clips_per_s",
          "bare_clips_per_cpu_s", "worker_clips_per_cpu_s", "worker_kept_clips_per_cpu_s")
# ratio name: (numerator, denominator) among FIELDS, each taken within one round
RATIOS = {"ratio": ("stream_clips_per_s", "bare_clips_per_s"),
          "cpu_ratio": ("stream_clips_per_cpu_s", "bare_clips_per_cpu_s"),
          "worker_cpu_ratio": ("worker_clips_per_cpu_s", "bare_clips_per_cpu_s"),
          "worker_kept_cpu_ratio": ("worker_kept_clips_per_cpu_s", "bare_clips_per_cpu_s")}


def measure(config: DataConfig, tokenizer: WordTokenizer, clips: int, rounds: int) -> dict:
    """Every figure of one config: medians over ``rounds`` of the rates (FIELDS) and of
    each round's ratios (RATIOS: paired), with their ranges, and the rounds."""
    runs = [interleaved_rates(config, tokenizer, clips) for _ in range(rounds)]
    row = {field: round(float(np.median([run[field] for run in runs])), 1) for field in FIELDS}
    for name, (top, bottom) in RATIOS.items():
        each = [run[top] / run[bottom] for run in runs]
        row[name] = round(float(np.median(each)), 2)
        row[f"{name}_range"] = [round(min(each), 2), round(max(each), 2)]
    row["rounds"] = [{field: round(run[field], 1) for field in FIELDS} for run in runs]
    return row


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--json", default="benchmarks/results/loader_throughput.json")
    parser.add_argument("--videos", type=int, default=24)
    parser.add_argument("--clips", type=int, default=1536)
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    parser.add_argument("--rounds", type=int, default=5, help="rounds; medians kept")
    args = parser.parse_args()
    # DataLoader workers run torch with one thread; so does this in-process measurement.
    torch.set_num_threads(1)
    rows = []
    print(f"{'config':<10}{'stream/s':>10}{'bare/s':>9}{'ratio':>7}{'CPU ratio':>11}"
          f"{'worker/CPU s':>14}{'worker CPU ratio':>18}{'kept CPU ratio':>16}")
    with tempfile.TemporaryDirectory(prefix="mmssl-loader-bench-") as tmp:
        tokenizer, configs = bench_configs(Path(tmp), args.videos, args.configs)
        for name, side, config in configs:
            row = {"config": name, "clip_frames": config.clip_frames, "short_side": side,
                   "crop_size": list(config.crop_size), "batch_size": BATCH,
                   **measure(config, tokenizer, args.clips, args.rounds)}
            rows.append(row)
            print(f"{name:<10}{row['stream_clips_per_s']:>10.1f}{row['bare_clips_per_s']:>9.1f}"
                  f"{row['ratio']:>7.2f}{row['cpu_ratio']:>11.2f}"
                  f"{row['worker_clips_per_cpu_s']:>14.1f}{row['worker_cpu_ratio']:>18.2f}"
                  f"{row['worker_kept_cpu_ratio']:>16.2f}", flush=True)
    record = {"machine": {"platform": platform.platform(), "python": platform.python_version(),
                          "av": av.__version__}, "clips": args.clips, "chunk_batches": CHUNK,
              "audio_rate": AUDIO_RATE, "rows": rows}
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(record, indent=1))


if __name__ == "__main__":
    main()
