"""Prep against two floors, side by side: a decode-only pass of the whole files, and a
minimal video-only cutter that seeks to each clip.

    python benchmarks/prep_throughput.py --source VIDEO [--repeats 3] [--jobs clips sparse dense]
        [--settings 8:256 8:48] [--backends pyav decord torchcodec] [--heights 480]
        [--baseline-src DIR] [--workers 2] [--json benchmarks/results/prep_throughput.json]

``--source`` is a real video (the figures in ``benchmarks/README.md`` use a 122.7-s 1080p30
H.264 + AAC clip with 5.3-s GOPs). Every job works on four copies of it (symlinks; each is
read as a separate video) with ``--workers`` processes:

- ``clips``: four 10-s clips per copy (starts 10, 40, 70, 100 s): a third of each file;
- ``sparse``: two 8-s steps per copy (25 and 80 s), as YouCook2/COIN annotate a fraction of
  each video;
- ``dense``: consecutive 10-s samples over the first 120 s, as HowTo100M's narrations
  cover most of a video.

Rows, each one fresh process timed whole (start-up, imports and all; wall seconds, and CPU
seconds of the process and its workers), repeated ``--repeats`` times in interleaved rounds
(the median is reported):

- ``floor``: decode every video frame of the four copies, nothing else (the decoder's
  default threading, as prep uses it);
- ``cutter``: :func:`cut_file`, about thirty lines of PyAV: for each clip seek to the
  keyframe before it, decode, keep the frame shown at each output time, scale it straight
  to yuv420p with one reused swscale context, encode H.264 with prep's settings; video only;
- ``mmssl``: ``mmssl.prep.runner.run_prep`` on the same segments, default shard size
  (16 samples: the whole job is one shard): video and audio decoded, 16-kHz mono AAC
  encoded beside the H.264, tar shards written; one row per ``--backends`` name;
- ``mmssl@baseline``: the same, importing ``mmssl`` from ``--baseline-src`` (e.g. an
  export of an earlier commit) instead of this checkout.

``--heights 480`` adds the same jobs on a copy of the source re-encoded at that height
(x264 veryfast, the source's GOP, 3 B-frames), closer to what most downloads are.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from pathlib import Path

import av
import numpy as np
from av.video.reformatter import VideoReformatter

COPIES = 4
JOBS = {
    "clips": [(float(s), s + 10.0) for s in (10, 40, 70, 100)],
    "sparse": [(25.0, 33.0), (80.0, 88.0)],
    "dense": [(float(s), s + 10.0) for s in range(0, 120, 10)],
}


# --- what a child process runs -------------------------------------------------------------

def decode_whole(path: str) -> int:
    """The floor: decode every video frame once, convert nothing."""
    with av.open(path) as container:
        return sum(1 for _ in container.decode(container.streams.video[0]))


def cut_file(path: str, clips: list, fps: float, short_side: int, gop: int, crf: int) -> int:
    """The baseline cutter: each clip sought, decoded, picked, converted once, encoded."""
    from mmssl.media import VideoEncoding, mp4_bytes  # the encoder prep uses, same settings

    encoding, reformatter, written = VideoEncoding(fps=fps, gop=gop, crf=crf), VideoReformatter(), 0
    with av.open(path) as container:
        stream = container.streams.video[0]
        scale = short_side / min(stream.width, stream.height)
        size = (2 * round(stream.width * scale / 2), 2 * round(stream.height * scale / 2))
        for start, end in clips:
            container.seek(int(start / stream.time_base), stream=stream, backward=True)
            times = deque(start + np.arange(round((end - start) * fps)) / fps)
            images, previous, image = [], None, None
            for frame in container.decode(stream):
                while times and previous is not None and times[0] < frame.time:
                    if image is None:  # the frame on screen at times[0], converted once
                        image = reformatter.reformat(
                            previous, width=size[0], height=size[1], format="yuv420p",
                            interpolation="AREA", threads=1).to_ndarray()
                    images.append(image)
                    times.popleft()
                if not times:
                    break
                previous, image = frame, None
            written += len(mp4_bytes(np.stack(images), encoding, pixel_format="yuv420p"))
    return written


def run_mmssl(paths: list[str], clips: list, fps: float, short_side: int, backend: str,
              workers: int, out: str) -> int:
    """``run_prep`` over the copies; returns the bytes of the shards written."""
    from mmssl.config import PrepConfig
    from mmssl.prep.runner import run_prep
    from mmssl.prep.tasks import SegmentSpec, VideoTask

    tasks = [VideoTask("bench", Path(p).stem, p, tuple(SegmentSpec(a, b) for a, b in clips))
             for p in paths]
    config = PrepConfig(fps=fps, short_side=short_side, workers=workers, video_backend=backend)
    manifest = run_prep(tasks, out, config, "bench", progress=False)
    expected = len(paths) * len(clips)
    if manifest["total_samples"] != expected:
        raise RuntimeError(f"{manifest['total_samples']} of {expected} samples: "
                           f"{manifest['failed']}")
    return sum(f.stat().st_size for f in Path(out).glob("shard-*.tar"))


def child(spec: dict) -> None:
    """One measured run (``--child``), its result printed as JSON."""
    paths, workers = spec["paths"], spec["workers"]
    if spec["kind"] == "mmssl":
        if spec["backend"] != "pyav":
            import decode_backends  # registers the benchmark's torchcodec and decord backends

            del decode_backends
        result = run_mmssl(paths, spec["clips"], spec["fps"], spec["short_side"],
                           spec["backend"], workers, spec["out"])
    else:
        work = decode_whole if spec["kind"] == "floor" else partial(
            cut_file, clips=spec["clips"], fps=spec["fps"], short_side=spec["short_side"],
            gop=spec["gop"], crf=spec["crf"])
        with ProcessPoolExecutor(workers) as pool:
            result = sum(pool.map(work, paths))
    print(json.dumps({"result": result}))


# --- the parent: rounds of fresh processes ---------------------------------------------------

def measure(spec: dict, source_src: str | None) -> dict:
    """Run ``spec`` in a fresh interpreter; wall and CPU seconds of it and its workers."""
    env = dict(os.environ)
    if source_src:
        env["PYTHONPATH"] = source_src + os.pathsep + env.get("PYTHONPATH", "")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, __file__, "--child", json.dumps(spec)], env=env,
                          capture_output=True, text=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode:
        raise RuntimeError(f"{spec['kind']} failed:\n{done.stderr[-3000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall": wall, "cpu": cpu, **json.loads(done.stdout.strip().splitlines()[-1])}


def reencoded(source: str, height: int, out: Path) -> str:
    """``source`` at ``height`` lines: x264 veryfast, the source's GOP, 3 B-frames, AAC."""
    with av.open(source) as inp, av.open(str(out), "w") as output:
        video_in, audio_in = inp.streams.video[0], inp.streams.audio[0]
        keys = [e.timestamp for e in video_in.index_entries if e.is_keyframe]
        gop = int(round((keys[1] - keys[0]) * video_in.time_base * float(video_in.average_rate)))
        video = output.add_stream("libx264", rate=video_in.average_rate)
        video.height, video.pix_fmt = height, "yuv420p"
        video.width = 2 * round(video_in.width * height / video_in.height / 2)
        video.options = {"preset": "veryfast", "bf": "3",
                         "x264-params": f"keyint={gop}:min-keyint={gop}:scenecut=0"}
        audio = output.add_stream("aac", rate=audio_in.rate)
        for packet in inp.demux(video_in, audio_in):
            for frame in packet.decode():
                if packet.stream.type == "video":
                    frame = frame.reformat(width=video.width, height=height, format="yuv420p")
                    frame.pict_type = av.video.frame.PictureType.NONE
                    output.mux(video.encode(frame))
                else:
                    frame.pts = None
                    output.mux(audio.encode(frame))
        output.mux(video.encode(None))
        output.mux(audio.encode(None))
    return str(out)


