"""Classification benchmarks in the shard format: what is a class, which split is which,
how predictions are scored.

=========  ========  ================  ==============  ============  ===========
task       modality  label (shard)     train subset    test subset   metric
=========  ========  ================  ==============  ============  ===========
coin_task  video     labels.task_id    training        testing       top-1
coin_step  video     labels.step_id    training        testing       top-1
audioset   audio     labels.indices    balanced_train  eval          mAP
=========  ========  ================  ==============  ============  ===========

Class names (for zero-shot prompts) come from the shards where they are there (COIN's
CamelCase ``task`` split into words, a step's label text) and, for AudioSet, from
``class_labels_indices.csv`` (``index,mid,display_name``) when given, else the mids.

Scoring: top-1 accuracy (single-label) and mAP (multi-label). Average precision of one
class, scores s (N,), positives P (the threshold at each positive takes in every item that
ties with it, as scikit-learn's ``average_precision_score``)::

    AP = (1/|P|) · Σ_{i ∈ P} #{j ∈ P : s_j ≥ s_i} / #{j : s_j ≥ s_i}

mAP is the mean of AP over the classes with at least one positive (AudioSet's convention;
a class with no positive in the test set has no AP).
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor


@dataclass(frozen=True)
class ClassificationTask:
    name: str
    modality: str
    train_subset: str
    test_subset: str
    multilabel: bool


TASKS = {
    "coin_task": ClassificationTask("coin_task", "video", "training", "testing", False),
    "coin_step": ClassificationTask("coin_step", "video", "training", "testing", False),
    "audioset": ClassificationTask("audioset", "audio", "balanced_train", "eval", True),
}
# Each dataset's shards hold the tasks of one modality.
DATASETS = {"coin": ("video", ("coin_task", "coin_step")), "audioset": ("audio", ("audioset",))}


def words_of(camel: str) -> str:
    """``"ReplaceCDDriveWithSSD"`` → ``"replace cd drive with ssd"`` (COIN class names)."""
    return " ".join(re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+", camel)).lower()


def read_class_names(path: str | Path) -> dict[int, str]:
    """AudioSet ``class_labels_indices.csv`` → {index: display_name}."""
    path = Path(path)
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if not {"index", "display_name"} <= set(reader.fieldnames or []):
            raise ValueError(f"{path}: expected columns index,mid,display_name, got "
                             f"{reader.fieldnames}")
        return {int(row["index"]): row["display_name"] for row in reader}


@dataclass
class ClassVocabulary:
    """Classes of a task: ``ids[c]`` the dataset's label, ``names[c]`` its text."""

    ids: list
    names: list[str]

    def __len__(self) -> int:
        return len(self.ids)


def segment_label(task: ClassificationTask, meta: dict):
    """The dataset label(s) of one segment; raises naming the sample when absent."""
    labels = meta.get("labels", {})
    key = {"coin_task": "task_id", "coin_step": "step_id", "audioset": "indices"}[task.name]
    if key not in labels:
        raise ValueError(f"{meta.get('video_id')}@{meta.get('start')}: no labels.{key} "
                         f"for task {task.name} (dataset {meta.get('dataset')!r})")
    return labels[key]


def class_vocabulary(task: ClassificationTask, metas: list[dict],
                     class_names: dict[int, str] | None = None) -> ClassVocabulary:
    """Every class seen in ``metas`` (both splits), sorted by dataset label."""
    names: dict = {}
    for meta in metas:
        label = segment_label(task, meta)
        if task.name == "audioset":
            mids = meta["labels"].get("mids", [])
            for index in label:  # a mid names its index only in a single-label segment
                fallback = mids[0] if len(label) == 1 and len(mids) == 1 else ""
                if not names.get(index):
                    names[index] = (class_names or {}).get(index, fallback)
        elif task.name == "coin_task":
            names.setdefault(label, words_of(meta["labels"].get("task", str(label))))
        else:
            names.setdefault(label, (meta.get("texts") or [{"text": str(label)}])[0]["text"])
    ids = sorted(names)
    return ClassVocabulary(ids, [names[i] for i in ids])


