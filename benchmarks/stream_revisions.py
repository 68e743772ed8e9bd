"""The training stream of this checkout against that of an earlier git revision, in one
process, taking turns every few batches: a change's effect on the loader, resolved to a
percent or two on a machine whose speed drifts by a quarter over seconds.

    python benchmarks/stream_revisions.py REVISION [--config 16x112] [--chunks 40]
        [--json benchmarks/results/stream_revisions.json]

``REVISION``'s ``mmssl`` is exported (``git archive``) into a temporary directory as the
package ``mmssl_then`` (its imports renamed), so both streams run side by side on the same
shards of ``loader_throughput.py``'s synthetic world, each with its own tokenizer trained on
the same captions. Each takes ``--chunk`` batches (of 32 clips, one torch thread, each
batch handed back once taken) in turn, ``--chunks`` times after 10 warm-up batches; the
figure is CPU seconds per clip of each (``time.process_time``), and the ratio now / then
both over all chunks and as the median of the chunks' own ratios.

Run against the checkout's own ``HEAD`` to see the method's resolution (the ratio of one
code with itself: 0.99–1.02 on the machine of ``benchmarks/README.md``).
"""

from __future__ import annotations

import argparse
import importlib
import io
import itertools
import json
import re
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from loader_throughput import BATCH, CONFIGS, make_shards

REPOSITORY = Path(__file__).resolve().parent.parent


def export_package(revision: str, directory: Path) -> str:
    """``mmssl`` at ``revision`` as the package ``mmssl_then`` under ``directory``."""
    archive = subprocess.run(["git", "archive", revision, "mmssl"], cwd=REPOSITORY,
                             check=True, capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(directory, filter="data")
    (directory / "mmssl").rename(directory / "mmssl_then")
    for path in (directory / "mmssl_then").rglob("*.py"):
        path.write_text(re.sub(r"\bmmssl\b(?=[.\s])", "mmssl_then", path.read_text()))
    sys.path.insert(0, str(directory))
    return "mmssl_then"


def stream_of(package: str, shards: str, captions: Path, name: str):
    """A warmed-up ``TrainingStream`` of ``package`` and its batch iterator."""
    config_module = importlib.import_module(f"{package}.config")
    tokenizer_module = importlib.import_module(f"{package}.data.tokenizer")
    stream_module = importlib.import_module(f"{package}.data.training_stream")
    texts = [t for c in json.loads(captions.read_text()).values() for t in c["text"]]
    tokenizer = tokenizer_module.WordTokenizer.train(texts)
    frames, _, crop = CONFIGS[name]
    config = config_module.DataConfig(shards=shards, clip_frames=frames, batch_size=BATCH,
                                      num_workers=0, crop_size=crop)
    stream = stream_module.TrainingStream(config, tokenizer, seed=0)
    batches = iter(stream)
    for batch in itertools.islice(batches, 10):
        stream.release(batch)
    return stream, batches


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("revision")
    parser.add_argument("--config", default="16x112", choices=list(CONFIGS))
    parser.add_argument("--chunks", type=int, default=40)
    parser.add_argument("--chunk", type=int, default=3, help="batches per turn")
    parser.add_argument("--videos", type=int, default=24)
    parser.add_argument("--json", default="benchmarks/results/stream_revisions.json")
    args = parser.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory(prefix="mmssl-revisions-") as tmp:
        root = Path(tmp)
        then = export_package(args.revision, root / "then")
        side = CONFIGS[args.config][1]
        shards = make_shards(root, args.videos, [side])[side]
        captions = root / "world" / "howto100m" / "caption.json"
        streams = {"then": stream_of(then, shards, captions, args.config),
                   "now": stream_of("mmssl", shards, captions, args.config)}
        seconds = {name: [] for name in streams}
        for _ in range(args.chunks):
            for name, (stream, batches) in streams.items():
                start = time.process_time()
                for batch in itertools.islice(batches, args.chunk):
                    stream.release(batch)
                seconds[name].append(time.process_time() - start)
    clips = args.chunks * args.chunk * BATCH
    then, now = np.array(seconds["then"]), np.array(seconds["now"])
    record = {"revision": args.revision, "config": args.config, "clips_each": clips,
              "then_ms_per_clip": round(then.sum() / clips * 1e3, 3),
              "now_ms_per_clip": round(now.sum() / clips * 1e3, 3),
              "now_over_then": round(now.sum() / then.sum(), 3),
              "now_over_then_median_chunk": round(float(np.median(now / then)), 3)}
    print(f"{'revision':<12}{'then ms/clip':>14}{'now ms/clip':>13}{'now/then':>10}"
          f"{'median chunk':>14}")
    print(f"{args.revision[:12]:<12}{record['then_ms_per_clip']:>14.3f}"
          f"{record['now_ms_per_clip']:>13.3f}{record['now_over_then']:>10.3f}"
          f"{record['now_over_then_median_chunk']:>14.3f}")
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(record, indent=1))


if __name__ == "__main__":
    main()
