"""Linear probes and zero-shot classification on COIN- and AudioSet-format shards.

COIN (video): linear probe and zero-shot on tasks (top-1) and on steps (top-1).
AudioSet (audio): linear probe and zero-shot on the classes (mAP).
Each dataset is decoded once; backbone features feed the probes, embeddings the zero-shot
scores (:mod:`mmssl.eval.features`). A method without the needed tower (e.g. no audio
for AudioSet, no text for zero-shot) skips that part and says so in the results.
"""

from __future__ import annotations

from mmssl.config import EvalConfig
from mmssl.eval.classification_tasks import TASKS, read_class_names
from mmssl.eval.features import FeatureExtractor, SegmentFeatures
from mmssl.eval.linear_probe import linear_probe
from mmssl.eval.zero_shot_classification import zero_shot_classify

DATASETS = {"coin": ("video", ("coin_task", "coin_step")), "audioset": ("audio", ("audioset",))}


def evaluate_classification(method, train_config, tokenizer, config: EvalConfig,
                            progress: bool = False) -> tuple[dict, dict[str, SegmentFeatures]]:
    """({dataset: {"linear": {task: metrics}, "zero_shot": {task: metrics}}},
    {dataset: the features extracted}) for each dataset whose shards ``config`` names."""
    method.eval()
    shards = {"coin": config.coin_shards, "audioset": config.audioset_shards}
    class_names = (read_class_names(config.audioset_class_names)
                   if config.audioset_class_names else None)
    results, features = {}, {}
    for dataset, (modality, tasks) in DATASETS.items():
        if not shards[dataset]:
            continue
        if modality not in method.modalities:
            results[dataset] = {"not_run": f"{type(method).__name__} has no {modality} tower"}
            continue
        has_text = "text" in method.modalities
        levels = ("backbone", "embedding") if has_text else ("backbone",)
        extractor = FeatureExtractor(method, train_config.data, tokenizer,
                                     config.probe_windows, levels)
        features[dataset] = extractor.extract(shards[dataset], (modality,), progress=progress)
        results[dataset] = {
            "linear": {t: linear_probe(features[dataset], TASKS[t]) for t in tasks},
            "zero_shot": ({t: zero_shot_classify(extractor, features[dataset], TASKS[t],
                                                 class_names=class_names) for t in tasks}
                          if has_text else {"not_run": "no text tower"}),
            "segments": len(features[dataset]), "skipped": features[dataset].skipped,
            "windows": config.probe_windows,
        }
    return results, features


def format_classification(results: dict) -> str:
    """One line per (dataset, task, kind): metric, chance and segment counts."""
    lines = [f"{'classification':<40}{'metric':>8}{'ours':>8}{'chance':>8}"]
    for dataset, parts in results.items():
        if dataset not in DATASETS:
            continue
        if "not_run" in parts:
            lines.append(f"{dataset:<40}not run: {parts['not_run']}")
            continue
        for kind in ("linear", "zero_shot"):
            for task, m in parts[kind].items():
                if task == "not_run":
                    continue
                metric = "mAP" if "mAP" in m else "top1"
                lines.append(f"{kind.replace('_', '-') + ' ' + task:<40}{metric:>8}"
                             f"{m[metric]:>8.3f}{m['chance']:>8.3f}")
    return "\n".join(lines)
