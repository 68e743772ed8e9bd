"""Retrieval ranks at scale: chunked from embeddings against the full score matrix.

    python benchmarks/retrieval_memory.py [--sizes 10000 30000 100000] [--dim 32]
        [--chunk 1024] [--json benchmarks/results/retrieval_memory.json]

Each configuration runs in a fresh subprocess (one torch thread): random L2-normalised
queries and items (N x D, float32, query q's true item is q), then either
``embedding_ranks`` (blocks of ``chunk`` rows; never the N x N matrix) or, where it fits
(N <= 30000, 3.6 GB), ``retrieval_ranks`` of the full ``queries @ items.T``. Reports wall
seconds and the peak RSS added after the inputs were made (``ru_maxrss`` delta), and
checks that both give the same ranks where both run.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

FULL_LIMIT = 30000


def child(n: int, dim: int, chunk: int, form: str) -> dict:
    import torch

    from mmssl.eval.retrieval_metrics import embedding_ranks, retrieval_ranks

    torch.set_num_threads(1)
    generator = torch.Generator().manual_seed(0)
    items = torch.nn.functional.normalize(torch.randn(n, dim, generator=generator), dim=1)
    queries = torch.nn.functional.normalize(items + 0.5 * torch.randn(n, dim,
                                                                      generator=generator), dim=1)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.time()
    if form == "chunked":
        ranks = embedding_ranks(queries, items, chunk_size=chunk)
    else:
        ranks = retrieval_ranks(queries @ items.T, chunk_size=chunk)
    seconds = time.time() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"n": n, "form": form, "seconds": round(seconds, 2),
            "added_mib": round((peak - base) / 1024, 1), "r1": float((ranks < 1).float().mean()),
            "rank_sum": int(ranks.sum())}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[10000, 30000, 100000])
    parser.add_argument("--dim", type=int, default=32)
    parser.add_argument("--chunk", type=int, default=1024)
    parser.add_argument("--json", default="benchmarks/results/retrieval_memory.json")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(int(args.child[0]), args.dim, args.chunk, args.child[1])))
        return
    rows = []
    for n in args.sizes:
        for form in ("chunked", "full") if n <= FULL_LIMIT else ("chunked",):
            out = subprocess.run([sys.executable, __file__, "--child", str(n), form, "--dim",
                                  str(args.dim), "--chunk", str(args.chunk)],
                                 capture_output=True, text=True, check=True)
            rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
            r = rows[-1]
            print(f"N={n:>7} {form:<8} {r['seconds']:>8.2f} s {r['added_mib']:>9.1f} MiB "
                  f"R@1 {r['r1']:.3f}", flush=True)
    same = {n: len({r["rank_sum"] for r in rows if r["n"] == n}) == 1 for n in args.sizes}
    record = {"machine": {"platform": platform.platform(), "python": platform.python_version()},
              "dim": args.dim, "chunk": args.chunk, "rows": rows, "same_ranks": same}
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(record, indent=1))


if __name__ == "__main__":
    main()
