"""Training throughput: the real shard loader against tensors already in memory, and 1 vs
2 processes on CPU (gloo).

    python benchmarks/train_throughput.py [--shards DIR] [--steps 40]
        [--json benchmarks/results/train_throughput.json]

Without ``--shards`` a small synthetic HowTo100M world (40 videos, the demo's prep
settings) is generated and prepared in a temporary directory. The model and data settings
are the demo's (``demo_train_config()``: MMV-FAC with the audio-text term, batch 64,
``data.num_workers`` = 1).

- ``loader``: ``mmssl.train.train`` with the real loader (a DataLoader worker decoding
  shards while the main process trains);
- ``memory``: the same model and loop fed from 8 batches taken from the same stream
  beforehand and cycled (no decoding during training);
- ``1 proc`` / ``2 procs``: the real loader, ``torchrun --nproc_per_node N -m mmssl.train``,
  batch 64 per process (the global batch doubles with 2), 1 torch thread per process;
- ``threads``: the real loader with ``threads: 0`` (the product's choice,
  ``mmssl/data/threads.py``: the cores less the loader workers) against torch's own
  default (one thread per core, what ``threads: 0`` meant before).

Each comparison alternates its runs ``--rounds`` times (the shared machine's load drifts) and
reports medians and the per-round ratios. Steps/s and samples/s are from the run's own
``log.jsonl`` records (every 5 steps), the first two intervals (start-up, first batches)
left out; ``data wait`` is the fraction of
wall time the loop spent blocked on the loader. Goal: loader ≥ 0.9 × memory.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from mmssl.config import PrepConfig, SynthConfig, demo_train_config, save_config
from mmssl.data.tokenizer import WordTokenizer
from mmssl.data.training_stream import TrainingStream
from mmssl.prep.howto100m import prepare
from mmssl.synth.generate import generate_world
from mmssl.train import narration_texts, train

LOG_EVERY, SKIP_INTERVALS = 5, 2


def make_shards(root: Path, videos: int) -> str:
    generate_world(root / "world", SynthConfig(howto_videos=videos, youcook_val_videos=0,
                                               youcook_train_videos=0, coin_videos=0,
                                               audioset_clips=0), progress=False)
    howto = root / "world" / "howto100m"
    out = str(root / "shards")
    prepare(howto / "caption.json", howto / "videos", out, PrepConfig(),
            howto / "HowTo100M_v1.csv", progress=False)
    return out


def bench_config(shards: str, out: Path, steps: int, threads: int = 0):
    config = demo_train_config()
    config.data.shards, config.output_dir = shards, str(out)
    config.optim.max_steps, config.log_every = steps, LOG_EVERY
    config.checkpoint_every, config.tensorboard, config.threads = 0, False, threads
    return config


def summarise(run_dir: Path, batch: int) -> dict:
    records = [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines()]
    kept = [r for r in records if "loss" in r][SKIP_INTERVALS:]
    sps = sum(r["samples_per_s"] for r in kept) / len(kept)
    return {"samples_per_s": sps, "steps_per_s": sps / batch,
            "data_wait_fraction": sum(r["data_wait_fraction"] for r in kept) / len(kept),
            "intervals": len(kept)}


def loader_vs_memory(shards: str, root: Path, steps: int, rounds: int) -> dict:
    """Alternates loader and memory runs ``rounds`` times (the machine's load drifts)."""
    config = bench_config(shards, root / "tok", 0)
    train(config, progress=False)  # trains the tokenizer only (max_steps=0)
    tokenizer = WordTokenizer.load(root / "tok" / "tokenizer.json")
    batches = list(itertools.islice(iter(TrainingStream(config.data, tokenizer)), 8))
    runs = {"loader": [], "memory": []}
    for index in range(rounds):
        for name in runs:
            out = root / f"{name}{index}"
            out.mkdir()
            (out / "tokenizer.json").write_bytes((root / "tok" / "tokenizer.json").read_bytes())
            config = bench_config(shards, out, steps)
            fed = itertools.cycle(batches) if name == "memory" else None
            train(config, progress=False, batches=fed)
            runs[name].append(summarise(out, config.data.batch_size))
    ratios = [a["steps_per_s"] / b["steps_per_s"]
              for a, b in zip(runs["loader"], runs["memory"], strict=True)]
    return {**{name: _median_run(r) for name, r in runs.items()}, "rounds": runs,
            "ratios": ratios, "ratio": statistics.median(ratios)}


def _median_run(runs: list[dict]) -> dict:
    return {key: statistics.median(r[key] for r in runs) for key in runs[0]}


def processes(shards: str, root: Path, steps: int, world: int, index: int) -> dict:
    out = root / f"procs{world}-{index}"
    config = bench_config(shards, out, steps, threads=1)
    path = root / f"procs{world}-{index}.yaml"
    save_config(config, path)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    started = time.time()
    subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                    f"--nproc_per_node={world}", "-m", "mmssl.train", "--config", str(path),
                    "--no-progress"], check=True, env=env, capture_output=True)
    result = summarise(out, config.data.batch_size * world)
    result["wall_s"] = time.time() - started
    return result