def plan(args, sources: dict[str, list[str]], root: Path) -> list[dict]:
    """Every measured item of one round, in the order they run."""
    from mmssl.config import PrepConfig

    prep = PrepConfig()
    specs = []
    for name, paths in sources.items():
        base = {"source": name, "paths": paths, "workers": args.workers}
        specs.append({**base, "kind": "floor", "variant": "floor", "job": "whole files"})
        for job in args.jobs:
            for fps, short_side in args.settings:
                common = {**base, "job": job, "clips": JOBS[job], "fps": fps,
                          "short_side": short_side, "gop": prep.gop, "crf": prep.crf}
                specs.append({**common, "kind": "cutter", "variant": "cutter"})
                for backend in args.backends:
                    specs.append({**common, "kind": "mmssl", "variant": backend,
                                  "backend": backend})
                if args.baseline_src:
                    specs.append({**common, "kind": "mmssl", "variant": "mmssl@baseline",
                                  "backend": "pyav"})
    for index, spec in enumerate(specs):
        spec["out"] = str(root / f"out{index}")
    return specs


def key(spec: dict) -> tuple:
    return (spec["source"], spec["job"], spec.get("fps"), spec.get("short_side"),
            spec["variant"])


def run_rounds(args, specs: list[dict]) -> dict[tuple, list[dict]]:
    runs: dict[tuple, list[dict]] = {}
    for round_index in range(args.repeats):
        for spec in specs:
            if spec["kind"] == "mmssl":
                subprocess.run(["rm", "-rf", spec["out"]], check=True)
            baseline = args.baseline_src if spec["variant"] == "mmssl@baseline" else None
            result = measure(spec, baseline)
            runs.setdefault(key(spec), []).append(result)
            print(f"round {round_index}: {key(spec)} wall {result['wall']:.2f} s, "
                  f"cpu {result['cpu']:.2f} s", file=sys.stderr, flush=True)
    return runs


