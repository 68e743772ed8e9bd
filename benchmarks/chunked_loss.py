"""Time and peak memory of NCELoss against ChunkedNCELoss, forward + backward, on CPU.

    python benchmarks/chunked_loss.py [--sizes 1024 2048 ...] [--chunks 4096 1024 256]
        [--dim 256] [--json benchmarks/results/chunked_loss.json]

Every configuration runs in a fresh subprocess, which reports its best wall time and its
peak memory: ru_maxrss at the end minus the resident size after the inputs were created,
i.e. what the loss's forward + backward added. The plain form is skipped when its B×B
float32 matrices (~4 live copies of B²·4 bytes) would exceed ``--max-gib``. The issue's
goal: memory linear in B, time ≤ 1.3× the plain form's where the plain form fits.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import torch

from mmssl.losses import NCELoss
from mmssl.losses.chunked import ChunkedNCELoss

BIG_BATCH = 16384  # from here on a single run (each takes seconds)
PLAIN_COPIES = 4


def current_rss_mib() -> float:
    """Resident set size now (not the peak), from /proc/self/statm."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * resource.getpagesize() / 2**20


def worker(form: str, batch: int, dim: int, chunk: int, repeats: int) -> dict:
    """Run one configuration in this (fresh) process; return seconds and peak MiB."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(batch, dim, generator=g).requires_grad_(True)
    y = torch.randn(batch, dim, generator=g).requires_grad_(True)
    loss_fn = NCELoss() if form == "plain" else ChunkedNCELoss(chunk_size=chunk)
    baseline = current_rss_mib()
    best = float("inf")
    for _ in range(repeats):
        x.grad = y.grad = None
        started = time.perf_counter()
        loss_fn(x, y).backward()
        best = min(best, time.perf_counter() - started)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    return {"seconds": round(best, 4), "peak_mib": round(peak - baseline, 1),
            "repeats": repeats, "load_avg_1min": os.getloadavg()[0]}


def measure(form: str, batch: int, dim: int, chunk: int, max_gib: float) -> dict:
    """One configuration in a subprocess, or a skip record when it cannot fit."""
    need_gib = PLAIN_COPIES * batch**2 * 4 / 2**30
    if form == "plain" and need_gib > max_gib:
        return {"skipped": f"would need ~{need_gib:.0f} GiB"}
    repeats = 1 if batch >= BIG_BATCH else 3
    command = [sys.executable, __file__, "--worker", form, str(batch), str(dim), str(chunk),
               str(repeats)]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def print_table(rows: list[dict], chunks: list[int]) -> None:
    def cell(result: dict) -> str:
        if "skipped" in result:
            return f"{'skipped':>9}{'':>9}"
        return f"{result['seconds']:>9.3f}{result['peak_mib']:>9.0f}"

    header = f"{'B':>6}{'plain s':>9}{'MiB':>9}"
    header += "".join(f"{f'c{c} s':>10}{'MiB':>9}{'ratio':>7}" for c in chunks)
    print(header)
    for row in rows:
        line = f"{row['batch']:>6}{cell(row['plain'])}"
        for c in chunks:
            result = row[f"chunked_{c}"]
            ratio = (f"{result['seconds'] / row['plain']['seconds']:>7.2f}"
                     if "skipped" not in row["plain"] else f"{'-':>7}")
            line += f" {cell(result)}{ratio}"
        print(line)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+",
                        default=[1024, 2048, 4096, 8192, 16384, 32768])
    parser.add_argument("--chunks", type=int, nargs="+", default=[4096, 1024, 256])
    parser.add_argument("--dim", type=int, default=256)
    parser.add_argument("--max-gib", type=float, default=12.0)
    parser.add_argument("--json", default="benchmarks/results/chunked_loss.json")
    parser.add_argument("--worker", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        form, *numbers = args.worker
        print(json.dumps(worker(form, *map(int, numbers))))
        return
    rows = []
    for batch in args.sizes:
        row = {"batch": batch, "plain": measure("plain", batch, args.dim, 0, args.max_gib)}
        for chunk in args.chunks:
            row[f"chunked_{chunk}"] = measure("chunked", batch, args.dim, chunk, args.max_gib)
        rows.append(row)
        print(json.dumps(row), file=sys.stderr, flush=True)
    print_table(rows, args.chunks)
    record = {"machine": {"platform": platform.platform(), "threads": torch.get_num_threads(),
                          "torch": torch.__version__},
              "dim": args.dim, "dtype": "float32", "rows": rows}
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(record, indent=1))


if __name__ == "__main__":
    main()
