"""Linear probes and zero-shot classification on COIN- and AudioSet-format shards.

COIN (video): linear probe and zero-shot on tasks (top-1) and on steps (top-1).
AudioSet (audio): linear probe and zero-shot on the classes (mAP).
Each dataset is decoded once; backbone features feed the probes, embeddings the zero-shot
scores (:mod:`mmssl.eval.features`). A method without the needed tower (e.g. no audio
for AudioSet, no text for zero-shot) skips that part and says so in the results. What a
class is, which split is which and how predictions are scored:
:mod:`mmssl.eval.classification_tasks`.

**Linear probe** (MMV protocol): frozen features (level ``"backbone"``), averaged over W
windows per segment. With μ, σ the train features' mean and standard deviation per
dimension, x̂ = (x − μ) / max(σ, 1e-6) for train and test alike. The classifier
``W x̂ + b`` (W: (C, D)) minimises, by full-batch L-BFGS::

    single-label:  mean_i CE(softmax(W x̂_i + b), y_i) + λ‖W‖²          → top-1
    multi-label:   mean_i Σ_c BCE(σ(W x̂_i + b)_c, y_ic) + λ‖W‖²        → mAP

(logistic regression, λ = ``weight_decay``). :func:`fine_tune_probe` instead trains the
encoder together with the linear layer (Adam, one random window per training segment and
step), then scores test segments with their window-averaged features as above.

**Zero-shot** (CLIP-style, no training on the labels): each class c gets a prompt
p_c = ``template.format(name_c)``. With z_x the segment's window-averaged embedding in the
space where its modality meets text (``vt`` for video, ``at`` for audio)::

    S[i, c] = z_{x_i} · z_{p_c}          (N, C)

Single-label tasks report top-1 of argmax_c S[i, c]; multi-label ones mAP with S as the
confidences. Both splits are scored unless ``subsets`` says otherwise (nothing is trained,
so every labelled segment is a test segment).
"""

from __future__ import annotations

import random

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mmssl.config import EvalConfig
from mmssl.data.shards import SkipCounter, open_dataset, read_metas
from mmssl.eval.classification_tasks import (
    DATASETS,
    TASKS,
    ClassificationTask,
    class_vocabulary,
    label_targets,
    mean_positive_rate,
    read_class_names,
    score,
)
from mmssl.eval.features import FeatureExtractor, SegmentFeatures, subset_filter

SPACE_OF = {"video": "vt", "audio": "at"}


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
                                     config.probe_windows, levels, config.batch_size)
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


def split(features: SegmentFeatures, task: ClassificationTask) -> tuple[list[int], list[int]]:
    """Row indices of the train and test subsets; raises when either is empty."""
    subsets = [m.get("labels", {}).get("subset") for m in features.metas]
    train = [i for i, s in enumerate(subsets) if s == task.train_subset]
    test = [i for i, s in enumerate(subsets) if s == task.test_subset]
    if not train or not test:
        raise ValueError(f"{task.name}: need segments in subsets {task.train_subset!r} and "
                         f"{task.test_subset!r}; found {sorted(set(map(str, subsets)))}")
    return train, test


def _of_modality(features: SegmentFeatures, modality: str) -> dict[str, Tensor]:
    return features.video if modality == "video" else features.audio


def linear_probe(features: SegmentFeatures, task: ClassificationTask,
                 weight_decay: float = 1e-3) -> dict:
    """Fit on the train subset, score the test subset (backbone features of
    ``task.modality``). Returns metrics plus counts."""
    vocab = class_vocabulary(task, features.metas)
    targets = label_targets(task, features.metas, vocab)
    train, test = split(features, task)
    x = _of_modality(features, task.modality)["features"]
    x_train, x_test = standardize(x[train], x[test])
    layer = fit_linear(x_train, targets[train], task.multilabel, len(vocab), weight_decay)
    with torch.no_grad():
        result = score(task, layer(x_test), targets[test])
        train_result = score(task, layer(x_train), targets[train])
    key = "mAP" if task.multilabel else "top1"
    return {**result, "train_" + key: train_result[key], "classes": len(vocab),
            "train_segments": len(train), "test_segments": len(test),
            "chance": _majority_chance(task, targets[test])}