def label_targets(task: ClassificationTask, metas: list[dict], vocab: ClassVocabulary
                  ) -> Tensor:
    """(N,) class indices, or (N, C) multi-hot for a multi-label task."""
    position = {label: c for c, label in enumerate(vocab.ids)}
    if task.multilabel:
        return multi_hot([[position[i] for i in segment_label(task, m)] for m in metas],
                         len(vocab))
    return torch.tensor([position[segment_label(task, m)] for m in metas])


def _numpy(x) -> np.ndarray:
    return x.detach().cpu().numpy() if isinstance(x, Tensor) else np.asarray(x)


def top1_accuracy(scores, labels) -> float:
    """Fraction of rows whose highest score is their label. scores (N, C), labels (N,).

    Ties are pessimistic: a row is right only if its label beats every other class."""
    s, y = _numpy(scores), _numpy(labels).astype(np.int64)
    if s.ndim != 2 or y.shape != (s.shape[0],) or s.shape[0] == 0:
        raise ValueError(f"top1_accuracy: scores (N, C) and labels (N,), got {s.shape} and "
                         f"{y.shape}")
    true = s[np.arange(len(y)), y]
    others = s.copy()
    others[np.arange(len(y)), y] = -np.inf
    return float(np.mean(true > others.max(axis=1)))


def average_precision(scores, positives) -> float:
    """AP of one class (module docstring). scores (N,) float, positives (N,) bool with at
    least one True."""
    s, p = _numpy(scores).astype(np.float64), _numpy(positives).astype(bool)
    if s.shape != p.shape or s.ndim != 1:
        raise ValueError(f"average_precision: scores and positives must be (N,), got "
                         f"{s.shape} and {p.shape}")
    if not p.any():
        raise ValueError("average_precision: no positive item")
    order = np.argsort(-s, kind="stable")
    s, p = s[order], p[order]
    # Items up to the last one tying with position i are all "retrieved" at s_i.
    last_tie = np.searchsorted(-s, -s, side="right") - 1
    hits = np.cumsum(p)[last_tie]
    precision = hits / (last_tie + 1)
    return float(np.mean(precision[p]))


def mean_average_precision(scores, targets) -> dict:
    """mAP over classes with a positive. scores (N, C), targets (N, C) multi-hot.

    Returns {"mAP": float, "per_class": {class index: AP}, "classes": count}."""
    s, t = _numpy(scores), _numpy(targets).astype(bool)
    if s.shape != t.shape or s.ndim != 2:
        raise ValueError(f"mean_average_precision: scores and targets must be (N, C), got "
                         f"{s.shape} and {t.shape}")
    per_class = {c: average_precision(s[:, c], t[:, c]) for c in range(s.shape[1])
                 if t[:, c].any()}
    if not per_class:
        raise ValueError("mean_average_precision: no class has a positive item")
    return {"mAP": float(np.mean(list(per_class.values()))), "per_class": per_class,
            "classes": len(per_class)}


def multi_hot(indices: list[list[int]], num_classes: int) -> Tensor:
    """Lists of positive class indices → (N, num_classes) float multi-hot."""
    out = torch.zeros(len(indices), num_classes)
    for row, positives in enumerate(indices):
        out[row, list(positives)] = 1.0
    return out


def score(task: ClassificationTask, scores: Tensor, targets: Tensor) -> dict:
    """{"top1": ...} or {"mAP": ..., "per_class": ...} for the task's kind of label.
    scores (N, C); targets (N,) class indices or (N, C) multi-hot."""
    if task.multilabel:
        return mean_average_precision(scores, targets)
    return {"top1": top1_accuracy(scores, targets)}


def mean_positive_rate(targets: Tensor) -> float:
    """Mean over the classes with a positive of their positive rate: the mAP of random
    scores, in expectation. targets (N, C) multi-hot."""
    return float(targets[:, targets.sum(0) > 0].mean(0).mean())
