"""Any folder of videos → shards: fixed windows with no texts (no annotations needed).

Every video found (a directory tree of ``.mp4``/``.mkv``/``.webm``, ids being file stems,
or an ``video_id,path`` CSV) is cut into windows of ``window`` seconds every ``stride``
seconds (:func:`window_spans`), each window one sample with ``texts`` empty and
``labels`` empty. The result serves embedding (``mmssl embed --shards``), linear probes
and self-supervised training (SimCLR, BYOL, video-audio NCE). A video's duration is read
from its container header before the shards are planned; a file whose header cannot be
read, or gives no duration, is counted as a failure and the others are converted.
A file with sound but no picture becomes audio-only samples (as AudioSet's do).

    python -m mmssl.prep.videos --videos DIR_OR_CSV --out SHARDS --window 10 [--stride 5]

The same windows and the same conversion (:func:`video_task` then
:func:`mmssl.prep.convert.convert_video`) prepare raw videos in memory for ``mmssl embed
--videos`` and the Python API, so a window embedded from the raw file equals the one
embedded from these shards.
"""

from __future__ import annotations

import math
from pathlib import Path

from mmssl.config import PrepConfig
from mmssl.media import MediaError, probe
from mmssl.prep.arguments import add_prep_arguments, parse_prep, prep_parser
from mmssl.prep.convert import Failure
from mmssl.prep.executors import RunOptions
from mmssl.prep.find_videos import locate_videos
from mmssl.prep.runner import run_prep
from mmssl.prep.summary import describe
from mmssl.prep.tasks import SegmentSpec, VideoTask

DATASET = "videos"
TIME_DECIMALS = 3  # window times in ms, as sample keys store them


def window_spans(duration: float, window: float, stride: float | None = None
                 ) -> list[tuple[float, float]]:
    """``(start, end)`` windows covering ``[0, duration]`` seconds.

    Starts ``0, s, 2s, ...`` (``s = stride``, default ``window``) while the whole window
    fits; when those leave the end uncovered, one more window ends at ``duration``, so
    every window is ``window`` seconds long and the video is covered to its end. A video
    shorter than a window, or ``window`` 0, gives one window: the whole video.
    """
    if duration <= 0:
        raise ValueError(f"a video of duration {duration} s has no window")
    stride = stride or window
    if window < 0 or stride < 0:
        raise ValueError(f"window and stride must be >= 0, got {window}, {stride}")
    if not window or window >= duration:
        return [(0.0, round(duration, TIME_DECIMALS))]
    count = int(math.floor((duration - window) / stride + 1e-9)) + 1
    spans = [(round(k * stride, TIME_DECIMALS), round(k * stride + window, TIME_DECIMALS))
             for k in range(count)]
    if spans[-1][1] < duration - 10 ** -TIME_DECIMALS:
        spans.append((round(duration - window, TIME_DECIMALS), round(duration, TIME_DECIMALS)))
    return spans


def video_task(video_id: str, path: str | None, spans) -> VideoTask:
    """The conversion of ``spans`` of one video, as unannotated samples."""
    return VideoTask(DATASET, video_id, path, tuple(SegmentSpec(float(start), float(end))
                                                    for start, end in spans))


def video_duration(path: str) -> float:
    """Seconds of a video, from its container header; :class:`MediaError` when the file
    cannot be read (``unreadable``, ``missing_file``) or the header gives no duration
    (``unknown_duration``)."""
    duration = probe(path).duration
    if not duration > 0:
        raise MediaError("unknown_duration", path, "the container header gives no duration")
    return duration


def build_tasks(videos: dict[str, str], window: float, stride: float | None = None,
                strict: bool = False) -> tuple[list[VideoTask], list[Failure]]:
    """One task per video (its windows), and a failure for each video whose duration
    cannot be read (raised when ``strict``)."""
    tasks, failures = [], []
    for video_id, path in sorted(videos.items()):
        try:
            spans = window_spans(video_duration(path), window, stride)
        except MediaError as error:
            if strict:
                raise ValueError(f"{path}: {error}") from error
            failures.append(Failure(video_id, error.reason, error.detail or str(path)))
            continue
        tasks.append(video_task(video_id, path, spans))
    return tasks, failures


def prepare(videos: str | Path, out: str | Path, config: PrepConfig, window: float,
            stride: float | None = None, strict: bool = False, progress: bool = True,
            run: RunOptions | None = None) -> dict:
    """The whole conversion; returns the manifest. ``strict``: stop at the first video
    whose header cannot be read."""
    tasks, failures = build_tasks(locate_videos(videos), window, stride, strict)
    return run_prep(tasks, out, config, DATASET, failures, progress, run=run)


def main(argv: list[str] | None = None, prog: str | None = None) -> dict:
    parser = prep_parser(DATASET, __doc__, prog)
    parser.add_argument("--window", type=float, required=True,
                        help="seconds per sample (0: one sample per whole video)")
    parser.add_argument("--stride", type=float, default=None,
                        help="seconds between window starts (default: the window)")
    add_prep_arguments(parser)
    args, config, run = parse_prep(parser, argv)
    if args.window < 0 or (args.stride is not None and args.stride <= 0):
        parser.error(f"--window must be >= 0 and --stride > 0, got {args.window}, "
                     f"{args.stride}")
    manifest = prepare(args.videos, args.out, config, args.window, args.stride, args.strict,
                       run=run)
    print(describe(manifest))
    return manifest


if __name__ == "__main__":
    main()
