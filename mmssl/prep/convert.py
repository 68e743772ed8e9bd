"""Turning one source video and its segments into shard samples.

Frames and sound come from the video backend ``PrepConfig.video_backend`` names
(:mod:`mmssl.media.backends`), segment by segment as the backend finishes them; the PyAV
backend hands over frames already in the encoder's yuv420p, so each stored frame is
converted once. Sources without a video stream are a failure (``no_video_stream``) except
for the datasets in :data:`AUDIO_ONLY_DATASETS`, whose audio-only files become audio-only
samples (AAC in mp4, ``num_frames`` 0, ``has_video`` false; see :mod:`mmssl.shard_format`).

A download that stops decoding part-way (truncated, damaged) keeps the samples that end
before the first undecodable point (``Converted.truncated`` says how much), and each segment
it loses is a ``decode_error``; with ``PrepConfig.keep_truncated`` off (``--strict``) such a
file is dropped whole, one ``decode_error``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from mmssl.config import PrepConfig
from mmssl.media import (
    AUDIO_RATE,
    MediaError,
    MediaInfo,
    VideoEncoding,
    mp4_bytes,
    probe,
)
from mmssl.media.backends import cut_audio_clips, cut_clips
from mmssl.media.clip import Clip
from mmssl.media.frames import YUV420, frame_size
from mmssl.prep.tasks import SegmentSpec, VideoTask
from mmssl.shard_format import MEDIA_KEY, META_KEY, decode_meta, encode_meta, sample_key

# Datasets whose sources are often audio-only downloads (AudioSet's .wav/.flac), and any
# folder of media prepared without annotations (mmssl.prep.videos, which also prepares
# the sounds the Python API embeds). Listed explicitly so that a video dataset keeps
# counting a video-less file as a failure.
AUDIO_ONLY_DATASETS = frozenset({"audioset", "videos"})


@dataclass(frozen=True)
class Failure:
    video_id: str
    reason: str
    detail: str = ""


@dataclass(frozen=True)
class Truncated:
    """What a video that stops decoding part-way kept: ``samples`` samples of ``seconds`` in
    all, everything before ``decoded_to`` seconds; ``segments_lost`` segments came later."""

    samples: int
    seconds: float
    segments_lost: int
    decoded_to: float


@dataclass
class Converted:
    """One video's samples (in segment order), its failures, and, for a truncated download
    that kept something, what it kept."""

    samples: list[dict] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    truncated: Truncated | None = None


def convert_video(task: VideoTask, config: PrepConfig) -> Converted:
    """Samples for every usable segment of ``task``, and what failed with its reason.

    Nothing raises: a video that cannot be read yields no samples and one failure; a bad
    segment (zero length, past the end) yields one failure and the rest still convert. Each
    clip is encoded as soon as the decoder has passed its end, so memory holds the decoded
    frames of the open segments only, never a whole video's.
    """
    if task.path is None:
        return Converted([], [Failure(task.video_id, "missing_file", "not found among the videos")])
    valid, failures = _valid_segments(task)
    if not valid:
        return Converted([], failures)
    samples, lost = {}, []
    try:
        info = probe(task.path)
        _check_sane(info, config, task.path)
        valid, failures = _within(task, valid, info.duration, failures)
        audio_only = task.dataset in AUDIO_ONLY_DATASETS and not info.has_video
        encoding = VideoEncoding(fps=config.fps, gop=config.gop, crf=config.crf)
        for index, outcome in _cut(task.path, [(s.start, s.end) for s in valid], config,
                                   audio_only):
            if isinstance(outcome, MediaError) and outcome.decoded_to is not None:
                lost.append(outcome)
            elif isinstance(outcome, MediaError):
                failures.append(Failure(task.video_id, outcome.reason, outcome.detail))
            else:
                samples[index] = _sample(task, valid[index], outcome, encoding, config)
    except MediaError as error:  # the file as a whole: nothing of it is kept
        return Converted([], failures + [Failure(task.video_id, error.reason, error.detail)])
    kept = _unique_keys([samples[index] for index in sorted(samples)])
    if not lost:
        return Converted(kept, failures)
    if not kept or not config.keep_truncated:
        return Converted([], failures + [Failure(task.video_id, "decode_error", lost[0].detail)])
    seconds = sum(sample_seconds(sample) for sample in kept)
    truncated = Truncated(len(kept), round(seconds, 3), len(lost), lost[0].decoded_to)
    lost_failures = [Failure(task.video_id, "decode_error", error.detail) for error in lost]
    return Converted(kept, failures + lost_failures, truncated)


def _unique_keys(samples: list[dict]) -> list[dict]:
    """Segments of one video starting at the same millisecond get ``_2``, ``_3``... keys
    (:func:`~mmssl.shard_format.sample_key`): a reader would drop a repeated key."""
    seen: dict[str, int] = {}
    for sample in samples:
        key = sample["__key__"]
        seen[key] = seen.get(key, 0) + 1
        if seen[key] > 1:
            sample["__key__"] = f"{key}_{seen[key]}"
    return samples


def _check_sane(info: MediaInfo, config: PrepConfig, path: str) -> None:
    """Refuse, before decoding, sizes and lengths no real download has (a damaged header,
    or a file that would tie a worker up for hours)."""
    if info.has_video and not 0 < info.width * info.height <= config.max_pixels:
        raise MediaError("absurd_resolution", path, f"{info.width}x{info.height}")
    if info.duration > config.max_seconds:
        raise MediaError("absurd_duration", path, f"{info.duration:.0f} s")


def _cut(path: str, spans: list[tuple[float, float]], config: PrepConfig,
         audio_only: bool) -> Iterator[tuple[int, Clip | MediaError]]:
    """``(index, clip or per-segment error)`` for each span, as the backend produces them."""
    if audio_only:
        return cut_audio_clips(path, spans, AUDIO_RATE)
    return cut_clips(path, spans, config.fps, config.short_side, config.video_backend,
                     AUDIO_RATE, pixel_format=YUV420)


def _valid_segments(task: VideoTask) -> tuple[list[SegmentSpec], list[Failure]]:
    valid, failures = [], []
    for spec in task.segments:
        if not spec.end > spec.start >= 0:
            failures.append(Failure(task.video_id, "empty_segment",
                                    f"segment {spec.start}-{spec.end}"))
        else:
            valid.append(spec)
    return valid, failures


def _within(task: VideoTask, valid: list[SegmentSpec], duration: float,
            failures: list[Failure]) -> tuple[list[SegmentSpec], list[Failure]]:
    """The segments cut to the probed duration (:meth:`SegmentSpec.cut_to`); those that
    start past it are counted as ``segment_out_of_range``."""
    cut = [spec.cut_to(duration) for spec in valid]
    failures = failures + [Failure(task.video_id, "segment_out_of_range",
                                   f"segment {spec.start:g}-{spec.end:g} s, video "
                                   f"{duration:.2f} s") for spec, kept in zip(valid, cut,
                                                                               strict=True)
                           if kept is None]
    return [kept for kept in cut if kept is not None], failures


def _sample(task: VideoTask, spec: SegmentSpec, clip: Clip, encoding: VideoEncoding,
            config: PrepConfig) -> dict:
    audio = None if clip.audio is None else clip.audio[None]
    has_video = clip.frames is not None
    num_frames = len(clip.frames) if has_video else 0
    height, width = frame_size(clip.frames, clip.pixel_format) if has_video else (0, 0)
    texts = [
        {"start": round(t["start"] - clip.start, 3), "end": round(t["end"] - clip.start, 3),
         "text": t["text"]}
        for t in spec.texts
    ]
    meta = {
        "dataset": task.dataset, "video_id": task.video_id, "source": task.path,
        "start": round(clip.start, 3), "end": round(clip.end, 3), "fps": config.fps,
        "num_frames": int(num_frames), "width": int(width), "height": int(height),
        "has_video": has_video, "has_audio": audio is not None, "audio_rate": AUDIO_RATE,
        "audio_seekable": audio is not None, "texts": texts, "labels": spec.labels,
    }
    return {
        "__key__": sample_key(task.video_id, clip.start),
        MEDIA_KEY: mp4_bytes(clip.frames, encoding, audio, AUDIO_RATE, clip.pixel_format,
                             seekable_audio=True),
        META_KEY: encode_meta(meta),
    }


def sample_seconds(sample: dict) -> float:
    """The length of a sample, from its JSON member."""
    meta = decode_meta(sample[META_KEY])
    return meta["end"] - meta["start"]
