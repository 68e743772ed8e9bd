"""Forward + backward clips/s and peak memory of every registered encoder on CPU.

    python benchmarks/encoders.py [--encoders r3d_18 s3d ...] [--sizes demo paper]
        [--threads 1] [--no-extras] [--json benchmarks/results/encoders.json]

Each (encoder, input size) runs in a fresh subprocess with ``--threads`` torch threads, in
train mode: one warm-up step, then ``iters`` timed steps of ``out = encoder(x);
out.pow(2).mean().backward()`` with gradients freed after each (as an optimiser's
``zero_grad(set_to_none=True)`` would). "clips/s" = batch · iters / seconds.
"MiB" is the peak resident memory during the timed steps (``VmHWM``, reset through
``/proc/self/clear_refs`` after ``malloc_trim``) minus the resident memory just before
them, i.e. activations + gradients + workspace, not the weights; the subprocess runs with
``MALLOC_MMAP_THRESHOLD_=65536`` so that freed activations leave the resident set.

Input sizes (batch, per clip):
    demo:  4 × video 3×8×48×64,    audio 1×40×101  (what ``mmssl demo`` feeds; every encoder)
    paper: 2 × video 3×16×112×112, audio 1×40×501  (Kinetics-style clips, 5 s of audio;
           the real-size encoders only)

For real-size encoders at the paper size the same subprocess also runs the variants
``ckpt`` (gradient checkpointing), and, with extras, ``channels_last`` for the
convolutional ones and ``compile`` (``torch.compile``, default inductor) for ``audio_resnet18``
at the demo size, so each ratio compares runs made minutes apart at most.
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import json
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

import torch

from mmssl.models import AUDIO_ENCODERS, VIDEO_ENCODERS

SIZES = {
    "demo": {"batch": 4, "video": (3, 8, 48, 64), "audio": (1, 40, 101)},
    "paper": {"batch": 2, "video": (3, 16, 112, 112), "audio": (1, 40, 501)},
}
TINY = {"tiny3d", "tiny_audio"}
CHANNELS_LAST = {"r3d_18": torch.channels_last_3d, "s3d": torch.channels_last_3d,
                 "tsm_resnet50": torch.channels_last, "audio_resnet50": torch.channels_last}
COMPILE = ("audio_resnet18",)
MMAP_THRESHOLD = 65536


def is_tiny(name: str) -> bool:
    return name in TINY or name.endswith("_tiny")


def modality_of(name: str) -> str:
    return "video" if name in VIDEO_ENCODERS else "audio"


def current_rss_mib() -> float:
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_rss_mib() -> float:
    return int(re.search(r"VmHWM:\s+(\d+)", Path("/proc/self/status").read_text())[1]) / 1024


def reset_peak() -> None:
    gc.collect()
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    Path("/proc/self/clear_refs").write_text("5")


def step(encoder, x) -> None:
    encoder(x).pow(2).mean().backward()
    encoder.zero_grad(set_to_none=True)


def measure(encoder, x, iters: int) -> dict:
    """Seconds per step (mean of ``iters`` after one warm-up) and peak MiB added."""
    step(encoder, x)
    reset_peak()
    baseline = current_rss_mib()
    started = time.perf_counter()
    for _ in range(iters):
        step(encoder, x)
    seconds = (time.perf_counter() - started) / iters
    return {"clips_per_s": round(x.shape[0] / seconds, 3), "step_s": round(seconds, 3),
            "peak_mib": round(peak_rss_mib() - baseline, 1), "iters": iters,
            "load_avg_1min": os.getloadavg()[0]}


def worker(name: str, size: str, extras: bool) -> dict:
    """All variants of one encoder at one size, in this fresh process."""
    modality = modality_of(name)
    registry = VIDEO_ENCODERS if modality == "video" else AUDIO_ENCODERS
    torch.manual_seed(0)
    encoder = registry.build(name).train()
    spec = SIZES[size]
    x = torch.randn(spec["batch"], *spec[modality])
    iters = 3 if is_tiny(name) else 2
    out = {"params_m": round(sum(p.numel() for p in encoder.parameters()) / 1e6, 2),
           "out_dim": encoder.out_dim, "plain": measure(encoder, x, iters)}
    real = not is_tiny(name)
    if real and size == "paper":
        encoder.gradient_checkpointing = True
        out["ckpt"] = measure(encoder, x, iters)
        encoder.gradient_checkpointing = False
    if extras and real and size == "paper" and name in CHANNELS_LAST:
        fmt = CHANNELS_LAST[name]
        # the 2D ResNets on frames get a 5-D clip; their frames become channels-last inside
        rank = 5 if fmt is torch.channels_last_3d else 4
        cl_x = x.contiguous(memory_format=fmt) if x.ndim == rank else x
        out["channels_last"] = measure(encoder.to(memory_format=fmt), cl_x, iters)
    if extras and size == "demo" and name in COMPILE:
        compiled = torch.compile(encoder)
        started = time.perf_counter()
        step(compiled, x)
        out["compile_first_step_s"] = round(time.perf_counter() - started, 1)
        out["compile"] = measure(compiled, x, iters)
    return out


def run_job(name: str, size: str, threads: int, extras: bool) -> dict:
    command = [sys.executable, __file__, "--worker", name, size, str(threads), str(int(extras))]
    # A fixed mmap threshold returns every large freed block to the OS at once, so resident
    # memory follows live tensors (glibc's adaptive threshold keeps freed activations
    # resident and would hide what gradient checkpointing frees).
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": str(MMAP_THRESHOLD)}
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr else "failed"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def print_table(results: dict) -> None:
    print(f"{'encoder':<24}{'size':<7}{'params M':>9}{'clips/s':>9}{'MiB':>8}"
          f"{'ckpt clips/s':>13}{'ckpt MiB':>9}{'other':>30}")
    for key, result in results.items():
        name, size = key.split("@")
        if "error" in result:
            print(f"{name:<24}{size:<7}  error: {result['error'][:80]}")
            continue
        plain, ckpt = result["plain"], result.get("ckpt")
        ckpt_cells = (f"{ckpt['clips_per_s']:>13.2f}{ckpt['peak_mib']:>9.0f}" if ckpt
                      else f"{'':>13}{'':>9}")
        other = ""
        for variant in ("channels_last", "compile"):
            if variant in result:
                ratio = result[variant]["clips_per_s"] / plain["clips_per_s"]
                other += f" {variant} ×{ratio:.2f}"
        print(f"{name:<24}{size:<7}{result['params_m']:>9.2f}{plain['clips_per_s']:>9.2f}"
              f"{plain['peak_mib']:>8.0f}{ckpt_cells}{other:>30}")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        name, size, threads, extras = sys.argv[2:6]
        torch.set_num_threads(int(threads))
        print(json.dumps(worker(name, size, bool(int(extras)))))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--encoders", nargs="*",
                        default=VIDEO_ENCODERS.list() + AUDIO_ENCODERS.list())
    parser.add_argument("--sizes", nargs="*", default=["demo", "paper"], choices=list(SIZES))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--no-extras", action="store_true")
    parser.add_argument("--json", default="benchmarks/results/encoders.json")
    args = parser.parse_args()
    results = {}
    for size in args.sizes:
        for name in args.encoders:
            if size == "paper" and is_tiny(name):
                continue
            results[f"{name}@{size}"] = run_job(name, size, args.threads, not args.no_extras)
            print(f"{name}@{size}: {json.dumps(results[f'{name}@{size}'])}", flush=True)
    print_table(results)
    record = {"machine": f"{platform.processor() or platform.machine()}, "
                         f"{os.cpu_count()} CPUs, torch {torch.__version__}",
              "threads": args.threads, "sizes": SIZES, "results": results}
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(record, indent=1))


if __name__ == "__main__":
    main()
