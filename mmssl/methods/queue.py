"""A FIFO queue of past (momentum) features: the negatives of MoCo and ALBEF. State a
Method keeps between steps, not a loss: the losses take its ``features`` tensor."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mmssl.distributed import gather_constants


class FeatureQueue(nn.Module):
    """Ring buffer of the K most recent feature vectors (a dictionary of negatives).

    References:
        He, Fan, Wu, Xie & Girshick, "Momentum Contrast for Unsupervised Visual
        Representation Learning", CVPR 2020, Sec. 3.2 ("Dictionary as a queue") and
        github.com/facebookresearch/moco, ``moco/builder.py`` (``_dequeue_and_enqueue``).
        Li et al., "Align before Fuse", NeurIPS 2021: one such queue per modality
        (github.com/salesforce/ALBEF, ``models/model_pretrain.py``).

    ``enqueue(keys)`` writes the N new rows at slots ptr, ptr+1, … (mod K), overwriting the
    oldest entries, and moves ptr to (ptr + N) mod K, the slot of the oldest entry left.
    Unlike the reference code (which asserts K % N == 0) any N works: writes wrap around
    the end of the buffer, and with N > K only the last K keys are kept, as N single-key
    enqueues would leave them. ``features`` is the raw (K, D) buffer in slot order; the
    losses that read it are invariant to the order of the negatives.

    ``filled`` counts the slots written so far (up to K): a method that must not treat the
    random initial rows as past samples (SwAV uses its queue only once it is full, as the
    reference's ``use_the_queue``) reads :attr:`full`.

    The features, the pointer and the fill count are registered buffers, so they are saved in and
    restored from checkpoints (``state_dict``), move with ``.to(device)``, and get no
    gradient. The queue stores keys as given: pass L2-normalised keys, as MoCo and ALBEF
    do (both normalise in the model's projection head). It starts from random unit
    vectors, drawn from ``generator`` so every process can build the same initial queue
    (DDP also broadcasts buffers from rank 0).

    Distributed: when torch.distributed is initialised, ``enqueue`` first gathers the keys
    of every process (rank order), so every rank writes the same W·N rows and all ranks
    hold identical queues. Every process must pass the same number of keys.

    Args:
        size: K, the number of stored features (0 gives an always-empty queue).
        dim: D, the feature dimension.
        generator: source of the random initial unit vectors.
        dtype: storage dtype; enqueued keys are cast to it.

    Shapes:
        features: (K, D); enqueue keys: (N, D).
    """

    queue: Tensor
    ptr: Tensor
    filled: Tensor

    def __init__(self, size: int, dim: int, generator: torch.Generator | None = None,
                 dtype: torch.dtype = torch.float32) -> None:
        super().__init__()
        if size < 0 or dim < 1:
            raise ValueError(f"FeatureQueue: need size >= 0 and dim >= 1, got {size}, {dim}")
        init = torch.randn(size, dim, generator=generator, dtype=dtype)
        self.register_buffer("queue", F.normalize(init, dim=-1))
        self.register_buffer("ptr", torch.zeros((), dtype=torch.long))
        self.register_buffer("filled", torch.zeros((), dtype=torch.long))

    @property
    def size(self) -> int:
        """K, the number of stored features."""
        return self.queue.shape[0]

    @property
    def full(self) -> bool:
        """Whether every slot holds an enqueued key (none of the initial rows is left)."""
        return int(self.filled) >= self.size

    @property
    def features(self) -> Tensor:
        """The stored features, (K, D), in slot order (the oldest one is at ``ptr``)."""
        return self.queue

    @torch.no_grad()
    def enqueue(self, keys: Tensor) -> None:
        """Append ``keys`` (N, D) from every process, dropping the oldest entries."""
        dim = self.queue.shape[1]
        if keys.ndim != 2 or keys.shape[1] != dim:
            raise ValueError(f"FeatureQueue: expected keys of shape (N, {dim}), got "
                             f"{tuple(keys.shape)}")
        keys = gather_constants(keys.detach())
        if self.size == 0 or keys.shape[0] == 0:
            return
        n = keys.shape[0]
        slots = (self.ptr + torch.arange(n, device=self.ptr.device)) % self.size
        # With n > K only the last K keys survive; their slots are distinct.
        keep = slice(max(0, n - self.size), n)
        target = slots[keep].to(self.queue.device)
        self.queue.index_copy_(0, target, keys[keep].to(self.queue))
        self.ptr.copy_((self.ptr + n) % self.size)
        self.filled.copy_((self.filled + n).clamp(max=self.size))

    def extra_repr(self) -> str:
        return f"size={self.size}, dim={self.queue.shape[1]}"
