"""Clips to batches: the batch contract, and the buffers clips are decoded into.

A batch stacks each tensor field of its clips along a new first axis (``video``
(B, 3, T, H, W) uint8, ``audio`` (B, samples) float32, ``audio_mask`` (B,), ``text``
(B, K, L), ``text_mask`` (B, K), ``video_view2`` when present) and keeps ``meta`` as the
list of the clips' dicts.

A training clip's fields need not be stacked at all: :class:`BatchBuffers` allocates them
once per batch — those whose per-clip shape is known before any clip is decoded (video
views, token ids, masks) at once, the audio (its length follows the shard's frame rate) for
the batch's first clip (:meth:`BatchBuffers.sized`) — and each clip is written straight into
its row (:meth:`BatchBuffers.row`, numpy views made once per batch), so a clip's pixels are
copied once between the decoder and the model. Fields a clip returns instead (a labelled
clip's label) are stacked into tensors the buffers keep too (:meth:`BatchBuffers.stack`),
so buffers that are filled again (:mod:`mmssl.data.recycling`) allocate nothing. Inside a
DataLoader worker all of them are in shared memory, so handing the batch to the main
process copies nothing (as ``default_collate`` does for the tensors it stacks) and, once
they are refilled, creates no shared memory segment either.
"""

from __future__ import annotations

import ctypes
import functools
import math
import sys

import numpy as np
import torch


def batch_tensor(shape: tuple[int, ...], dtype: torch.dtype) -> torch.Tensor:
    """An uninitialised tensor for a batch field; in shared memory inside a DataLoader
    worker (the way ``torch.utils.data.default_collate`` allocates what it stacks there).
    Either way its memory is advised to the kernel as huge pages (:func:`advise_huge_pages`)."""
    if torch.utils.data.get_worker_info() is None:
        tensor = torch.empty(shape, dtype=dtype)
    else:
        empty = torch.empty(0, dtype=dtype)
        storage = empty._typed_storage()._new_shared(math.prod(shape), device=empty.device)
        tensor = empty.new(storage).view(shape)
    advise_huge_pages(tensor)
    return tensor


HUGE_PAGE = 2 << 20  # bytes (x86-64 and arm64 with 4 KiB pages)
_MADV_HUGEPAGE = 14  # <sys/mman.h> on Linux


