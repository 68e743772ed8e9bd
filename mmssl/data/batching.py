"""Clips to batches: fixed-size groups, stacked into the batch contract.

A batch stacks each tensor field of its clips along a new first axis (``video``
(B, 3, T, H, W), ``audio`` (B, 1, n_mels, frames), ``audio_mask`` (B,), ``text``
(B, K, L), ``text_mask`` (B, K), ``video_view2`` when present) and keeps ``meta`` as the
list of the clips' dicts.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import torch


def groups(items: Iterable, size: int) -> Iterator[list]:
    """Consecutive lists of ``size`` items; an incomplete last group is dropped."""
    group = []
    for item in items:
        group.append(item)
        if len(group) == size:
            yield group
            group = []


def collate(items: list[dict]) -> dict:
    """Stack a list of per-clip dicts into the batch contract."""
    batch = {key: torch.stack([torch.as_tensor(item[key]) for item in items])
             for key in items[0] if key != "meta"}
    batch["meta"] = [item["meta"] for item in items]
    return batch
