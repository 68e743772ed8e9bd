"""Classification benchmarks in the shard format: what is a class, which split is which.

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
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from mmssl.eval.classification_metrics import multi_hot


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
