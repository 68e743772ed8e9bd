"""How many CPU threads and loader workers a process uses when the config leaves it to us.

A machine's cores are shared by the processes launched on it (``LOCAL_WORLD_SIZE``, set
by torchrun and ``accelerate launch``) and, inside each, by its DataLoader workers (one
torch thread each, as PyTorch sets them) and its own torch threads. More runnable threads
than cores make OpenMP's threads wait on one another: on 2 busy cores, 2 torch threads
beside a loader worker trained ~10× slower than 1 (``benchmarks/README.md``). So::

    share   = cores this process may run on (its affinity mask) // processes on the machine
    threads = max(1, share − loader workers)

The choice depends only on the machine and the launch, never on its momentary load, so a
resumed run picks the same count (CPU results depend on it; see docs/training.md).
"""

from __future__ import annotations

import os


def core_share() -> int:
    """Cores available to this process: its affinity mask, split among the processes
    launched on this machine."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    processes = max(1, int(os.environ.get("LOCAL_WORLD_SIZE", "1")))
    return max(1, (cores or 1) // processes)


def torch_threads(requested: int, loader_workers: int) -> int:
    """``requested`` when > 0, else the cores of :func:`core_share` left over by
    ``loader_workers`` (at least one)."""
    if requested > 0:
        return requested
    return max(1, core_share() - loader_workers)


def decode_workers(requested: int | None = None) -> int:
    """Loader workers that decode evaluation segments beside the model: ``requested``
    when given, else half the process's cores (none on a single core, at most 8)."""
    if requested is not None:
        return requested
    return min(8, core_share() // 2)
