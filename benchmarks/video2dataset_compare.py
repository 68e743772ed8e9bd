"""The same clipping/resizing job through our converter and through video2dataset.

    python benchmarks/video2dataset_compare.py --source VIDEO
        [--v2d-python /tmp/v2d-venv/bin/python] [--short-sides 256 48]
        [--json benchmarks/results/video2dataset_compare.json]

The job: four copies of the real 122-s 1080p H.264 + AAC clip, four
10-s clips from each (starts 10, 40, 70, 100 s), exact cuts, short side 256, 8 fps, two
worker processes. Rows:

- ``mmssl``: ``mmssl.prep.runner.run_prep`` over four ``VideoTask`` s (one shard per copy,
  ``PrepConfig(fps=8, short_side=S, workers=2, samples_per_shard=4)``): decode, pick frames
  at 8 fps, resize, audio to 16 kHz, re-encode H.264 + AAC, write tar shards;
- ``floor pyav``: decode every video frame of the four copies once with PyAV, nothing
  converted, on one process and on two processes (two copies each);
- ``video2dataset``: only with ``--v2d-python``, the interpreter of a separate virtual
  environment holding video2dataset (it pins torch 2.1 and numpy 1.26, so it can never share
  ours). Its ``video2dataset(...)`` runs there in a subprocess on a parquet input (``clips`` a
  real list column, ``url`` local paths): ClippingSubsampler(precision="exact"),
  ResolutionSubsampler(resize_mode="scale", video_size=S), FrameSubsampler(frame_rate=8),
  AudioRateSubsampler(16 kHz, m4a), webdataset output, 2 processes × 1 thread.
  ``--v2d-variants`` adds runs without some subsamplers, to show which one loses samples.

"samples" are the samples actually found in the output tars (not what a tool reports).
"source s/s" is seconds of *source* video (4 × 122.7 s) per wall second, as in
``prep_throughput.py``, although the clips cover only 160 s of it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tarfile
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import av

from mmssl.config import PrepConfig
from mmssl.media import probe
from mmssl.prep.runner import run_prep
from mmssl.prep.tasks import SegmentSpec, VideoTask

COPIES = 4
STARTS = (10.0, 40.0, 70.0, 100.0)
CLIP_SECONDS = 10.0
FPS = 8.0
WORKERS = 2

# Runs inside the video2dataset interpreter: argv[1] is a JSON job, the last line printed
# is a JSON result.
V2D_CHILD = r"""
import glob, json, os, sys, tarfile, time
import pyarrow as pa, pyarrow.parquet as pq
job = json.loads(sys.argv[1])
from video2dataset import video2dataset
import video2dataset as v2d_module
from importlib.metadata import version
table = pa.table({"url": job["paths"], "clips": [job["clips"]] * len(job["paths"])})
pq.write_table(table, job["parquet"])
config = {
    "subsampling": job["subsampling"],
    "reading": {"yt_args": {"download_size": 360, "download_audio_rate": 44100,
                            "yt_metadata_args": None},
                "timeout": 60, "sampler": None},
    "storage": {"number_sample_per_shard": job["rows_per_shard"], "oom_shard_count": 5,
                "captions_are_subtitles": False},
    "distribution": {"processes_count": job["processes"], "thread_count": job["threads"],
                     "subjob_size": 1000, "distributor": "multiprocessing"},
}
started = time.perf_counter()
error = None
try:
    video2dataset(url_list=job["parquet"], output_folder=job["out"], output_format="webdataset",
                  input_format="parquet", encode_formats={"video": "mp4", "audio": "m4a"},
                  url_col="url", clip_col="clips", enable_wandb=False, tmp_dir=job["tmp"],
                  config=config)
except BaseException as exc:
    error = repr(exc)
wall = time.perf_counter() - started
keys, members, tar_bytes = set(), {}, 0
for path in sorted(glob.glob(os.path.join(job["out"], "*.tar"))):
    tar_bytes += os.path.getsize(path)
    with tarfile.open(path) as tar:
        for name in tar.getnames():
            key, ext = name.split(".", 1)
            members[ext] = members.get(ext, 0) + 1
            if ext in ("mp4", "m4a"):
                keys.add(key)
