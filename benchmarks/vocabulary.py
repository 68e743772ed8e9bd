"""Seconds and bytes read to build a fresh training run's vocabulary: the old full pass over
the training tars against merging the word counts prep writes into each shard's stats file.

    python benchmarks/vocabulary.py [--json benchmarks/results/vocabulary.json]
        [--videos 160 480] [--short-sides 48 112 224] [--repeats 3]

Worlds: the demo's synthetic HowTo100M world (160 videos) prepared at short side 48 (the
demo's shards), 112 and 224 — the same narrations in ever more video bytes — and a world of
3× the videos at 48. Three ways to the same vocabulary (checked equal):

- ``pass``: what training did before, ``WordTokenizer.train`` over every narration read
  from the tars' JSON members (``narration_texts``: ``tarfile`` seeking past the media);
- ``stream``: the same pass reading each tar as a stream, as a pass over shard URLs, object
  storage or pipes must (every byte of every tar is read);
- ``counts``: ``shard_word_counts`` (one small stats file per shard) and
  ``WordTokenizer.from_counts``, what training does now.

Each is timed ``--repeats`` times after prep (page cache warm: the most favourable case for
the passes) and the median kept; ``read MB`` is the bytes this process read through read
calls meanwhile (``rchar`` of ``/proc/self/io``, Linux).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tarfile
import tempfile
import time
from pathlib import Path

from mmssl.config import PrepConfig, SynthConfig
from mmssl.data.shards import shard_paths
from mmssl.data.tokenizer import WordTokenizer
from mmssl.data.vocabulary import narration_texts, shard_word_counts
from mmssl.prep import howto100m
from mmssl.shard_format import META_KEY, decode_meta, stats_path
from mmssl.synth import generate_world


def read_bytes() -> int:
    """Bytes this process has read through read calls so far (Linux; 0 elsewhere)."""
    try:
        fields = dict(line.split(": ") for line in Path("/proc/self/io").read_text().splitlines())
    except OSError:
        return 0
    return int(fields["rchar"])


def streamed_texts(directory: str):
    """Every narration, each tar read as a stream from its first byte to its last."""
    for path in shard_paths(directory):
        with tarfile.open(path, mode="r|") as tar:
            for member in tar:
                if member.name.endswith("." + META_KEY):
                    for text in decode_meta(tar.extractfile(member).read())["texts"]:
                        yield text["text"]


WAYS = {
    "pass": lambda shards: WordTokenizer.train(narration_texts([shards])),
    "stream": lambda shards: WordTokenizer.train(streamed_texts(shards)),
    "counts": lambda shards: WordTokenizer.from_counts(shard_word_counts([shards])),
}


def measure(shards: str, repeats: int) -> dict:
    """{way: {"seconds", "read_mb"}} (medians), the vocabularies checked equal."""
    out, vocabularies = {}, {}
    for name, build in WAYS.items():
        seconds, read = [], []
        for _ in range(repeats):
            before, started = read_bytes(), time.perf_counter()
            tokenizer = build(shards)
            seconds.append(time.perf_counter() - started)
            read.append(read_bytes() - before)
        vocabularies[name] = tokenizer.vocabulary()
        out[name] = {"seconds": round(statistics.median(seconds), 4),
                     "read_mb": round(statistics.median(read) / 1e6, 3)}
    assert vocabularies["pass"] == vocabularies["stream"] == vocabularies["counts"]
    out["vocab_size"] = len(vocabularies["counts"])
    return out


def dataset_size(shards: str) -> dict:
    paths = shard_paths(shards)
    return {"shards": len(paths), "narrations": sum(1 for _ in narration_texts([shards])),
            "tar_mb": round(sum(Path(p).stat().st_size for p in paths) / 1e6, 2),
            "stats_mb": round(sum(stats_path(p).stat().st_size for p in paths) / 1e6, 3)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--json", default="benchmarks/results/vocabulary.json")
    parser.add_argument("--videos", type=int, nargs="+", default=[160, 480])
    parser.add_argument("--short-sides", type=int, nargs="+", default=[48, 112, 224])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rows = []
    print(f"{'videos':>7}{'side':>6}{'shards':>8}{'texts':>7}{'tar MB':>9}{'stats MB':>10}"
          + "".join(f"{way + ' s':>10}{way + ' MB':>11}" for way in WAYS))
    with tempfile.TemporaryDirectory(prefix="mmssl-vocabulary-bench-") as tmp:
        for videos in args.videos:
            world = Path(tmp) / f"world{videos}"
            generate_world(world, SynthConfig(howto_videos=videos, youcook_val_videos=1,
                                              youcook_train_videos=0, coin_videos=0,
                                              audioset_clips=0), progress=False)
            sides = args.short_sides if videos == args.videos[0] else args.short_sides[:1]
            for side in sides:
                shards = str(Path(tmp) / f"shards{videos}-{side}")
                howto = world / "howto100m"
                howto100m.prepare(howto / "caption.json", howto / "videos", shards,
                                  PrepConfig(short_side=side), progress=False)
                row = {"videos": videos, "short_side": side, **dataset_size(shards),
                       **measure(shards, args.repeats)}
                rows.append(row)
                print(f"{videos:>7}{side:>6}{row['shards']:>8}{row['narrations']:>7}"
                      f"{row['tar_mb']:>9.1f}"
                      f"{row['stats_mb']:>10.3f}"
                      + "".join(f"{row[w]['seconds']:>10.3f}{row[w]['read_mb']:>11.2f}"
                                for w in WAYS), flush=True)
    record = {"machine": {"platform": platform.platform(), "python": platform.python_version(),
                          "load_average_after": os.getloadavg()},
              "repeats": args.repeats, "rows": rows}
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(record, indent=1))


if __name__ == "__main__":
    main()
