"""Seconds of source video the converter gets through per wall second, against the floor.

    python benchmarks/prep_throughput.py [--json benchmarks/results/prep_throughput.json]
        [--settings 8:48 10:128 10:224] [--synth-videos 6]

Paths, each timed on one process, one video at a time:

- ``floor pyav``: decode every video frame of the source once with PyAV, no conversion
  (the decoder's default threading, as the converter uses it);
- ``floor pyav-threads``: the same with FFmpeg frame threading on (``thread_type=AUTO``);
- ``convert pyav``: ``mmssl.prep.convert.convert_video`` (decode, pick frames at ``fps``,
  resize, audio to 16 kHz, re-encode H.264 + AAC, pack the sample);
- ``convert decord``: the same function with ``PrepConfig.video_backend="decord"`` (video
  frames from decord, audio still PyAV's ``cut_audio_segments``).

Inputs: the real 122-s 1080p H.264 + AAC clip, cut into twelve 10-s segments (0–120 s), and a
few synthetic HowTo100M videos (128×96, 16 fps) cut into samples by the HowTo100M
converter's own segment planner. Throughput is *source* seconds / wall seconds: every path
reads the whole source. The issue's goal: ``convert pyav`` at default settings (8 fps,
short side 48) within 1.5× of the floor's wall time.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import av

from mmssl.config import PrepConfig, SynthConfig
from mmssl.media import probe
from mmssl.prep import convert
from mmssl.prep.howto100m import build_tasks, read_captions
from mmssl.prep.tasks import SegmentSpec, VideoTask
from mmssl.synth.generate import generate_world

REAL = "/work/shared/media/real_h264_aac_1080p.mp4"


def decode_floor(path: str, thread_type: str | None = None) -> None:
    """Decode every video frame once, converting nothing."""
    with av.open(path) as container:
        stream = container.streams.video[0]
        if thread_type:
            stream.thread_type = thread_type
        for _ in container.decode(stream):
            pass


def timed(run) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def convert_all(tasks: list[VideoTask], config: PrepConfig) -> None:
    for task in tasks:
        samples, failures = convert.convert_video(task, config)
        if failures or not samples:
            raise RuntimeError(f"{task.video_id}: {failures}")


def real_tasks() -> list[VideoTask]:
    segments = tuple(SegmentSpec(float(s), float(s + 10)) for s in range(0, 120, 10))
    return [VideoTask("bench", "real_1080p", REAL, segments)]


def synth_tasks(root: Path, videos: int) -> list[VideoTask]:
    config = SynthConfig(howto_videos=videos, youcook_val_videos=0, youcook_train_videos=0)
    generate_world(root, config, progress=False)
    captions, _ = read_captions(root / "howto100m" / "caption.json")
    paths = {p.stem: str(p) for p in (root / "howto100m" / "videos").glob("*.mp4")}
    return build_tasks(captions, paths, {}, PrepConfig().max_sample_seconds)


def measure_input(name: str, tasks: list[VideoTask], settings: list[tuple[float, int]]
                  ) -> list[dict]:
    """Rows for one input: both floors, then each setting × backend."""
    seconds = sum(probe(task.path).duration for task in tasks)
    rows = []

    def row(path: str, setting: str, wall: float) -> None:
        rows.append({"input": name, "path": path, "setting": setting,
                     "source_seconds": round(seconds, 2), "wall_seconds": round(wall, 3),
                     "video_seconds_per_second": round(seconds / wall, 2)})
        print(f"{name:<12}{path:<22}{setting:<14}{wall:>8.2f}{seconds / wall:>9.1f}", flush=True)

    for thread_type in (None, "AUTO"):
        wall = timed(lambda t=thread_type: [decode_floor(k.path, t) for k in tasks])
        row("floor pyav" + ("-threads" if thread_type else ""), "native", wall)
    for fps, short_side in settings:
        for backend in ("pyav", "decord"):
            config = PrepConfig(fps=fps, short_side=short_side, video_backend=backend)
            wall = timed(lambda c=config: convert_all(tasks, c))
            row(f"convert {backend}", f"{fps:g} fps, {short_side}", wall)
    floor = rows[0]["wall_seconds"]
    for item in rows:
        item["wall_vs_floor"] = round(item["wall_seconds"] / floor, 2)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--json", default="benchmarks/results/prep_throughput.json")
    parser.add_argument("--settings", nargs="+", default=["8:48", "10:128", "10:224"],
                        help="fps:short_side pairs; the first is the default PrepConfig")
    parser.add_argument("--synth-videos", type=int, default=6)
    args = parser.parse_args()
    settings = [(float(s.split(":")[0]), int(s.split(":")[1])) for s in args.settings]
    print(f"{'input':<12}{'path':<22}{'setting':<14}{'wall s':>8}{'video s/s':>9}")
    with tempfile.TemporaryDirectory(prefix="mmssl-prep-bench-") as root:
        tasks = {"synth": synth_tasks(Path(root), args.synth_videos), "real 1080p": real_tasks()}
        rows = [r for name, items in tasks.items() for r in measure_input(name, items, settings)]
    record = {"machine": {"platform": platform.platform(), "python": platform.python_version(),
                          "av": av.__version__}, "rows": rows}
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(record, indent=1))


if __name__ == "__main__":
    main()
