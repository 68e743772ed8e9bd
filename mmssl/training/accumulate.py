"""One optimiser step's forward and backward over m micro-batches, keeping the whole
accumulated batch as negatives (open_clip's ``accum_freq``).

With m = 1 this is ``loss(features(batch))`` and one backward. With m > 1:

1. without grad, ``F_j = features(micro_j)`` for every j (the cache);
2. for each j, with grad: recompute ``F_j``, put it in place of the cached one, compute
   the loss L over the concatenation ``[F_1 … F_m]`` (gathered over processes by the
   method) and backpropagate. Only F_j carries a graph, so this backward gives
   ∂L/∂θ through micro-batch j; summed over j it is ∂L/∂θ of the full-batch loss.

A 0-dim feature is a shared parameter used by the loss itself (CLIP's ``logit_scale``);
every pass would add its full gradient, so each pass uses ``s̄ + (s − s̄)/m`` (s̄ = s
detached): the same value, 1/m of the gradient. Micro-batches see their own batch-norm
statistics, as separate processes would; activations are held for one micro-batch only.
"""

from __future__ import annotations

import contextlib

import torch
from torch import Tensor


def accumulated_step(accelerator, method, micro_batches: list[dict]) -> dict[str, Tensor]:
    """Forward and backward over ``micro_batches``; returns the loss dict (of the last pass,
    whose value is the full-batch loss like every pass's)."""
    core = accelerator.unwrap_model(method)
    if len(micro_batches) == 1:
        with accelerator.autocast():
            out = core.loss(method(micro_batches[0], features_only=True))
        accelerator.backward(out["loss"])
        return out
    with torch.no_grad(), accelerator.autocast():
        cache = [method(batch, features_only=True) for batch in micro_batches]
    for index, batch in enumerate(micro_batches):
        last = index == len(micro_batches) - 1
        sync = contextlib.nullcontext() if last else accelerator.no_sync(method)
        with sync:
            with accelerator.autocast():
                fresh = method(batch, features_only=True)
                out = core.loss(_merged(cache, index, fresh))
            accelerator.backward(out["loss"])
    return out


def _merged(cache: list[dict], index: int, fresh: dict) -> dict[str, Tensor]:
    m = len(cache)
    merged = {}
    for key, value in fresh.items():
        if value.ndim == 0:
            merged[key] = value.detach() + (value - value.detach()) / m
        else:
            merged[key] = torch.cat([value if j == index else cache[j][key] for j in range(m)])
    return merged