print(json.dumps({"wall_seconds": wall, "samples": len(keys), "members": members,
                  "tar_bytes": tar_bytes, "error": error, "version": version("video2dataset")}))
"""


def v2d_reported(out: Path) -> dict:
    """What video2dataset's own ``*_stats.json`` files claim, summed over shards."""
    reported = {"count": 0, "successes": 0, "failed_to_download": 0,
                "failed_to_subsample": 0, "status_dict": {}}
    for path in sorted(out.glob("*_stats.json")):
        stats = json.loads(path.read_text())
        for name in ("count", "successes", "failed_to_download", "failed_to_subsample"):
            reported[name] += stats.get(name, 0)
        for name, count in (stats.get("status_dict") or {}).items():
            reported["status_dict"][name] = reported["status_dict"].get(name, 0) + count
    return reported


def make_copies(root: Path, source: str) -> list[str]:
    """Four symlinks to the real clip (each tool reads each one as a separate video)."""
    paths = []
    for index in range(COPIES):
        path = root / f"copy{index}.mp4"
        path.symlink_to(Path(source).resolve())
        paths.append(str(path))
    return paths


def decode_floor(path: str) -> None:
    with av.open(path) as container:
        stream = container.streams.video[0]
        for _ in container.decode(stream):
            pass


def decode_many(paths: list[str]) -> None:
    for path in paths:
        decode_floor(path)


def floor(paths: list[str], processes: int) -> float:
    started = time.perf_counter()
    if processes == 1:
        decode_many(paths)
    else:
        with ProcessPoolExecutor(max_workers=processes) as pool:
            list(pool.map(decode_many, [paths[i::processes] for i in range(processes)]))
    return time.perf_counter() - started


def mmssl_run(paths: list[str], short_side: int, out: Path) -> dict:
    segments = tuple(SegmentSpec(s, s + CLIP_SECONDS) for s in STARTS)
    tasks = [VideoTask("bench", Path(p).stem, p, segments) for p in paths]
    config = PrepConfig(fps=FPS, short_side=short_side, workers=WORKERS,
                        samples_per_shard=len(STARTS))
    started = time.perf_counter()
    manifest = run_prep(tasks, out, config, "bench", progress=False)
    wall = time.perf_counter() - started
    samples = 0
    for tar_path in sorted(out.glob("*.tar")):
        with tarfile.open(tar_path) as tar:
            samples += len({n.split(".", 1)[0] for n in tar.getnames() if n.endswith(".mp4")})
    return {"wall_seconds": wall, "samples": samples,
            "reported": {"total_samples": manifest["total_samples"],
                         "failed": manifest["failed"]},
            "tar_bytes": sum(p.stat().st_size for p in out.glob("*.tar"))}


def v2d_subsampling(short_side: int, variant: str) -> dict:
    subsampling = {
        "ClippingSubsampler": {"args": {"min_length": 0.0, "precision": "exact"}},
        "ResolutionSubsampler": {"args": {"resize_mode": "scale", "video_size": short_side,
                                          "encode_format": "mp4"}},
        "FrameSubsampler": {"args": {"frame_rate": int(FPS), "encode_format": "mp4"}},
        "AudioRateSubsampler": {"args": {"sample_rate": 16000, "encode_format": "m4a"}},
    }
    if variant == "no-frame":
        del subsampling["FrameSubsampler"]
    elif variant == "clip-only":
        for name in ("ResolutionSubsampler", "FrameSubsampler", "AudioRateSubsampler"):
            del subsampling[name]
    return subsampling