def summarise(specs: list[dict], runs: dict, durations: dict[str, float]) -> list[dict]:
    rows = []
    for spec in specs:
        if any(r["key"] == list(key(spec)) for r in rows):
            continue
        results = runs[key(spec)]
        wall = statistics.median(r["wall"] for r in results)
        cpu = statistics.median(r["cpu"] for r in results)
        clips = spec.get("clips", [(0.0, durations[spec["source"]])])
        clip_seconds = COPIES * sum(b - a for a, b in clips)
        rows.append({"key": list(key(spec)), "source": spec["source"], "job": spec["job"],
                     "variant": spec["variant"],
                     "setting": (f"{spec['fps']:g} fps, {spec['short_side']}"
                                 if "fps" in spec else "native"),
                     "coverage": round(clip_seconds / (COPIES * durations[spec["source"]]), 3),
                     "wall_seconds": round(wall, 2), "cpu_seconds": round(cpu, 2),
                     "walls": [round(r["wall"], 2) for r in results],
                     "cpus": [round(r["cpu"], 2) for r in results],
                     "source_seconds": round(COPIES * durations[spec["source"]], 1),
                     "clip_seconds": clip_seconds,
                     "clip_seconds_per_cpu_second": round(clip_seconds / cpu, 2),
                     "shard_bytes": results[-1]["result"] if spec["kind"] == "mmssl" else None})
    for row in rows:
        floor = next(r for r in rows if r["source"] == row["source"] and r["variant"] == "floor")
        cutter = next((r for r in rows if r["key"][:4] == row["key"][:4]
                       and r["variant"] == "cutter"), None)
        row["wall_vs_floor"] = round(row["wall_seconds"] / floor["wall_seconds"], 2)
        row["cpu_vs_floor"] = round(row["cpu_seconds"] / floor["cpu_seconds"], 2)
        if cutter:
            row["wall_vs_cutter"] = round(row["wall_seconds"] / cutter["wall_seconds"], 2)
            row["cpu_vs_cutter"] = round(row["cpu_seconds"] / cutter["cpu_seconds"], 2)
    return rows


def print_table(rows: list[dict]) -> None:
    print("| source | job (coverage) | row | setting | wall s | CPU s | wall × floor | "
          "CPU × floor | wall × cutter | CPU × cutter |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['source']} | {r['job']} ({r['coverage']:.0%}) | {r['variant']} | "
              f"{r['setting']} | {r['wall_seconds']:.2f} | {r['cpu_seconds']:.2f} | "
              f"{r['wall_vs_floor']:.2f} | {r['cpu_vs_floor']:.2f} | "
              f"{r.get('wall_vs_cutter', '–')} | {r.get('cpu_vs_cutter', '–')} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--source", help="a real video, at least 122 s long")
    parser.add_argument("--jobs", nargs="+", default=list(JOBS), choices=list(JOBS))
    parser.add_argument("--settings", nargs="+", default=["8:256"], help="fps:short_side")
    parser.add_argument("--backends", nargs="+", default=["pyav"],
                        help="video backends for the mmssl rows (torchcodec and decord come "
                             "from decode_backends.py)")
    parser.add_argument("--heights", nargs="*", type=int, default=[],
                        help="also run on the source re-encoded at these heights")
    parser.add_argument("--reencoded-only", action="store_true",
                        help="with --heights: leave out the source at its own height")
    parser.add_argument("--baseline-src", help="a source tree whose mmssl to time as well")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--json", default="benchmarks/results/prep_throughput.json")
    args = parser.parse_args()
    if args.child:
        return child(json.loads(args.child))
    if not args.source:
        parser.error("--source VIDEO is required")
    args.settings = [(float(s.split(":")[0]), int(s.split(":")[1])) for s in args.settings]
    with tempfile.TemporaryDirectory(prefix="mmssl-prep-bench-") as tmp:
        root = Path(tmp)
        originals = {} if args.reencoded_only else {f"{_height(args.source)}p": args.source}
        for height in args.heights:
            originals[f"{height}p"] = reencoded(args.source, height, root / f"src{height}.mp4")
        sources, durations = {}, {}
        for name, original in originals.items():
            sources[name] = []
            for copy in range(COPIES):
                link = root / f"{name}-copy{copy}.mp4"
                link.symlink_to(Path(original).resolve())
                sources[name].append(str(link))
            with av.open(original) as container:
                durations[name] = container.duration / av.time_base
        specs = plan(args, sources, root)
        rows = summarise(specs, run_rounds(args, specs), durations)
    print_table(rows)
    record = {"machine": {"platform": platform.platform(), "python": platform.python_version(),
                          "av": av.__version__, "cpus": os.cpu_count(),
                          "load_average": os.getloadavg()},
              "args": {k: v for k, v in vars(args).items() if k != "child"}, "rows": rows}
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(record, indent=1))


def _height(path: str) -> int:
    with av.open(path) as container:
        return container.streams.video[0].height


if __name__ == "__main__":
    main()