def _majority_chance(task: ClassificationTask, targets: Tensor) -> float:
    """Top-1 of always answering the most frequent test class; for mAP, the mean positive
    rate of the scored classes (the AP of random scores, in expectation)."""
    if task.multilabel:
        return mean_positive_rate(targets)
    return float(torch.bincount(targets).max()) / len(targets)


def prompts(names: list[str], template: str = "{}") -> list[str]:
    """``template.format(name)`` for each class name; the template must contain ``{}``."""
    if "{}" not in template:
        raise ValueError(f"prompt template {template!r} has no '{{}}' for the class name")
    return [template.format(name) for name in names]


@torch.no_grad()
def zero_shot_classify(extractor: FeatureExtractor, features: SegmentFeatures,
                       task: ClassificationTask, template: str = "{}",
                       class_names: dict[int, str] | None = None,
                       subsets: tuple[str, ...] | None = None) -> dict:
    """Scores ``features`` (``level="embedding"``) against the class prompts.

    Returns the task metric, the prompts used, and the chance level: 1/C for top-1 (a
    uniform guess), the mean positive rate for mAP."""
    vocab = class_vocabulary(task, features.metas, class_names)
    rows = [i for i, m in enumerate(features.metas)
            if subsets is None or m.get("labels", {}).get("subset") in subsets]
    if not rows:
        raise ValueError(f"{task.name}: no segment in subsets {subsets}")
    features = features.select(rows)
    targets = label_targets(task, features.metas, vocab)
    space = SPACE_OF[task.modality]
    texts = prompts(vocab.names, template)
    z_prompt = extractor.encode_text(texts)[space]  # (C, D)
    z_x = _of_modality(features, task.modality)[space]
    result = score(task, z_x @ z_prompt.T, targets)
    chance = mean_positive_rate(targets) if task.multilabel else 1.0 / len(vocab)
    return {**result, "classes": len(vocab), "segments": len(rows), "prompts": texts,
            "chance": chance}


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
    towers = extractor.method.towers
    encoder = towers[task.modality]
    head = nn.Linear(encoder.out_dim, len(vocab))
    optimizer = torch.optim.Adam([*encoder.parameters(), *head.parameters()], lr=lr)
    encoder.train()
    for _ in range(steps):
        rows = [rng.randrange(len(clips)) for _ in range(batch_size)]
        x = torch.stack([rng.choice(clips[r][0]) for r in rows])
        loss = _loss(head(towers.encode(task.modality, x)), targets[rows], task.multilabel)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    encoder.eval()
    features = extractor.extract(shards, (task.modality,),
                                 keep=subset_filter(task.test_subset))
    test_targets = label_targets(task, features.metas, vocab)
    with torch.no_grad():
        result = score(task, head(_of_modality(features, task.modality)["features"]),
                       test_targets)
    return {**result, "classes": len(vocab), "train_segments": len(clips),
            "test_segments": len(features), "fine_tune_steps": steps}


def _training_windows(extractor: FeatureExtractor, shards: str, task: ClassificationTask
                      ) -> list[tuple[Tensor, dict]]:
    """Per train segment: its (W, ...) decoded input windows (kept in memory), its meta."""
    out = []
    # The frozen pass already read these shards: a bad sample now is fatal, not skipped.
    strict = SkipCounter(strict=True)
    for sample in open_dataset(shards, strict, need_video=task.modality == "video"):
        if sample.meta.get("labels", {}).get("subset") == task.train_subset:
            out.append((extractor.windows_of(sample, task.modality), sample.meta))
    if not out:
        raise ValueError(f"{shards}: no {task.train_subset!r} segment to fine-tune on")
    return out