def advise_huge_pages(tensor: torch.Tensor) -> bool:
    """``madvise(MADV_HUGEPAGE)`` over the whole 2 MiB pages inside ``tensor``'s memory;
    whether the kernel took the advice (False off Linux, for small tensors, or where
    transparent huge pages are off).

    A batch is fresh memory, and every 4 KiB page of it is faulted in and zeroed by the
    kernel on its first write: at 32 clips × 32 × 224² that is 37,632 faults per batch,
    which cost 3.5× the copying of the pixels themselves on the machine of
    ``benchmarks/README.md`` (0.10 s against 0.03 s per batch with this advice). Shared
    memory takes the advice only where ``/sys/kernel/mm/transparent_hugepage/shmem_enabled``
    allows it (``advise`` or ``always``).
    """
    start = tensor.data_ptr()
    end = start + tensor.numel() * tensor.element_size()
    first, last = -(-start // HUGE_PAGE) * HUGE_PAGE, end // HUGE_PAGE * HUGE_PAGE
    madvise = _libc_madvise()
    if madvise is None or last <= first:
        return False
    return madvise(first, last - first, _MADV_HUGEPAGE) == 0


@functools.cache
def _libc_madvise():
    if not sys.platform.startswith("linux"):
        return None
    try:
        function = ctypes.CDLL(None, use_errno=True).madvise
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    function.restype = ctypes.c_int
    return function


class BatchBuffers:
    """The tensors of one batch, ``{field: (B, ...) tensor}``: fields filled row by row
    (``shapes`` and :meth:`sized`) and fields stacked (:meth:`stack`), all kept for the
    buffers' next use.

    ``shapes``: ``{field: (per-clip shape, dtype)}`` of the fields filled row by row whose
    shape is known in advance. :meth:`row` gives row i to write clip i into; a clip that
    fails leaves its row to the next one.
    """

    def __init__(self, size: int, shapes: dict[str, tuple[tuple[int, ...], torch.dtype]]):
        self.size = size
        self.tensors: dict[str, torch.Tensor] = {}
        # Clips are written through numpy views made once per batch: a torch view or op
        # per clip and field costs microseconds that a loader's clip cannot spare.
        self.arrays: dict[str, np.ndarray] = {}
        self.stacked: dict[str, torch.Tensor] = {}
        for name, (shape, dtype) in shapes.items():
            self._allocate(name, shape, dtype)

    def _allocate(self, name: str, shape: tuple[int, ...], dtype: torch.dtype) -> None:
        self.tensors[name] = batch_tensor((self.size, *shape), dtype)
        self.arrays[name] = self.tensors[name].numpy()

    def row(self, index: int) -> BatchRow:
        return BatchRow(self, index)

    def sized(self, name: str, index: int, shape: tuple[int, ...], dtype: torch.dtype
              ) -> np.ndarray:
        """Row ``index`` of field ``name``, whose per-clip ``shape`` is known from the
        clip only (an audio window's length follows the shard's frame rate): (re)allocated
        by the batch's first row, a :class:`ValueError` when a later row's shape differs
        (clips that cannot share a batch)."""
        tensor = self.tensors.get(name)
        if tensor is None or tensor.shape[1:] != shape or tensor.dtype != dtype:
            if index and tensor is not None:
                raise ValueError(f"a clip's {name} of shape {tuple(shape)} cannot join a "
                                 f"batch whose earlier clips' are {tuple(tensor.shape[1:])}")
            self._allocate(name, shape, dtype)
        return self.arrays[name][index]

    def stack(self, name: str, values: list[torch.Tensor]) -> torch.Tensor:
        """``torch.stack(values)`` (B, ...) written into this batch's tensor for ``name``,
        allocated (:func:`batch_tensor`) the first time and again only if the shape or
        dtype changes."""
        shape, dtype = (len(values), *values[0].shape), values[0].dtype
        kept = self.stacked.get(name)
        if kept is None or kept.shape != shape or kept.dtype != dtype:
            kept = self.stacked[name] = batch_tensor(shape, dtype)
        return torch.stack(values, out=kept)


class BatchRow:
    """Row ``index`` of a batch's fields (:class:`BatchBuffers`), as numpy arrays."""

    __slots__ = ("buffers", "index")

    def __init__(self, buffers: BatchBuffers, index: int):
        self.buffers, self.index = buffers, index

    def view(self, name: str) -> np.ndarray:
        """The row of field ``name`` (per-clip shape; not for 0-d fields: :meth:`put`)."""
        return self.buffers.arrays[name][self.index]

    def sized(self, name: str, shape: tuple[int, ...], dtype: torch.dtype) -> np.ndarray:
        """The row of field ``name`` of per-clip ``shape`` (:meth:`BatchBuffers.sized`)."""
        return self.buffers.sized(name, self.index, shape, dtype)

    def put(self, name: str, value) -> None:
        """Write ``value`` into the row of field ``name``."""
        self.buffers.arrays[name][self.index] = value


def collate(items: list[dict], filled: BatchBuffers | None = None) -> dict:
    """Stack a list of per-clip dicts into the batch contract; the fields of ``filled``
    are taken as they are (each clip's were written into its row) and the others stacked
    into its kept tensors (:meth:`BatchBuffers.stack`)."""
    batch = dict(filled.tensors) if filled is not None else {}
    stack = filled.stack if filled is not None else lambda _, values: torch.stack(values)
    batch.update({key: stack(key, [torch.as_tensor(item[key]) for item in items])
                  for key in items[0] if key != "meta" and key not in batch})
    batch["meta"] = [item["meta"] for item in items]
    return batch
