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
  Its ratio to ``bare`` is what one worker core delivers (``docs/scaling.md``'s r).
  ``kept``: the same without the hand-back (a consumer that keeps its batches), every batch
  in fresh shared memory.

Each figure is clips per wall second and per CPU second of the process (the second is
steadier on a shared machine: it counts this process's work only); stream and bare
alternate ``--rounds`` times; the rates printed are medians, the ratios the median of each
round's stream / bare (paired: measured one right after the other). Goal: stream ≥ 0.8 ×
bare.

The stream is measured in its steady state: its first ``shuffle_buffer`` (256) plans open
the readers of ~64 samples whose other clips come later, so a short run (the 384 clips
this script took before) charges it ~50 opens that a long one spreads over the epoch.
"""

from __future__ import annotations

import argparse
import io
import itertools
import json
import platform
import random
import tarfile
import tempfile
import time
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


class Rate:
    """Clips per wall second and per CPU second of this process (``time.process_time``:
    what the work costs whatever else the machine runs) since it was made."""

    def __init__(self):
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def of(self, clips: int) -> tuple[float, float]:
        return (clips / (time.perf_counter() - self.wall),
                clips / (time.process_time() - self.cpu))


def stream_rate(config: DataConfig, tokenizer: WordTokenizer, clips: int
                ) -> tuple[float, float]:
    """Clips per second (wall, CPU) from ``TrainingStream`` (one warm-up batch not
    counted), each batch handed back once taken, as the training loop does after its step."""
    stream = TrainingStream(config, tokenizer, seed=0)
    batches = iter(stream)
    next(batches)
    count = max(1, clips // config.batch_size)
    rate = Rate()
    for batch in itertools.islice(batches, count):
        assert batch["video"].shape[2] == config.clip_frames
        stream.release(batch)
    return rate.of(count * config.batch_size)


def worker_rate(config: DataConfig, tokenizer: WordTokenizer, clips: int,
                release: bool = True) -> float:
    """Clips per wall second of ``TrainingStream`` in one DataLoader worker (as training
    reads it, :func:`mmssl.data.worker_loader.worker_loader`): batches built in shared
    memory and handed to this process, which only takes them (two warm-up batches) and,
    with ``release``, hands each back at once as the training loop does after its step."""
    stream = TrainingStream(config, tokenizer, seed=0)
    batches = iter(worker_loader(stream, workers=1))
    for _ in range(2):
        next(batches)
    count = max(1, clips // config.batch_size)
    rate = Rate()
    for batch in itertools.islice(batches, count):
        assert batch["video"].shape[2] == config.clip_frames
        if release:
            stream.release(batch)
    return rate.of(count * config.batch_size)[0]


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


def bare_rate(config: DataConfig, clips: int) -> tuple[float, float]:
    """Clips per second (wall, CPU) decoding the same kind of clips, video and audio, with
    nothing but PyAV and one swscale context."""
    rng = random.Random(0)
    reformatter = VideoReformatter()
    done, rate = 0, Rate()
    for data, meta in bare_samples(config.shards):
        fps, frames = float(meta["fps"]), int(meta["num_frames"])
        with av.open(io.BytesIO(data)) as container:
            container.streams.video[0].codec_context.thread_count = 1  # as ClipReader
            for _ in range(min(config.clips_per_sample, len(meta["texts"]))):
                first = rng.randrange(max(1, frames - config.clip_frames))
                assert bare_frames(container, reformatter, first, config.clip_frames, fps)
                if container.streams.audio:
                    assert bare_audio(container, first / fps, config.clip_frames / fps)
                done += 1
        if done >= clips:
            return rate.of(done)
    raise RuntimeError("no samples")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--json", default="benchmarks/results/loader_throughput.json")
    parser.add_argument("--videos", type=int, default=24)
    parser.add_argument("--clips", type=int, default=1536)
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    parser.add_argument("--rounds", type=int, default=5,
                        help="stream and bare alternate this many times; medians kept")
    args = parser.parse_args()
    # DataLoader workers run torch with one thread; so does this in-process measurement.
    torch.set_num_threads(1)
    rows = []
    print(f"{'config':<10}{'stream clips/s':>16}{'bare clips/s':>14}{'ratio':>8}"
          f"{'stream /CPU s':>15}{'bare /CPU s':>13}{'CPU ratio':>11}"
          f"{'worker clips/s':>16}{'worker ratio':>14}{'kept clips/s':>13}{'kept ratio':>12}")
    with tempfile.TemporaryDirectory(prefix="mmssl-loader-bench-") as tmp:
        tokenizer, configs = bench_configs(Path(tmp), args.videos, args.configs)
        for name, side, config in configs:
            runs = []
            for _ in range(args.rounds):
                runs.append((*stream_rate(config, tokenizer, args.clips),
                             *bare_rate(config, args.clips),
                             worker_rate(config, tokenizer, args.clips),
                             worker_rate(config, tokenizer, args.clips, release=False)))
            stream, stream_cpu, bare, bare_cpu, worker, kept = np.median(
                np.array(runs), axis=0).tolist()
            # Each round's stream and bare ran one after the other: their ratio is paired,
            # steadier than a ratio of medians when the machine's speed drifts.
            paired = float(np.median([run[0] / run[2] for run in runs]))
            paired_cpu = float(np.median([run[1] / run[3] for run in runs]))
            paired_worker = float(np.median([run[4] / run[2] for run in runs]))
            paired_kept = float(np.median([run[5] / run[2] for run in runs]))
            rows.append({"config": name, "clip_frames": config.clip_frames, "short_side": side,
                         "crop_size": list(config.crop_size), "batch_size": BATCH,
                         "stream_clips_per_s": round(stream, 1),
                         "bare_clips_per_s": round(bare, 1), "ratio": round(paired, 2),
                         "ratio_of_medians": round(stream / bare, 2),
                         "stream_clips_per_cpu_s": round(stream_cpu, 1),
                         "bare_clips_per_cpu_s": round(bare_cpu, 1),
                         "cpu_ratio": round(paired_cpu, 2),
                         "worker_clips_per_s": round(worker, 1),
                         "worker_ratio": round(paired_worker, 2),
                         "worker_kept_clips_per_s": round(kept, 1),
                         "worker_kept_ratio": round(paired_kept, 2),
                         "rounds": [[round(value, 1) for value in run] for run in runs]})
            print(f"{name:<10}{stream:>16.1f}{bare:>14.1f}{paired:>8.2f}"
                  f"{stream_cpu:>15.1f}{bare_cpu:>13.1f}{paired_cpu:>11.2f}"
                  f"{worker:>16.1f}{paired_worker:>14.2f}{kept:>13.1f}{paired_kept:>12.2f}",
                  flush=True)
    record = {"machine": {"platform": platform.platform(), "python": platform.python_version(),
                          "av": av.__version__}, "clips": args.clips, "audio_rate": AUDIO_RATE,
              "rows": rows}
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(record, indent=1))


if __name__ == "__main__":
    main()
