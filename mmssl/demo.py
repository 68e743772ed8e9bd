"""The main job on the synthetic world: synth → prep → train → eval → report, offline.

Everything lands under one output directory::

    world/      the synthetic HowTo100M- and YouCook2-format downloads
    shards/     howto100m/, youcook2/, coin/ and audioset/ prepared shards (with manifests)
    run/        training run: config, tokenizer, log.jsonl, checkpoint/ (+ eval results,
                and checkpoint/report/: report.md, report.json, PNG plots)
    demo_summary.json
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from mmssl.config import DemoConfig, to_dict
from mmssl.eval.evaluate import classify_checkpoint, evaluate_youcook2
from mmssl.eval.report import format_classification, format_table, write_report
from mmssl.prep import audioset, coin, howto100m, youcook2
from mmssl.synth import generate_world
from mmssl.train import train


def run_demo(config: DemoConfig, out: str | Path, progress: bool = True) -> dict:
    """Run every stage; returns the summary (stage seconds, results) also written to disk."""
    out = Path(out)
    world, shards = out / "world", out / "shards"
    timings: dict[str, float] = {}

    def stage(name, function, *args, **kwargs):
        started = time.time()
        result = function(*args, **kwargs)
        timings[name] = round(time.time() - started, 1)
        print(f"[demo] {name}: {timings[name]} s", flush=True)
        return result

    stage("synth", generate_world, world, config.synth, progress)
    manifests = prepare_world(config, world, shards, progress, stage)
    howto, youcook = manifests.pop("howto100m"), manifests.pop("youcook2")
    others = manifests
    config.train.data.shards = str(shards / "howto100m")
    config.train.output_dir = str(out / "run")
    config.eval.shards = str(shards / "youcook2")
    checkpoint = stage("train", train, config.train, progress)
    results = stage("eval", evaluate_youcook2, checkpoint, config.eval, progress)
    probes = {}
    if others:  # linear probes and zero-shot classification on COIN / AudioSet
        config.eval.coin_shards = str(shards / "coin") if "coin" in others else ""
        config.eval.audioset_shards = str(shards / "audioset") if "audioset" in others else ""
        if "audioset" in others:
            config.eval.audioset_class_names = str(world / "audioset" /
                                                   "class_labels_indices.csv")
        probes = stage("probes", classify_checkpoint, checkpoint, config.eval, progress)
    report = stage("report", write_report, checkpoint)
    summary = {
        "seconds": timings, "total_seconds": round(sum(timings.values()), 1),
        "samples": {"howto100m": howto["total_samples"], "youcook2": youcook["total_samples"],
                    **{name: m["total_samples"] for name, m in others.items()}},
        "skipped": {"howto100m": howto["failed"], "youcook2": youcook["failed"],
                    **{name: m["failed"] for name, m in others.items()}},
        "checkpoint": str(checkpoint), "results": results["metrics"],
        "results_to_text": results["metrics_to_text"],
        "classification": _headline(probes),
        "report": str(report), "config": to_dict(config),
    }
    (out / "demo_summary.json").write_text(json.dumps(summary, indent=1))
    print(format_table(results))
    if probes:
        print(format_classification(probes))
    print(f"[demo] report: {report / 'report.md'}")
    print(f"[demo] total {summary['total_seconds']} s; everything is under {out}")
    return summary


def _headline(probes: dict) -> dict:
    """{"<dataset> <kind> <task>": {"top1"|"mAP": x, "chance": y}} from the probe results."""
    out = {}
    for dataset, part in probes.items():
        for kind in ("linear", "zero_shot"):
            for task, metrics in part.get(kind, {}).items() if isinstance(part, dict) else ():
                if isinstance(metrics, dict):
                    out[f"{dataset} {kind} {task}"] = {
                        k: v for k, v in metrics.items() if k in ("top1", "mAP", "chance")}
    return out


def prepare_world(config: DemoConfig, world: Path, shards: Path, progress: bool = False,
                  stage=None) -> dict[str, dict]:
    """Shards of every part of the synthetic world at ``world`` that ``config.synth`` makes
    (HowTo100M and YouCook2's ``config.eval.subset``; COIN and AudioSet when it has them),
    under ``shards/<dataset>``: ``{dataset: manifest}``. ``stage(name, function, *args,
    **kwargs)`` runs each prep (the demo times them)."""
    stage = stage or (lambda _name, function, *args, **kwargs: function(*args, **kwargs))
    manifests = {
        "howto100m": stage("prep howto100m", howto100m.prepare,
                           world / "howto100m" / "caption.json", world / "howto100m" / "videos",
                           shards / "howto100m", config.prep,
                           world / "howto100m" / "HowTo100M_v1.csv", progress=progress),
        "youcook2": stage("prep youcook2", youcook2.prepare,
                          world / "youcook2" / "youcookii_annotations_trainval.json",
                          world / "youcook2" / "videos", shards / "youcook2", config.prep,
                          (config.eval.subset,), progress=progress)}
    if config.synth.coin_videos:
        manifests["coin"] = stage("prep coin", coin.prepare, world / "coin" / "COIN.json",
                                  world / "coin" / "videos", shards / "coin", config.prep,
                                  progress=progress)
    if config.synth.audioset_clips:
        root = world / "audioset"
        manifests["audioset"] = stage(
            "prep audioset", audioset.prepare, sorted(root.glob("*_segments.csv")),
            root / "class_labels_indices.csv", root, shards / "audioset", config.prep,
            progress=progress)
    return manifests
