"""What a run shows: one JSONL line and TensorBoard scalars per logged step.

Each record holds the loss and its terms (``loss_<name>``), ``lr``, any method scalar
(``temperature``), ``samples_per_s`` and ``data_wait_fraction`` over the interval since the
previous record (time blocked on the loader / wall time), ``grad_norm``, memory
(``rss_gb`` of this process; ``cuda_max_gb`` on GPUs) and the bad samples skipped so far.
On resume both are cut back to the resumed step, so a killed-and-resumed run leaves the
same lines as an uninterrupted one.
"""

from __future__ import annotations

import json
import resource
import time
from pathlib import Path

import torch

LOG_NAME = "log.jsonl"
TENSORBOARD_DIR = "tensorboard"


class Interval:
    """Wall time, time spent waiting for data, and samples, since the last :meth:`take`."""

    def __init__(self):
        self.started, self.waited, self.samples = time.perf_counter(), 0.0, 0

    def take(self) -> dict:
        elapsed = max(time.perf_counter() - self.started, 1e-9)
        out = {"samples_per_s": self.samples / elapsed, "data_wait_fraction": self.waited / elapsed}
        self.started, self.waited, self.samples = time.perf_counter(), 0.0, 0
        return out


def memory() -> dict:
    """Peak resident memory of this process (GB) and, on CUDA, peak allocated (GB)."""
    out = {"rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6}
    if torch.cuda.is_available():
        out["cuda_max_gb"] = torch.cuda.max_memory_allocated() / 1e9
    return out


class RunLog:
    """``log.jsonl`` and TensorBoard under ``run_dir`` (main process only)."""

    def __init__(self, run_dir: Path, enabled: bool, tensorboard: bool, resumed_step: int):
        self.jsonl = self.writer = None
        if not enabled:
            return
        path = Path(run_dir) / LOG_NAME
        if resumed_step and path.is_file():
            kept = [line for line in path.read_text().splitlines()
                    if json.loads(line).get("step", 0) <= resumed_step]
            path.write_text("".join(line + "\n" for line in kept))
        self.jsonl = open(path, "a")
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(Path(run_dir) / TENSORBOARD_DIR),
                                        purge_step=resumed_step + 1 if resumed_step else None)

    def write(self, record: dict) -> None:
        if self.jsonl is None:
            return
        self.jsonl.write(json.dumps(record) + "\n")
        self.jsonl.flush()
        if self.writer is not None:
            for key, value in _scalars(record):
                self.writer.add_scalar(key, value, record["step"])
            self.writer.flush()

    def close(self) -> None:
        if self.jsonl is not None:
            self.jsonl.close()
        if self.writer is not None:
            self.writer.close()


def _scalars(record: dict, prefix: str = ""):
    for key, value in record.items():
        if key == "step":
            continue
        if isinstance(value, dict):
            yield from _scalars(value, f"{prefix}{key}/")
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            yield f"{prefix}{key}", value
