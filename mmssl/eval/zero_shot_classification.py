"""Zero-shot classification from text prompts (CLIP-style), no training on the labels.

Each class c gets a prompt p_c = ``template.format(name_c)`` (COIN tasks: the task name
in words; COIN steps: the step label; AudioSet: the class display name). With z_x the
segment's window-averaged embedding in the space where its modality meets text (``vt``
for video, ``at`` for audio) and z_{p_c} the prompt's::

    S[i, c] = z_{x_i} · z_{p_c}          (N, C)

Single-label tasks report top-1 of argmax_c S[i, c]; multi-label ones (AudioSet) mAP with
S as the confidences. Both splits are scored unless ``subsets`` says otherwise (nothing is
trained, so every labelled segment is a test segment).
"""

from __future__ import annotations

import torch

from mmssl.eval.classification_tasks import (
    ClassificationTask,
    class_vocabulary,
    label_targets,
)
from mmssl.eval.features import FeatureExtractor, SegmentFeatures
from mmssl.eval.linear_probe import score

SPACE_OF = {"video": "vt", "audio": "at"}


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

    Returns the task metric, the prompts used, and the (N, C) score matrix as a list."""
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
    z_x = (features.video if task.modality == "video" else features.audio)[space]
    scores = z_x @ z_prompt.T
    result = score(task, scores, targets)
    chance = 1.0 / len(vocab) if not task.multilabel else float(
        targets[:, targets.sum(0) > 0].mean(0).mean())
    return {**result, "classes": len(vocab), "segments": len(rows), "prompts": texts,
            "chance": chance}
