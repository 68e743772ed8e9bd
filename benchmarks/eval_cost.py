"""What the demo's evaluation stages cost: retrieval, probes (COIN + AudioSet), report.

    python benchmarks/eval_cost.py [--out DIR] [--json benchmarks/results/eval_cost.json]

Synthesises the demo's YouCook2 (44 validation videos), COIN (24 videos) and AudioSet (48
clips) worlds with the default ``DemoConfig`` (HowTo100M shrunk to 8 videos: only the
tokenizer needs it), prepares them, saves an untrained MMV-FAC checkpoint
(``optim.max_steps=0``; evaluation costs the same for any weights) and times the three
stages the demo runs after training. The machine is shared, so the figure to keep is each
stage's ratio to the retrieval stage, whose quiet-machine time benchmarks/README.md gives.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

from mmssl.config import DemoConfig, load_config
from mmssl.eval.evaluate import classify_checkpoint
from mmssl.eval.report import write_report
from mmssl.eval.retrieval import evaluate_youcook2
from mmssl.prep import audioset, coin, howto100m, youcook2
from mmssl.synth import generate_world
from mmssl.train import train


def prepare(out: Path, config: DemoConfig) -> Path:
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
    return shards


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out")
    parser.add_argument("--json", default="benchmarks/results/eval_cost.json")
    args = parser.parse_args()
    out = Path(args.out or tempfile.mkdtemp(prefix="mmssl-eval-cost-"))
    config = load_config(DemoConfig, None, ["--synth.howto_videos=8",
                                            "--train.optim.max_steps=0"])
    shards = prepare(out, config)
    config.train.data.shards, config.train.output_dir = str(shards / "howto100m"), str(out / "run")
    checkpoint = train(config.train, progress=False)
    config.eval.shards = str(shards / "youcook2")
    config.eval.coin_shards, config.eval.audioset_shards = (str(shards / "coin"),
                                                            str(shards / "audioset"))
    config.eval.audioset_class_names = str(out / "world" / "audioset" /
                                           "class_labels_indices.csv")
    seconds = {}
    for name, run in (("eval (retrieval)", lambda: evaluate_youcook2(checkpoint, config.eval,
                                                                     False)),
                      ("probes", lambda: classify_checkpoint(checkpoint, config.eval)),
                      ("report", lambda: write_report(checkpoint))):
        started = time.time()
        run()
        seconds[name] = round(time.time() - started, 1)
    base = seconds["eval (retrieval)"]
    print(f"{'stage':<20}{'seconds':>9}{'x retrieval':>13}")
    for name, value in seconds.items():
        print(f"{name:<20}{value:>9.1f}{value / base:>13.2f}")
    record = {"machine": {"platform": platform.platform()}, "seconds": seconds,
              "ratio_to_retrieval": {k: round(v / base, 2) for k, v in seconds.items()}}
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(record, indent=1))


if __name__ == "__main__":
    main()
