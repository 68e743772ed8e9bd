"""What evaluation costs: zero-shot retrieval against the model's bare forward pass over the
same windows, one segment per forward pass against ``EvalConfig.batch_size`` clips per
pass; then the demo's three evaluation stages (retrieval, probes, report).

    python benchmarks/eval_cost.py [--out DIR] [--json benchmarks/results/eval_cost.json]
                                   [--batch-sizes 10 64] [--repeats 2]

An ``--out`` that already holds a run of this script (``run/checkpoint``) is reused: only
the timings are redone.

Synthesises the demo's YouCook2 (44 validation videos), COIN (24 videos) and AudioSet (48
clips) worlds with the default ``DemoConfig`` (HowTo100M shrunk to 8 videos: only the
tokenizer needs it), prepares them, saves an untrained MMV-FAC checkpoint
(``optim.max_steps=0``; evaluation costs the same for any weights) and times:

1. Retrieval in memory (:func:`mmssl.eval.retrieval.evaluate_retrieval`) at each batch
   size, its wall time beside the time spent inside ``method.embed`` (the bare forward
   over exactly the windows and sentences evaluated, in the same batches). A batch size
   equal to ``windows`` puts one segment in each forward pass, as evaluation did before
   it read ``batch_size``. ``wall / forward`` is what decoding, cutting and ranking add
   to the model's own work. Batch sizes alternate ``--repeats`` times; the best of each
   is kept (the machine is shared).
2. The stages the demo runs after training, as before: ``evaluate_youcook2`` (writes the
   results), ``classify_checkpoint``, ``write_report``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import tempfile
import time
from pathlib import Path

import torch

from mmssl.checkpoint import load_checkpoint
from mmssl.config import DemoConfig, EvalConfig, load_config
from mmssl.eval.evaluate import classify_checkpoint, evaluate_youcook2
from mmssl.eval.report import write_report
from mmssl.eval.retrieval import evaluate_retrieval
from mmssl.prep import audioset, coin, howto100m, youcook2
from mmssl.synth import generate_world
from mmssl.train import train


def prepare(out: Path, config: DemoConfig) -> None:
    world, shards = out / "world", out / "shards"
    generate_world(world, config.synth, progress=False)
    h = world / "howto100m"
    howto100m.prepare(h / "caption.json", h / "videos", shards / "howto100m", config.prep,
                      h / "HowTo100M_v1.csv", progress=False)
    youcook2.prepare(world / "youcook2" / "youcookii_annotations_trainval.json",
                     world / "youcook2" / "videos", shards / "youcook2", config.prep,
                     ("validation",), progress=False)
    coin.prepare(world / "coin" / "COIN.json", world / "coin" / "videos", shards / "coin",
                 config.prep, progress=False)
    a = world / "audioset"
    audioset.prepare(sorted(a.glob("*_segments.csv")), a / "class_labels_indices.csv", a,
                     shards / "audioset", config.prep, progress=False)


def timed_forward(method) -> list[float]:
    """Make ``method.embed`` add its own seconds to the returned one-element list."""
    seconds = [0.0]
    embed = method.embed

    def timed(modality, x):
        started = time.perf_counter()
        out = embed(modality, x)
        if x.is_cuda:
            torch.cuda.synchronize()
        seconds[0] += time.perf_counter() - started
        return out

    method.embed = timed  # an instance attribute shadows the class's method
    return seconds


def retrieval_against_forward(checkpoint: Path, config: EvalConfig, batch_size: int) -> dict:
    """Wall and forward seconds of one in-memory retrieval at ``batch_size``."""
    method, train_config, tokenizer = load_checkpoint(checkpoint)
    forward = timed_forward(method)
    started = time.perf_counter()
    results, _ = evaluate_retrieval(method, train_config, tokenizer,
                                    dataclasses.replace(config, batch_size=batch_size))
    wall = time.perf_counter() - started
    return {"wall_s": wall, "forward_s": forward[0], "windows": config.windows,
            "clips": results["protocol"]["clips"],
            "R@1": {name: m["R@1"] for name, m in results["metrics"].items()}}


def compare_batch_sizes(checkpoint: Path, config: EvalConfig, batch_sizes: list[int],
                        repeats: int) -> dict[int, dict]:
    """The best (lowest wall) of ``repeats`` runs per batch size, runs interleaved."""
    best: dict[int, dict] = {}
    for _ in range(repeats):
        for size in batch_sizes:
            run = retrieval_against_forward(checkpoint, config, size)
            if size not in best or run["wall_s"] < best[size]["wall_s"]:
                best[size] = run
    return best


def print_batches(rows: dict[int, dict]) -> None:
    print(f"{'retrieval batch (clips)':<26}{'wall s':>9}{'forward s':>11}{'wall/fwd':>10}"
          f"{'x wall at first':>17}")
    first = next(iter(rows.values()))["wall_s"]
    for size, row in rows.items():
        print(f"{size:<26}{row['wall_s']:>9.2f}{row['forward_s']:>11.2f}"
              f"{row['wall_s'] / row['forward_s']:>10.2f}{row['wall_s'] / first:>17.2f}")


def time_stages(checkpoint: Path, config: EvalConfig) -> dict[str, float]:
    seconds = {}
    for name, run in (("eval (retrieval)", lambda: evaluate_youcook2(checkpoint, config,
                                                                     False)),
                      ("probes", lambda: classify_checkpoint(checkpoint, config)),
                      ("report", lambda: write_report(checkpoint))):
        started = time.time()
        run()
        seconds[name] = round(time.time() - started, 1)
    base = seconds["eval (retrieval)"]
    print(f"{'stage':<26}{'seconds':>9}{'x retrieval':>13}")
    for name, value in seconds.items():
        print(f"{name:<26}{value:>9.1f}{value / base:>13.2f}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out")
    parser.add_argument("--json", default="benchmarks/results/eval_cost.json")
    parser.add_argument("--batch-sizes", type=int, nargs="+",
                        help="clips per forward pass (default: windows, then batch_size)")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    out = Path(args.out or tempfile.mkdtemp(prefix="mmssl-eval-cost-"))
    config = load_config(DemoConfig, None, ["--synth.howto_videos=8",
                                            "--train.optim.max_steps=0"])
    shards, checkpoint = out / "shards", out / "run" / "checkpoint"
    if not checkpoint.is_dir():  # an --out of an earlier run is reused as it is
        prepare(out, config)
        config.train.data.shards, config.train.output_dir = (str(shards / "howto100m"),
                                                              str(out / "run"))
        checkpoint = train(config.train, progress=False)
    config.eval.shards = str(shards / "youcook2")
    config.eval.coin_shards, config.eval.audioset_shards = (str(shards / "coin"),
                                                            str(shards / "audioset"))
    config.eval.audioset_class_names = str(out / "world" / "audioset" /
                                           "class_labels_indices.csv")
    batch_sizes = args.batch_sizes or [config.eval.windows, config.eval.batch_size]
    batches = compare_batch_sizes(checkpoint, config.eval, batch_sizes, args.repeats)
    print_batches(batches)
    seconds = time_stages(checkpoint, config.eval)
    base = seconds["eval (retrieval)"]
    record = {"machine": {"platform": platform.platform(), "threads": torch.get_num_threads()},
              "retrieval_by_batch_size": {str(size): {**row, "wall_over_forward": round(
                  row["wall_s"] / row["forward_s"], 2)} for size, row in batches.items()},
              "seconds": seconds,
              "ratio_to_retrieval": {k: round(v / base, 2) for k, v in seconds.items()}}
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(record, indent=1))


if __name__ == "__main__":
    main()
