"""Where shard conversions run: a local process pool (default) or Ray, plus the node split.

An executor takes a function and a list of argument tuples and yields ``(job index,
result)`` as each call completes, in completion order. The runner hands it
``write_shard(path, tasks, config)`` calls; nothing here knows about shards.

``process``
    :class:`concurrent.futures.ProcessPoolExecutor` with ``--workers`` processes. Each
    worker dies with the process that started it (:func:`die_with_parent`): a parent
    killed with ``kill -9`` leaves no orphan converting on, so a rerun started meanwhile has
    the machine to itself (and could not be corrupted by one anyway: every writer has files
    of its own, :mod:`mmssl.prep.shard_writer`).
``ray``
    One Ray remote task (1 CPU) per call. Connects to ``--ray-address`` or ``RAY_ADDRESS``
    when given, else starts a local Ray runtime (shut down again at the end). A runtime the
    caller already started with ``ray.init`` is used as is and left running. ``--workers``
    does not apply: the cluster's CPUs bound the concurrency. Every Ray node must have
    ``mmssl`` installed and see the same video and output paths. Ray is an optional extra
    (``pip install 'mmssl[ray]'``), imported only when this executor is chosen.

:class:`RunOptions` carries these choices and the node split (``--num-nodes`` /
``--node-rank``, e.g. one Slurm array task per node) beside :class:`~mmssl.config.PrepConfig`,
which describes the samples and so must be the same on every node.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass

EXECUTORS = ("process", "ray")
RAY_MISSING = ("--executor ray needs Ray, an optional extra: pip install 'mmssl[ray]' "
               "(or pip install -e '.[ray]' in a checkout)")


@dataclass(frozen=True)
class RunOptions:
    """How a conversion runs (never what it produces).

    ``num_nodes``/``node_rank``: this run converts only the shards whose index ``i`` has
    ``i % num_nodes == node_rank``. ``manifest_only``: convert nothing, only (re)write
    ``manifest.json``, which needs every planned shard complete.
    """

    executor: str = "process"
    ray_address: str | None = None
    num_nodes: int = 1
    node_rank: int = 0
    manifest_only: bool = False

    def __post_init__(self) -> None:
        if self.executor not in EXECUTORS:
            raise ValueError(f"executor {self.executor!r}: expected one of {EXECUTORS}")
        if self.num_nodes < 1 or not 0 <= self.node_rank < self.num_nodes:
            raise ValueError(f"node rank {self.node_rank} of {self.num_nodes} nodes: expected "
                             "num_nodes >= 1 and 0 <= node_rank < num_nodes")

    def owns(self, shard_index: int) -> bool:
        """Whether this node converts shard ``shard_index``."""
        return shard_index % self.num_nodes == self.node_rank


def run_calls(fn: Callable, calls: Sequence[tuple], options: RunOptions,
              workers: int) -> Iterator[tuple[int, object]]:
    """Run ``fn(*calls[i])`` for every ``i`` on the chosen executor; yields ``(i, result)``
    as each finishes. An exception raised by a call is raised here."""
    if not calls:
        return iter(())
    if options.executor == "ray":
        return _run_ray(fn, calls, options.ray_address)
    return _run_processes(fn, calls, workers)


def _run_processes(fn: Callable, calls: Sequence[tuple],
                   workers: int) -> Iterator[tuple[int, object]]:
    with ProcessPoolExecutor(max_workers=max(1, workers), initializer=die_with_parent,
                             initargs=(os.getpid(),)) as pool:
        futures = {pool.submit(fn, *args): index for index, args in enumerate(calls)}
        for future in as_completed(futures):
            yield futures[future], future.result()


def _run_ray(fn: Callable, calls: Sequence[tuple],
             address: str | None) -> Iterator[tuple[int, object]]:
    ray = import_ray()
    started_here = not ray.is_initialized()
    if started_here:
        # address None: RAY_ADDRESS if set, else a new local runtime.
        ray.init(address=address or os.environ.get("RAY_ADDRESS"))
    try:
        remote = ray.remote(num_cpus=1)(fn)
        pending = {remote.remote(*args): index for index, args in enumerate(calls)}
        while pending:
            (done,), _ = ray.wait(list(pending), num_returns=1)
            yield pending.pop(done), ray.get(done)
    finally:
        if started_here:
            ray.shutdown()


PR_SET_PDEATHSIG = 1  # prctl option (linux/prctl.h): a signal for when the parent dies
WATCH_SECONDS = 1.0  # how often a worker without prctl looks for its parent


def die_with_parent(parent: int) -> None:
    """Pool worker start-up: end this process when process ``parent`` ends.

    On Linux the kernel sends SIGKILL the moment the parent dies (``prctl(PR_SET_PDEATHSIG)``;
    strictly, when the parent's thread that started the worker ends — the pool starts its
    workers from the thread that submits the calls, which waits for them all). Everywhere,
    a daemon thread also checks every :data:`WATCH_SECONDS` that the parent is still this
    process's parent (an orphan is adopted by another process) and exits at once if not; it
    also covers a parent that died before this function ran.
    """
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):
            pass  # the watchdog below still works
    if os.getppid() != parent:
        os._exit(1)
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True,
                     name="die-with-parent").start()


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(WATCH_SECONDS)
    os._exit(1)  # no clean-up: the parent that would collect our results is gone


def import_ray():
    """The ``ray`` module, or an ImportError that names the extra to install."""
    try:
        import ray
    except ImportError as error:
        raise ImportError(RAY_MISSING) from error
    return ray
