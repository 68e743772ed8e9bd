"""Classification metrics: top-1 accuracy (single-label) and mAP (multi-label, AudioSet).

Average precision of one class, scores s (N,), positives P (the threshold at each positive
takes in every item that ties with it, as scikit-learn's ``average_precision_score``)::

    AP = (1/|P|) · Σ_{i ∈ P} #{j ∈ P : s_j ≥ s_i} / #{j : s_j ≥ s_i}

mAP is the mean of AP over the classes with at least one positive (AudioSet's convention;
a class with no positive in the test set has no AP).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor


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