def scaling(shards: str, root: Path, steps: int, rounds: int) -> dict:
    runs = {"1": [], "2": []}
    for index in range(rounds):
        for world in runs:
            runs[world].append(processes(shards, root, steps, int(world), index))
    ratios = [b["samples_per_s"] / a["samples_per_s"]
              for a, b in zip(runs["1"], runs["2"], strict=True)]
    return {**{w: _median_run(r) for w, r in runs.items()}, "rounds": runs,
            "ratios_2_over_1": ratios}


def thread_choice(shards: str, root: Path, steps: int, rounds: int) -> dict:
    """``threads: 0`` (auto) against torch's default thread count, alternated."""
    runs = {"auto": [], "torch_default": []}
    for index in range(rounds):
        for name in runs:
            out = root / f"threads-{name}{index}"
            config = bench_config(shards, out, steps,
                                  threads=0 if name == "auto" else os.cpu_count())
            train(config, progress=False)
            runs[name].append({**summarise(out, config.data.batch_size),
                               "threads": torch.get_num_threads()})
    ratios = [a["samples_per_s"] / b["samples_per_s"]
              for a, b in zip(runs["auto"], runs["torch_default"], strict=True)]
    return {**{name: _median_run(r) for name, r in runs.items()}, "rounds": runs,
            "ratios_auto_over_default": ratios}


PARTS = {"data_path": loader_vs_memory, "processes": scaling, "threads": thread_choice}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shards", help="prepared HowTo100M-format shards (else synthesised)")
    parser.add_argument("--videos", type=int, default=40)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--parts", nargs="+", default=list(PARTS), choices=list(PARTS))
    parser.add_argument("--json", default="benchmarks/results/train_throughput.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        shards = args.shards or make_shards(root, args.videos)
        list(narration_texts([shards]))  # warm the page cache for every run alike
        results = {part: PARTS[part](shards, root, args.steps, args.rounds)
                   for part in args.parts}
    results["machine"] = {"platform": platform.platform(), "cpus": os.cpu_count(),
                          "torch": torch.__version__, "load_avg": os.getloadavg(),
                          "gpu": "none lent to this task"}
    results["settings"] = {"steps": args.steps, "rounds": args.rounds, "log_every": LOG_EVERY,
                           "skipped_intervals": SKIP_INTERVALS, "shards": args.shards or
                           f"synthetic, {args.videos} videos"}
    print_results(results)
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(results, indent=1))


def print_results(results: dict) -> None:
    if "data_path" in results:
        data = results["data_path"]
        print(f"{'path':<10}{'steps/s':>9}{'samples/s':>11}{'data wait':>11}")
        for name in ("loader", "memory"):
            r = data[name]
            print(f"{name:<10}{r['steps_per_s']:>9.3f}{r['samples_per_s']:>11.1f}"
                  f"{r['data_wait_fraction']:>11.3f}")
        print(f"loader / memory = {data['ratio']:.3f} (median of rounds: "
              f"{', '.join(f'{r:.3f}' for r in data['ratios'])})")
    if "processes" in results:
        print(f"{'processes':<10}{'samples/s':>11}{'steps/s':>9}{'data wait':>11}")
        for n in ("1", "2"):
            r = results["processes"][n]
            print(f"{n:<10}{r['samples_per_s']:>11.1f}{r['steps_per_s']:>9.3f}"
                  f"{r['data_wait_fraction']:>11.3f}")
        print("2 / 1 processes samples/s: "
              + ", ".join(f"{r:.2f}" for r in results["processes"]["ratios_2_over_1"]))
    if "threads" in results:
        print(f"{'threads':<14}{'count':>6}{'samples/s':>11}{'data wait':>11}")
        for name in ("auto", "torch_default"):
            r = results["threads"][name]
            print(f"{name:<14}{r['threads']:>6.0f}{r['samples_per_s']:>11.1f}"
                  f"{r['data_wait_fraction']:>11.3f}")
        print("auto / torch default samples/s: " + ", ".join(
            f"{r:.2f}" for r in results["threads"]["ratios_auto_over_default"]))


if __name__ == "__main__":
    main()
