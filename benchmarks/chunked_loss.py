"""Time and peak memory of the plain against the chunked (memory-linear) form of NCE and
MIL-NCE, forward + backward, on CPU, in one process or several (gloo).

    python benchmarks/chunked_loss.py [--loss nce|milnce] [--candidates 4]
        [--sizes 1024 2048 ...] [--chunks 4096 1024 256] [--dim 256] [--processes 1]
        [--json benchmarks/results/chunked_loss.json]

``--sizes`` are *global* batches B. Every configuration runs in a fresh subprocess, which
reports its best wall time and its peak memory: ru_maxrss at the end minus the resident
size after the inputs were created, i.e. what the loss's forward + backward added. With
``--processes W`` the subprocess starts W processes in a gloo group, each holding B/W rows
(and their K candidates for MIL-NCE), gathering them with gradients
(:func:`mmssl.distributed.gather_with_grad`) and computing the loss of the global batch, as
a method does; the figures are those of the slowest and the largest process. MIL-NCE
scores every video against all B·K candidates. The plain form is skipped when its score
matrices (~4 live copies of B·N float32, N = B or B·K) would exceed ``--max-gib``. Goal:
memory linear in B, time ≤ 1.3× the plain form's where the plain form fits.
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

from mmssl.losses import MILNCELoss, NCELoss
from mmssl.losses.chunked import ChunkedMILNCELoss, ChunkedNCELoss

BIG_BATCH = 16384  # from here on a single run (each takes seconds)
PLAIN_COPIES = 4


def current_rss_mib() -> float:
    """Resident set size now (not the peak), from /proc/self/statm."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * resource.getpagesize() / 2**20


def make_loss(loss: str, form: str, chunk: int):
    """The loss the way a method calls it (normalised embeddings, τ = 0.07)."""
    if loss == "nce":
        return NCELoss() if form == "plain" else ChunkedNCELoss(chunk_size=chunk)
    if form == "plain":
        return MILNCELoss(temperature=0.07, normalize=True)
    return ChunkedMILNCELoss(temperature=0.07, normalize=True, chunk_size=chunk)


def inputs(loss: str, rows: int, dim: int, candidates: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(rows, dim, generator=g).requires_grad_(True)
    shape = (rows, dim) if loss == "nce" else (rows, candidates, dim)
    return x, torch.randn(*shape, generator=g).requires_grad_(True)


def worker(loss: str, form: str, batch: int, dim: int, chunk: int, repeats: int,
           candidates: int = 1, rank: int = 0, world: int = 1) -> dict:
    """Run one configuration in this (fresh) process, holding ``batch / world`` rows of
    the global batch; return seconds and peak MiB."""
    from mmssl.distributed import gather_with_grad

    x, y = inputs(loss, batch // world, dim, candidates, seed=rank)
    loss_fn = make_loss(loss, form, chunk)
    baseline = current_rss_mib()
    best = float("inf")
    for _ in range(repeats):
        x.grad = y.grad = None
        started = time.perf_counter()
        loss_fn(gather_with_grad(x), gather_with_grad(y)).backward()
        best = min(best, time.perf_counter() - started)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    return {"seconds": round(best, 4), "peak_mib": round(peak - baseline, 1),
            "repeats": repeats, "load_avg_1min": os.getloadavg()[0]}


def _rank(rank: int, world: int, store: str, out: str, args: tuple) -> None:
    import torch.distributed as dist

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank,
                            world_size=world)
    result = worker(*args, rank=rank, world=world)
    Path(out, f"rank{rank}.json").write_text(json.dumps(result))
    dist.barrier()
    dist.destroy_process_group()


def in_processes(world: int, args: tuple) -> dict:
    """``worker(*args)`` in ``world`` gloo processes; the slowest time, the largest peak."""
    import tempfile

    import torch.multiprocessing as mp

    with tempfile.TemporaryDirectory() as out:
        mp.spawn(_rank, args=(world, f"{out}/store", out, args), nprocs=world, join=True)
        ranks = [json.loads(Path(out, f"rank{r}.json").read_text()) for r in range(world)]
    return {"seconds": max(r["seconds"] for r in ranks),
            "peak_mib": max(r["peak_mib"] for r in ranks), "repeats": ranks[0]["repeats"],
            "processes": world, "load_avg_1min": os.getloadavg()[0]}


def measure(loss: str, form: str, batch: int, dim: int, chunk: int, max_gib: float,
            candidates: int, processes: int) -> dict:
    """One configuration in a subprocess, or a skip record when it cannot fit."""
    columns = batch if loss == "nce" else batch * candidates
    need_gib = PLAIN_COPIES * batch * columns * 4 / 2**30
    if form == "plain" and need_gib > max_gib:
        return {"skipped": f"would need ~{need_gib:.0f} GiB"}
    repeats = 1 if batch >= BIG_BATCH else 3
    command = [sys.executable, __file__, "--worker", loss, form, str(batch), str(dim),
               str(chunk), str(repeats), str(candidates), str(processes)]
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
    parser.add_argument("--loss", choices=("nce", "milnce"), default="nce")
    parser.add_argument("--candidates", type=int, default=4, help="MIL-NCE's K")
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--sizes", type=int, nargs="+",
                        default=[1024, 2048, 4096, 8192, 16384, 32768])
    parser.add_argument("--chunks", type=int, nargs="+", default=[4096, 1024, 256])
    parser.add_argument("--dim", type=int, default=256)
    parser.add_argument("--max-gib", type=float, default=12.0)
    parser.add_argument("--json", default="benchmarks/results/chunked_loss.json")
    parser.add_argument("--worker", nargs=8, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        loss, form, *numbers = args.worker
        *numbers, world = map(int, numbers)
        settings = (loss, form, *numbers)
        result = worker(*settings) if world == 1 else in_processes(world, settings)
        print(json.dumps(result))
        return
    rows = []
    for batch in args.sizes:
        settings = (args.max_gib, args.candidates, args.processes)
        row = {"batch": batch,
               "plain": measure(args.loss, "plain", batch, args.dim, 0, *settings)}
        for chunk in args.chunks:
            row[f"chunked_{chunk}"] = measure(args.loss, "chunked", batch, args.dim, chunk,
                                              *settings)
        rows.append(row)
        print(json.dumps(row), file=sys.stderr, flush=True)
    print_table(rows, args.chunks)
    record = {"machine": {"platform": platform.platform(), "threads": torch.get_num_threads(),
                          "torch": torch.__version__},
              "loss": args.loss, "candidates": args.candidates if args.loss == "milnce" else 1,
              "processes": args.processes, "dim": args.dim, "dtype": "float32", "rows": rows}
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(record, indent=1))


if __name__ == "__main__":
    main()
