"""Linear evaluation (MMV protocol): frozen features, standardised, a linear classifier.

Features are the frozen encoder's (level ``"backbone"``), averaged over W windows per
segment (:mod:`mmssl.eval.features`). With μ, σ the train features' mean and standard
deviation per dimension, x̂ = (x − μ) / max(σ, 1e-6) for train and test alike. The
classifier ``W x̂ + b`` (W: (C, D)) minimises, by full-batch L-BFGS::

    single-label:  mean_i CE(softmax(W x̂_i + b), y_i) + λ‖W‖²          → top-1
    multi-label:   mean_i Σ_c BCE(σ(W x̂_i + b)_c, y_ic) + λ‖W‖²        → mAP

(logistic regression, λ = ``weight_decay``). ``fine_tune=True`` instead trains the encoder
together with the linear layer (Adam, one random window per training segment and step),
then scores test segments with their window-averaged features as above.
"""

from __future__ import annotations

import random

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mmssl.data.candidates import window_starts
from mmssl.data.shards import SkipCounter, open_dataset, read_metas
from mmssl.eval.classification_metrics import mean_average_precision, top1_accuracy
from mmssl.eval.classification_tasks import ClassificationTask, class_vocabulary, label_targets
from mmssl.eval.features import (
    FeatureExtractor,
    SegmentFeatures,
    segment_duration,
    subset_filter,
)


def standardize(train: Tensor, test: Tensor) -> tuple[Tensor, Tensor]:
    """Both standardised with the train mean and std (per dimension)."""
    mean, std = train.mean(0), train.std(0, unbiased=False).clamp(min=1e-6)
    return (train - mean) / std, (test - mean) / std


def fit_linear(x: Tensor, y: Tensor, multilabel: bool, num_classes: int,
               weight_decay: float = 1e-3, max_iter: int = 200, seed: int = 0) -> nn.Linear:
    """Logistic regression by L-BFGS. x (N, D) float, y (N,) long or (N, C) multi-hot."""
    torch.manual_seed(seed)
    layer = nn.Linear(x.shape[1], num_classes)
    optimizer = torch.optim.LBFGS(layer.parameters(), lr=1.0, max_iter=max_iter,
                                  line_search_fn="strong_wolfe")

    def closure():
        optimizer.zero_grad()
        loss = _loss(layer(x), y, multilabel) + weight_decay * layer.weight.square().sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    return layer


def _loss(logits: Tensor, y: Tensor, multilabel: bool) -> Tensor:
    if multilabel:
        return F.binary_cross_entropy_with_logits(logits, y, reduction="sum") / len(y)
    return F.cross_entropy(logits, y)


def score(task: ClassificationTask, logits: Tensor, targets: Tensor) -> dict:
    """{"top1": ...} or {"mAP": ..., "per_class": ...} for the task's kind of label."""
    if task.multilabel:
        return mean_average_precision(logits, targets)
    return {"top1": top1_accuracy(logits, targets)}


def split(features: SegmentFeatures, task: ClassificationTask) -> tuple[list[int], list[int]]:
    """Row indices of the train and test subsets; raises when either is empty."""
    subsets = [m.get("labels", {}).get("subset") for m in features.metas]
    train = [i for i, s in enumerate(subsets) if s == task.train_subset]
    test = [i for i, s in enumerate(subsets) if s == task.test_subset]
    if not train or not test:
        raise ValueError(f"{task.name}: need segments in subsets {task.train_subset!r} and "
                         f"{task.test_subset!r}; found {sorted(set(map(str, subsets)))}")
    return train, test


def linear_probe(features: SegmentFeatures, task: ClassificationTask,
                 weight_decay: float = 1e-3) -> dict:
    """Fit on the train subset, score the test subset (backbone features of
    ``task.modality``). Returns metrics plus counts."""
    vocab = class_vocabulary(task, features.metas)
    targets = label_targets(task, features.metas, vocab)
    train, test = split(features, task)
    x = features.video if task.modality == "video" else features.audio
    x_train, x_test = standardize(x["features"][train], x["features"][test])
    layer = fit_linear(x_train, targets[train], task.multilabel, len(vocab), weight_decay)
    with torch.no_grad():
        result = score(task, layer(x_test), targets[test])
        train_result = score(task, layer(x_train), targets[train])
    key = "mAP" if task.multilabel else "top1"
    return {**result, "train_" + key: train_result[key], "classes": len(vocab),
            "train_segments": len(train), "test_segments": len(test),
            "chance": _chance(task, targets[test])}


def _chance(task: ClassificationTask, targets: Tensor) -> float:
    """Top-1 of always answering the most frequent test class; for mAP, the mean positive
    rate of the scored classes (the AP of random scores, in expectation)."""
    if task.multilabel:
        present = targets[:, targets.sum(0) > 0]
        return float(present.mean(0).mean())
    return float(torch.bincount(targets).max()) / len(targets)


def fine_tune_probe(extractor: FeatureExtractor, shards: str, task: ClassificationTask,
                    steps: int = 100, lr: float = 1e-4, batch_size: int = 16,
                    seed: int = 0) -> dict:
    """Fine-tuning instead of a frozen probe: encoder + linear layer trained together on
    the train subset (one random window per segment per step), test as in
    :func:`linear_probe` with window-averaged features of the fine-tuned encoder.

    ``extractor.method`` is modified in place: pass a copy to keep the original."""
    rng = random.Random(seed)
    torch.manual_seed(seed)
    clips = _training_windows(extractor, shards, task)
    # Both splits' classes.
    vocab = class_vocabulary(task, list(read_metas(shards, SkipCounter(strict=True))))
    targets = label_targets(task, [m for _, m in clips], vocab)
    encoder = extractor.method.towers[task.modality]
    head = nn.Linear(encoder.out_dim, len(vocab))
    optimizer = torch.optim.Adam([*encoder.parameters(), *head.parameters()], lr=lr)
    encoder.train()
    for _ in range(steps):
        rows = [rng.randrange(len(clips)) for _ in range(batch_size)]
        x = torch.stack([rng.choice(clips[r][0]) for r in rows])
        loss = _loss(head(encoder(x)), targets[rows], task.multilabel)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    encoder.eval()
    features = extractor.extract(shards, (task.modality,),
                                 keep=subset_filter(task.test_subset))
    test_vocab_targets = label_targets(task, features.metas, vocab)
    with torch.no_grad():
        x = (features.video if task.modality == "video" else features.audio)["features"]
        result = score(task, head(x), test_vocab_targets)
    return {**result, "classes": len(vocab), "train_segments": len(clips),
            "test_segments": len(features), "fine_tune_steps": steps}


def _training_windows(extractor: FeatureExtractor, shards: str, task: ClassificationTask
                      ) -> list[tuple[list[Tensor], dict]]:
    """Per train segment: its W decoded input windows (kept in memory) and its meta."""
    out = []
    cutter = extractor.cutter
    # The frozen pass already read these shards: a bad sample now is fatal, not skipped.
    strict = SkipCounter(strict=True)
    for sample in open_dataset(shards, strict, need_video=task.modality == "video"):
        if sample.meta.get("labels", {}).get("subset") != task.train_subset:
            continue
        starts = window_starts(segment_duration(sample),
                               cutter.clip_seconds(sample.fps or 1.0), extractor.windows)
        if task.modality == "video":
            windows = [cutter.video(sample, s) for s in starts]
        else:
            windows = [cutter.audio(sample, s)[0] for s in starts]
        out.append((windows, sample.meta))
    if not out:
        raise ValueError(f"{shards}: no {task.train_subset!r} segment to fine-tune on")
    return out

