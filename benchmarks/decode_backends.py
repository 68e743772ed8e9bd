"""Video decoders on the same sources and the same shards: PyAV (mmssl's), torchcodec and
decord, on CPU.

    python benchmarks/decode_backends.py --source VIDEO [--rounds 3] [--clips 200]
        [--json benchmarks/results/decode_backends.json]

Two questions, each timed in this one process, rounds interleaved, median per row (wall
seconds and this process's CPU seconds; one decoder thread each where the library lets us
choose: PyAV's default slice threading, torchcodec ``num_ffmpeg_threads=1``, decord
``num_threads=1``):

- **prep**: the frames of four 10-s clips (starts 10, 40, 70, 100 s) of ``--source`` at
  8 fps, short side 256, RGB: ``mmssl.media.decode.cut_segments`` (one pass with seeks),
  the same in yuv420p (what prep now hands the encoder), torchcodec
  (``VideoDecoder(..., transforms=[Resize])`` + ``get_frames_played_at``), decord
  (``VideoReader(width, height)`` + ``get_batch``);
- **loader**: ``--clips`` windows of 16 frames at random starts from shard samples (the
  ``--source`` clips above, prepared with ``PrepConfig(fps=8, short_side=256)``):
  ``mmssl.media.ClipReader(bytes).frames`` against torchcodec
  ``VideoDecoder(bytes).get_frames_in_range`` (``seek_mode`` approximate, and exact),
  and decord ``VideoReader(path)`` on the same samples written out as files (decord cannot
  read bytes).

Importing this module registers ``"torchcodec"`` and ``"decord"`` video backends in
``mmssl.media.backends.VIDEO_BACKENDS`` (``prep_throughput.py --backends torchcodec decord``
uses them to time the whole converter with their frames). Neither ships with mmssl: on CPU
neither was faster (``benchmarks/README.md``). A library that is not installed is left
out of the table.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from mmssl.media.backends import VIDEO_BACKENDS, VideoBackend
from mmssl.media.clip import Segment, scaled_size
from mmssl.media.probe import probe

CLIPS = [(float(s), s + 10.0) for s in (10, 40, 70, 100)]
WINDOW = 16


@VIDEO_BACKENDS.register("torchcodec")
class TorchCodecBackend(VideoBackend):
    """torchcodec's frames (scaled inside its FFmpeg filter graph), PyAV's audio."""

    def frames(self, source, segments, fps, short_side=None):
        from torchcodec.decoders import VideoDecoder
        from torchcodec.transforms import Resize

        info = probe(source)
        width, height = scaled_size(info.width, info.height, short_side)
        decoder = VideoDecoder(str(source), dimension_order="NHWC", num_ffmpeg_threads=1,
                               transforms=[Resize((height, width))])
        first = decoder.metadata.begin_stream_seconds
        last = decoder.metadata.end_stream_seconds
        out = []
        for start, end in segments:
            times = Segment(float(start), float(end)).frame_times(fps)
            times = times[(times >= first) & (times < last)]
            out.append(decoder.get_frames_played_at(times.tolist()).data.numpy())
        return out


@VIDEO_BACKENDS.register("decord")
class DecordBackend(VideoBackend):
    """decord's frames (scaled inside its FFmpeg filter graph; paths only), PyAV's audio;
    the frame shown at each output time, as mmssl picks it."""

    def frames(self, source, segments, fps, short_side=None):
        import decord

        info = probe(source)
        width, height = scaled_size(info.width, info.height, short_side)
        reader = decord.VideoReader(str(source), width=width, height=height, num_threads=1)
        starts = reader.get_frame_timestamp(range(len(reader)))[:, 0]
        ends = starts[-1] + (starts[-1] - starts[-2])
        out = []
        for start, end in segments:
            times = Segment(float(start), float(end)).frame_times(fps)
            times = times[(times >= starts[0] - 1e-6) & (times < ends - 1e-6)]
            indices = np.searchsorted(starts, times + 1e-6, side="right") - 1
            unique, inverse = np.unique(indices, return_inverse=True)
            out.append(reader.get_batch(unique.tolist()).asnumpy()[inverse])
        return out


MODULES = {"pyav": "av"}  # a row's library, by the first word of its name → its module


def installed(name: str) -> bool:
    return importlib.util.find_spec(MODULES.get(name, name)) is not None


def prep_paths(source: str) -> dict:
    """Ways to get the frames of :data:`CLIPS` at 8 fps, short side 256."""
    from mmssl.media.decode import cut_segments

    paths = {
        "pyav (mmssl, rgb24)": lambda: cut_segments(source, CLIPS, 8.0, 256),
        "pyav (mmssl, yuv420p)": lambda: cut_segments(source, CLIPS, 8.0, 256,
                                                      pixel_format="yuv420p"),
        "torchcodec": lambda: TorchCodecBackend().frames(source, CLIPS, 8.0, 256),
        "decord": lambda: DecordBackend().frames(source, CLIPS, 8.0, 256),
    }
    return {name: run for name, run in paths.items() if installed(name.split()[0])}


def loader_paths(samples: list[bytes], files: list[str], starts: np.ndarray) -> dict:
    from mmssl.media import ClipReader

    def pyav():
        for index, start in enumerate(starts):
            with ClipReader(samples[index % len(samples)]) as reader:
                reader.frames(int(start), WINDOW, 8.0)

    def torchcodec(mode):
        from torchcodec.decoders import VideoDecoder

        for index, start in enumerate(starts):
            decoder = VideoDecoder(samples[index % len(samples)], seek_mode=mode,
                                   dimension_order="NHWC", num_ffmpeg_threads=1)
            decoder.get_frames_in_range(int(start), int(start) + WINDOW)

    def decord_files():
        import decord

        for index, start in enumerate(starts):
            reader = decord.VideoReader(files[index % len(files)], num_threads=1)
            reader.get_batch(list(range(int(start), int(start) + WINDOW))).asnumpy()

    paths = {"pyav (mmssl ClipReader)": pyav,
             "torchcodec approximate": lambda: torchcodec("approximate"),
             "torchcodec exact": lambda: torchcodec("exact"),
             "decord (from files)": decord_files}
    return {name: run for name, run in paths.items() if installed(name.split()[0])}


def timed_rounds(paths: dict, rounds: int) -> dict[str, dict]:
    times: dict[str, list] = {name: [] for name in paths}
    for _ in range(rounds):
        for name, run in paths.items():
            wall, cpu = time.perf_counter(), time.process_time()
            run()
            times[name].append((time.perf_counter() - wall, time.process_time() - cpu))
    return {name: {"wall": statistics.median(w for w, _ in values),
                   "cpu": statistics.median(c for _, c in values),
                   "walls": [round(w, 3) for w, _ in values]}
            for name, values in times.items()}


def shard_samples(source: str, root: Path) -> tuple[list[bytes], list[str]]:
    """The clips of ``source`` prepared as shard samples (mp4 bytes), and as files."""
    from mmssl.config import PrepConfig
    from mmssl.prep.convert import convert_video
    from mmssl.prep.tasks import SegmentSpec, VideoTask

    task = VideoTask("bench", "source", source, tuple(SegmentSpec(a, b) for a, b in CLIPS))
    samples = [s["mp4"] for s in convert_video(task, PrepConfig(fps=8, short_side=256)).samples]
    files = []
    for index, data in enumerate(samples):
        files.append(str(root / f"sample{index}.mp4"))
        Path(files[-1]).write_bytes(data)
    return samples, files


def main() -> None:
    import torch

    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", required=True)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--clips", type=int, default=200)
    parser.add_argument("--json", default="benchmarks/results/decode_backends.json")
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows = []
    prep = timed_rounds(prep_paths(args.source), args.rounds)
    frames = 4 * 80
    for name, result in prep.items():
        rows.append({"question": "prep", "path": name, **result,
                     "frames_per_cpu_second": round(frames / result["cpu"], 1)})
    with tempfile.TemporaryDirectory() as tmp:
        samples, files = shard_samples(args.source, Path(tmp))
        starts = np.random.default_rng(0).integers(0, 80 - WINDOW, args.clips)
        loader = timed_rounds(loader_paths(samples, files, starts), args.rounds)
    for name, result in loader.items():
        rows.append({"question": "loader", "path": name, **result,
                     "clips_per_cpu_second": round(args.clips / result["cpu"], 1)})
    print("| question | path | wall s | CPU s | per CPU second |")
    print("|---|---|---|---|---|")
    for row in rows:
        rate = row.get("frames_per_cpu_second") or row.get("clips_per_cpu_second")
        unit = "frames" if row["question"] == "prep" else "clips"
        print(f"| {row['question']} | {row['path']} | {row['wall']:.2f} | {row['cpu']:.2f} | "
              f"{rate} {unit} |")
    versions = {name: importlib.metadata.version(name) for name in
                ("av", "torch", "torchcodec", "decord") if installed(name)}
    record = {"machine": {"platform": platform.platform(), **versions}, "args": vars(args),
              "rows": rows}
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(record, indent=1))


if __name__ == "__main__":
    main()