def v2d_run(python: str, paths: list[str], short_side: int, root: Path, variant: str) -> dict:
    out = root / f"v2d-{short_side}-{variant}"
    tmp = root / f"v2d-tmp-{short_side}-{variant}"
    tmp.mkdir()
    job = {"paths": paths, "clips": [[s, s + CLIP_SECONDS] for s in STARTS],
           "parquet": str(root / "input.parquet"), "out": str(out), "tmp": str(tmp),
           "subsampling": v2d_subsampling(short_side, variant),
           "rows_per_shard": COPIES // WORKERS, "processes": WORKERS, "threads": 1}
    started = time.perf_counter()
    proc = subprocess.run([python, "-c", V2D_CHILD, json.dumps(job)], capture_output=True,
                          text=True, cwd=root, env={**os.environ, "WANDB_MODE": "disabled"})
    process_wall = time.perf_counter() - started
    lines = proc.stdout.strip().splitlines()
    try:
        result = json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        result = {"wall_seconds": None, "samples": 0, "error": f"exit {proc.returncode}"}
    result["process_wall_seconds"] = process_wall
    result["reported"] = v2d_reported(out)
    log = "\n".join(lines[:-1]) + "\n" + proc.stderr
    (root / f"v2d-{short_side}-{variant}.log").write_text(log)
    result["log_errors"] = sorted({line.strip() for line in log.splitlines()
                                   if "rror" in line or "failed" in line})[:20]
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--source", required=True, help="a real video of at least 110 s")
    parser.add_argument("--json", default="benchmarks/results/video2dataset_compare.json")
    parser.add_argument("--short-sides", type=int, nargs="+", default=[256, 48])
    parser.add_argument("--v2d-python", default=None,
                        help="python of a virtual environment holding video2dataset")
    parser.add_argument("--v2d-variants", nargs="*", default=[],
                        choices=["no-frame", "clip-only"],
                        help="extra video2dataset runs without some subsamplers")
    parser.add_argument("--keep", default=None, help="keep outputs and logs in this folder")
    args = parser.parse_args()

    rows = []
    with tempfile.TemporaryDirectory(prefix="mmssl-v2d-bench-") as tmp:
        root = Path(args.keep or tmp)
        root.mkdir(parents=True, exist_ok=True)
        (root / "inputs").mkdir()
        paths = make_copies(root / "inputs", args.source)
        source = sum(probe(p).duration for p in paths)
        clip_seconds = COPIES * len(STARTS) * CLIP_SECONDS

        def row(tool: str, setting: str, result: dict) -> None:
            wall = result.get("wall_seconds")
            rows.append({"tool": tool, "setting": setting, **result,
                         "source_seconds": round(source, 2),
                         "clip_seconds": clip_seconds,
                         "source_seconds_per_second": round(source / wall, 2) if wall else None})
            shown = f"{wall:8.2f}" if wall else f"{'—':>8}"
            rate = f"{source / wall:9.1f}" if wall else f"{'—':>9}"
            print(f"{tool:<26}{setting:<16}{shown}{result.get('samples', 0):>9}{rate}",
                  flush=True)

        print(f"{'tool':<26}{'setting':<16}{'wall s':>8}{'samples':>9}{'src s/s':>9}")
        for processes in (1, WORKERS):
            row(f"floor pyav ({processes} proc)", "decode only",
                {"wall_seconds": floor(paths, processes), "samples": 0})
        for short_side in args.short_sides:
            setting = f"8 fps, {short_side}"
            row("mmssl", setting, mmssl_run(paths, short_side, root / f"mmssl-{short_side}"))
            if args.v2d_python:
                for variant in ["full", *args.v2d_variants]:
                    name = "video2dataset" + ("" if variant == "full" else f" ({variant})")
                    result = v2d_run(args.v2d_python, paths, short_side, root, variant)
                    row(name, setting, result)
                    if result.get("error") or not result.get("samples"):
                        print("   ", result.get("error"), result.get("reported"),
                              result.get("log_errors", [])[:5], flush=True)
    record = {"machine": {"platform": platform.platform(), "python": platform.python_version(),
                          "av": av.__version__, "cpus": os.cpu_count()},
              "job": {"copies": COPIES, "starts": STARTS, "clip_seconds": CLIP_SECONDS,
                      "fps": FPS, "workers": WORKERS, "source": args.source},
              "rows": rows}
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(record, indent=1))


if __name__ == "__main__":
    sys.exit(main())
