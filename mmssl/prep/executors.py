"""Where shard conversions run: a local process pool (default) or Ray, plus the node split.

An executor takes a function and a list of argument tuples and yields ``(job index,
result)`` as each call completes, in completion order. The runner hands it
``write_shard(path, tasks, config)`` calls; nothing here knows about shards.

``process``
    :class:`concurrent.futures.ProcessPoolExecutor` with ``--workers`` processes.
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

import os
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
    with ProcessPoolExecutor(max_workers=max(1, workers)) as pool:
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


def import_ray():
    """The ``ray`` module, or an ImportError that names the extra to install."""
    try:
        import ray
    except ImportError as error:
        raise ImportError(RAY_MISSING) from error
    return ray
