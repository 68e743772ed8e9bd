"""Batch buffers a consumer hands back, reused by the reader that made them.

A training batch's large fields are decoded straight into fresh buffers
(:class:`~mmssl.data.batching.BatchBuffers`), and the kernel faults in and zeroes each 4 KiB
page of fresh memory on its first write. Inside a DataLoader worker the buffers are shared
memory, which most kernels never back by huge pages (``transparent_hugepage/shmem_enabled``
= ``never``): 0.13 s of faults per 32 × 32 × 224² batch on the machine of
``benchmarks/README.md``, more than a tenth of what decoding that batch costs. A consumer
that says it is done with a batch (:meth:`BufferPool.release`, which the training loop
calls after each optimiser step) lets the batch's reader fill the same buffers again,
already faulted in.

A batch that is not released is never written again: a consumer that keeps batches, or
knows nothing of this, gets fresh buffers for every batch, as before (and once ``SLOTS``
batches are out with none handed back, its reader stops keeping buffers at all). The hand-back goes
through a table in shared memory made before the workers start: reader r hands slot s out
with generation g (the batch's ``"recycle"`` entry is ``(r, s, g)``), the consumer writes g
to ``returned[r, s]`` when done, and the reader reuses slot s only while ``returned[r, s]``
equals the generation it handed out last. Generations start from the clock when a reader
starts, so a release left over from an earlier pass over the loader never matches.
"""

from __future__ import annotations

import time

import torch

from mmssl.data.batching import BatchBuffers

SLOTS = 6  # buffer sets a reader keeps: batches in flight (prefetch) + held by the consumer
RECYCLE_KEY = "recycle"


class BufferPool:
    """The buffer sets of ``readers`` readers (one per DataLoader worker, or the reading
    process itself) and the shared table of what the consumer handed back."""

    def __init__(self, readers: int):
        self.returned = torch.full((max(1, readers), SLOTS), -1, dtype=torch.int64)
        self.returned.share_memory_()
        self.slots: list[list] = []  # this process's [buffers, generation] per slot
        self.reader: int | None = None
        self.refilled = False  # whether this reader has refilled a handed-back slot yet

    def start(self, reader: int) -> None:
        """Reader ``reader`` (re)starts: its buffers from before are not reused. A reader
        beyond the table (more workers than the config said) takes fresh buffers always."""
        self.slots, self.refilled = [], False
        self.reader = reader if reader < len(self.returned) else None

    def take(self, size: int, shapes: dict) -> tuple[BatchBuffers, tuple[int, int, int] | None]:
        """Buffers for the next batch and the batch's ``"recycle"`` tag: a released slot's
        buffers, else fresh ones kept in a new slot (None when all slots are in use)."""
        if self.reader is None:
            return BatchBuffers(size, shapes), None
        for index, slot in enumerate(self.slots):
            if int(self.returned[self.reader, index]) == slot[1]:
                slot[1] += 1
                self.refilled = True
                return slot[0], (self.reader, index, slot[1])
        if len(self.slots) == SLOTS and not self.refilled:
            # SLOTS batches out and none handed back: a consumer that keeps its batches.
            # Stop keeping buffers for it, which would only hold memory it has let go.
            self.slots, self.reader = [], None
        buffers = BatchBuffers(size, shapes)
        if self.reader is None or len(self.slots) == SLOTS:
            return buffers, None
        self.slots.append([buffers, time.monotonic_ns()])
        return buffers, (self.reader, len(self.slots) - 1, self.slots[-1][1])

    def release(self, batch: dict) -> None:
        """The consumer is done with ``batch``: its reader may write its buffers again."""
        tag = batch.get(RECYCLE_KEY)
        if tag is not None:
            reader, slot, generation = tag
            self.returned[reader, slot] = generation
