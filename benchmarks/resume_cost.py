"""Seconds from starting a training stream at batch N to its first batch: replaying the
plans of the N batches already trained on (what ``TrainingStream`` does) against decoding
them and dropping them (what it did before clips were planned apart from decoding).

    python benchmarks/resume_cost.py [--json benchmarks/results/resume_cost.json]
        [--videos 24] [--starts 0 20 100]

Shards are those of ``loader_throughput.py`` (a synthetic HowTo100M world prepared at
short side 48 and 112), with its two configs (``demo``: 8 frames at 48; ``16x112``: 16
frames at 112), batch 32, one process, one torch thread, no DataLoader worker (in a
resumed run each of W workers replays N / W of the batches, in parallel).

- ``decode``: ``DecodingReplay``, the stream with its replay step materialising every
  skipped plan (opening the mp4, decoding frames and audio, log-mel, tokenising) before
  dropping it — the work the stream did on resume before;
- ``replay``: ``TrainingStream`` as it is — tar reading, decoding the JSON members and
  the random draws of the skipped batches; no mp4 is opened.

Both must yield the same first batch; the script checks it. The table gives wall seconds;
the JSON adds CPU seconds of this process (steadier on a shared machine).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import av
import torch
from loader_throughput import bench_configs

from mmssl.config import DataConfig
from mmssl.data.training_stream import TrainingStream


class DecodingReplay(TrainingStream):
    """The stream resuming the old way: every skipped clip is built, then dropped."""

    def replay(self, plans, count: int) -> None:
        for plan in itertools.islice(plans, count):
            self.clips.materialise(plan)


def first_batch(stream_class, config: DataConfig, tokenizer, start: int
                ) -> tuple[float, float, dict]:
    """Wall and CPU seconds to the first batch of a stream started at batch ``start``, and
    the batch."""
    wall, cpu = time.perf_counter(), time.process_time()
    batch = next(iter(stream_class(config, tokenizer, seed=0, start_batch=start)))
    return time.perf_counter() - wall, time.process_time() - cpu, batch


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--json", default="benchmarks/results/resume_cost.json")
    parser.add_argument("--videos", type=int, default=24)
    parser.add_argument("--starts", type=int, nargs="+", default=[0, 20, 100])
    args = parser.parse_args()
    torch.set_num_threads(1)  # as in a DataLoader worker
    rows = []
    print(f"{'config':<8}{'start batch':>12}{'decode s':>10}{'replay s':>10}{'speed-up':>10}")
    with tempfile.TemporaryDirectory(prefix="mmssl-resume-bench-") as tmp:
        tokenizer, configs = bench_configs(Path(tmp), args.videos)
        for name, side, config in configs:
            for start in args.starts:
                old, old_cpu, old_batch = first_batch(DecodingReplay, config, tokenizer, start)
                new, new_cpu, new_batch = first_batch(TrainingStream, config, tokenizer, start)
                assert old_batch["meta"] == new_batch["meta"]
                assert torch.equal(old_batch["video"], new_batch["video"])
                rows.append({"config": name, "clip_frames": config.clip_frames,
                             "short_side": side, "batch_size": config.batch_size,
                             "start_batch": start,
                             "decode_s": round(old, 3), "replay_s": round(new, 3),
                             "speedup": round(old / new, 1), "decode_cpu_s": round(old_cpu, 3),
                             "replay_cpu_s": round(new_cpu, 3)})
                print(f"{name:<8}{start:>12}{old:>10.2f}{new:>10.2f}{old / new:>10.1f}",
                      flush=True)
    record = {"machine": {"platform": platform.platform(), "python": platform.python_version(),
                          "av": av.__version__, "torch": torch.__version__,
                          "load_average_after": os.getloadavg()},
              "videos": args.videos, "rows": rows}
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(record, indent=1))


if __name__ == "__main__":
    main()
