"""Training clips per second from prepared shards, against decoding the same clips bare.

    python benchmarks/loader_throughput.py [--json benchmarks/results/loader_throughput.json]
        [--videos 24] [--clips 384]

Shards come from a small synthetic HowTo100M world (128×96, 16 fps sources) converted by
``mmssl.prep.howto100m.prepare`` twice: at the default short side 48 and at 112. Configs:

- ``demo``: 8 frames from the 48-pixel shards (``DataConfig`` defaults);
- ``16x112``: 16 frames from the 112-pixel shards (150×112 frames: the loader does not crop
  with ``views=1``, so this is 16 frames at 112 short side, not a 112² crop).

Paths, each on one process with one torch thread, as in a DataLoader worker
(``TrainingStream`` iterated in the main process):

- ``stream``: ``mmssl.data.training_stream.TrainingStream`` — tar reading, shuffle buffers
  of samples and clip plans, an MP4 open per clip, seek + decode + RGB of the clip's
  frames, audio window + log-mel, tokenizing K candidate narrations, normalising,
  collating into batches;
- ``bare``: the same shards read in order with ``tarfile``; per sample one PyAV open and, for
  as many clips as the stream cuts from it (``min(clips_per_sample, narrations)``), a seek
  to a random start and decoding ``clip_frames`` frames to RGB arrays. Nothing else.

Goal: stream ≥ 0.8 × bare clips/s.
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
import torch

from mmssl.config import DataConfig, PrepConfig, SynthConfig
from mmssl.data.shards import shard_paths
from mmssl.data.tokenizer import WordTokenizer
from mmssl.data.training_stream import TrainingStream
from mmssl.media.decode import scaled_size
from mmssl.prep.howto100m import prepare
from mmssl.shard_format import MEDIA_KEY, META_KEY, decode_meta
from mmssl.synth.generate import generate_world

BATCH = 32


def make_shards(root: Path, videos: int) -> dict[int, str]:
    """Synthetic HowTo100M sources → shards at short side 48 and 112; {short side: dir}."""
    generate_world(root / "world", SynthConfig(howto_videos=videos, youcook_val_videos=0,
                                               youcook_train_videos=0), progress=False)
    howto = root / "world" / "howto100m"
    out = {}
    for short_side in (48, 112):
        out[short_side] = str(root / f"shards{short_side}")
        prepare(howto / "caption.json", howto / "videos", out[short_side],
                PrepConfig(short_side=short_side, samples_per_shard=2), progress=False)
    return out


def tokenizer_for(root: Path) -> WordTokenizer:
    captions = json.loads((root / "world" / "howto100m" / "caption.json").read_text())
    return WordTokenizer.train(t for c in captions.values() for t in c["text"])


def bench_configs(root: Path, videos: int
                  ) -> tuple[WordTokenizer, list[tuple[str, int, DataConfig]]]:
    """The tokenizer of a synthetic world and its ``(name, short side, config)`` pairs:
    ``demo`` and ``16x112`` (see the module doc), read in-process."""
    shards = make_shards(root, videos)
    world = SynthConfig()
    # Clips as prepared (the crop spans the frame: no resampling), as the bare decode reads.
    configs = [(name, side, DataConfig(
                    shards=shards[side], clip_frames=frames, batch_size=BATCH, num_workers=0,
                    crop_size=scaled_size(world.width, world.height, side)[::-1]))
               for name, frames, side in (("demo", 8, 48), ("16x112", 16, 112))]
    return tokenizer_for(root), configs


def stream_rate(config: DataConfig, tokenizer: WordTokenizer, clips: int) -> float:
    """Clips per second from ``TrainingStream`` (one warm-up batch not counted)."""
    batches = iter(TrainingStream(config, tokenizer, seed=0))
    next(batches)
    count = max(1, clips // config.batch_size)
    started = time.perf_counter()
    for batch in itertools.islice(batches, count):
        assert batch["video"].shape[2] == config.clip_frames
    return count * config.batch_size / (time.perf_counter() - started)


def bare_clip(container, first: int, count: int, fps: float) -> list:
    """Seek to frame ``first`` and decode ``count`` frames to RGB arrays."""
    stream = container.streams.video[0]
    container.seek((stream.start_time or 0) + int(first / fps / stream.time_base), stream=stream,
                   backward=True)
    images = []
    for frame in container.decode(stream):
        if round(float(frame.time or 0.0) * fps) >= first:
            images.append(frame.to_ndarray(format="rgb24"))
            if len(images) == count:
                break
    return images


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


def bare_rate(config: DataConfig, clips: int) -> float:
    """Clips per second decoding the same kind of clips with nothing but PyAV."""
    rng = random.Random(0)
    done, started = 0, time.perf_counter()
    for data, meta in bare_samples(config.shards):
        fps, frames = float(meta["fps"]), int(meta["num_frames"])
        with av.open(io.BytesIO(data)) as container:
            for _ in range(min(config.clips_per_sample, len(meta["texts"]))):
                first = rng.randrange(max(1, frames - config.clip_frames))
                assert bare_clip(container, first, config.clip_frames, fps)
                done += 1
        if done >= clips:
            return done / (time.perf_counter() - started)
    raise RuntimeError("no samples")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--json", default="benchmarks/results/loader_throughput.json")
    parser.add_argument("--videos", type=int, default=24)
    parser.add_argument("--clips", type=int, default=384)
    args = parser.parse_args()
    # DataLoader workers run torch with one thread; so does this in-process measurement
    # (with two, tiny per-clip ops such as the log-mel and normalising spin on 2 cores).
    torch.set_num_threads(1)
    rows = []
    print(f"{'config':<10}{'stream clips/s':>16}{'bare clips/s':>14}{'ratio':>8}")
    with tempfile.TemporaryDirectory(prefix="mmssl-loader-bench-") as tmp:
        tokenizer, configs = bench_configs(Path(tmp), args.videos)
        for name, side, config in configs:
            stream = stream_rate(config, tokenizer, args.clips)
            bare = bare_rate(config, args.clips)
            rows.append({"config": name, "clip_frames": config.clip_frames, "short_side": side,
                         "batch_size": BATCH, "stream_clips_per_s": round(stream, 1),
                         "bare_clips_per_s": round(bare, 1), "ratio": round(stream / bare, 2)})
            print(f"{name:<10}{stream:>16.1f}{bare:>14.1f}{stream / bare:>8.2f}", flush=True)
    record = {"machine": {"platform": platform.platform(), "python": platform.python_version(),
                          "av": av.__version__}, "clips": args.clips, "rows": rows}
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(record, indent=1))


if __name__ == "__main__":
    main()
