"""The DataLoader every stream of mmssl is read through: items already batched (or single
segments) come from ``workers`` processes, handed over in shared memory *by name*.

PyTorch's default way of handing a worker's tensors over on Linux (``file_descriptor``)
sends each tensor's storage as a file descriptor, and the receiving process fetches each
one over a new connection to the worker (``multiprocessing.resource_sharer``): ~2 ms per
storage, which was 0.85 s of a 7.3-s evaluation (450 storages: a segment's video and
audio windows), more than its decoding. Workers here share by name instead
(``file_system``: the receiver opens the segment by its name, no connection), set in the
workers alone, so the strategy of the process that reads them, and of anything else it
runs, is left as it was. PyTorch's ``torch_shm_manager`` removes the named segments of
workers that die.
"""

from __future__ import annotations

import math

import torch


def worker_loader(dataset: torch.utils.data.IterableDataset, workers: int, ahead: int = 2,
                  pin_memory: bool = False) -> torch.utils.data.DataLoader:
    """A DataLoader over ``dataset``'s own items (``batch_size=None``) with ``workers``
    processes, which may be ``ahead`` items (in all) ahead of the reader (at least two
    each, DataLoader's default)."""
    if workers == 0:
        return torch.utils.data.DataLoader(dataset, batch_size=None, pin_memory=pin_memory)
    return torch.utils.data.DataLoader(dataset, batch_size=None, num_workers=workers,
                                       prefetch_factor=max(2, math.ceil(ahead / workers)),
                                       worker_init_fn=share_by_name, pin_memory=pin_memory)


def share_by_name(worker: int) -> None:
    """Hand this worker's tensors over as named shared memory (module docstring)."""
    torch.multiprocessing.set_sharing_strategy("file_system")
