"""Decoding with PyAV: frames resampled to a target rate and size, audio as 16 kHz mono.

One pass over the file serves many segments (:func:`cut_segments`), so a converter that
cuts twenty clips from one video reads it once; :func:`cut_audio_segments` does the same
for a source with no video stream. Times are seconds from the container's
start. Frame-rate conversion picks, for each output time ``t_k = start + k / fps``, the
last source frame shown at or before ``t_k`` (what a viewer would see at that instant),
from each frame's own timestamp, so variable-frame-rate sources need nothing special.
Frames stored sideways with a display matrix (phone videos) come out upright.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import av
import numpy as np
from av.video.reformatter import VideoReformatter

from mmssl.media.probe import MediaError, MediaSource, open_media
from mmssl.shard_format import AUDIO_RATE

RESAMPLE_BATCH = 32  # decoded audio frames per resampler call (~1.5 s of 22.05 kHz AAC)
_EPS = 1e-6


@dataclass
class Segment:
    """A time range to cut, in seconds, and the frames collected while the file was read:
    ``frames[:count]``, an array allocated once for every output time (no copy at the end)."""

    start: float
    end: float
    frames: np.ndarray | None = None
    count: int = 0

    def frame_times(self, fps: float) -> np.ndarray:
        count = max(1, int(round((self.end - self.start) * fps)))
        return self.start + np.arange(count) / fps

    def add(self, image: np.ndarray, capacity: int) -> None:
        if self.frames is None:
            self.frames = np.empty((capacity, *image.shape), np.uint8)
        self.frames[self.count] = image
        self.count += 1

    def take(self) -> np.ndarray:
        """The collected (count, H, W, 3) frames; the segment lets go of them."""
        frames, self.frames = self.frames[: self.count], None
        return frames


@dataclass
class Clip:
    """A decoded segment: ``frames`` (T, H, W, 3) uint8 at the requested fps (None for an
    audio-only source) and ``audio`` (N,) float32 mono at 16 kHz (None without audio)."""

    start: float
    end: float
    frames: np.ndarray | None
    audio: np.ndarray | None


def scaled_size(width: int, height: int, short_side: int | None) -> tuple[int, int]:
    """(width, height) with the short side set to ``short_side``, both rounded to even."""
    if not short_side:
        return width - width % 2, height - height % 2
    scale = short_side / min(width, height)
    return (2 * max(1, round(width * scale / 2)), 2 * max(1, round(height * scale / 2)))


def upright(image: np.ndarray, rotation: int) -> np.ndarray:
    """``image`` (H, W, 3) as it is meant to be shown: phones store frames sideways with a
    display matrix saying to rotate them ``rotation`` degrees counter-clockwise (±90, 180)."""
    turns = int(round(rotation / 90)) % 4
    return np.ascontiguousarray(np.rot90(image, turns)) if turns else image


def cut_segments(
    source: MediaSource,
    segments: Sequence[tuple[float, float]],
    fps: float,
    short_side: int | None = None,
    audio_rate: int = AUDIO_RATE,
) -> list[Clip]:
    """Decode ``source`` once and return one :class:`Clip` per ``(start, end)`` segment.

    Raises :class:`MediaError` (``no_video_stream``, ``decode_error``,
    ``segment_out_of_range``) for a file that cannot serve the segments.
    """
    clips: list[Clip | None] = [None] * len(segments)
    for index, outcome in iter_segments(source, segments, fps, short_side, audio_rate):
        if isinstance(outcome, MediaError):
            raise outcome
        clips[index] = outcome
    return clips


def iter_segments(
    source: MediaSource,
    segments: Sequence[tuple[float, float]],
    fps: float,
    short_side: int | None = None,
    audio_rate: int = AUDIO_RATE,
) -> Iterator[tuple[int, Clip | MediaError]]:
    """One demux pass over ``source`` yielding ``(index, clip)`` for each segment as soon as
    the file has been read past its end, so a long video never holds more decoded frames than
    its open segments need (the order is that of segment ends, not of ``segments``).

    A segment no frame falls in yields ``(index, MediaError("segment_out_of_range"))`` and
    the others still come. Raises :class:`MediaError` ``no_video_stream`` before yielding
    anything, and ``decode_error`` for a file damaged part-way (segments already yielded
    stay valid: everything they hold was decoded).
    """
    wanted = [Segment(float(s), float(e)) for s, e in segments]
    with open_media(source) as container:
        if not container.streams.video:
            raise MediaError("no_video_stream", source)
        cutter = _SegmentCutter(container, wanted, fps, short_side, audio_rate, source)
        yield from cutter.run()


def cut_audio_segments(
    source: MediaSource,
    segments: Sequence[tuple[float, float]],
    audio_rate: int = AUDIO_RATE,
) -> list[Clip]:
    """The audio-only counterpart of :func:`cut_segments`: one :class:`Clip` per segment with
    ``frames`` None, for a source without a video stream (AudioSet's ``.wav``/``.flac``).

    A segment running past the end of the track ends where the track ends. Raises
    :class:`MediaError` ``no_video_stream`` (detail: no audio either) when the file has no
    audio, ``segment_out_of_range`` when a segment starts at or after the track's end.
    """
    with open_media(source) as container:
        if not container.streams.audio:
            raise MediaError("no_video_stream", source, "and no audio stream either")
        stream = container.streams.audio[0]
        origin = float(stream.start_time * stream.time_base) if stream.start_time else 0.0
        audio = decode_audio_stream(container, audio_rate, source)
    track_end = origin + len(audio) / audio_rate
    clips = []
    for start, wanted_end in segments:
        start, end = float(start), min(float(wanted_end), track_end)
        if end <= start:
            raise MediaError("segment_out_of_range", source,
                             f"{start:.2f}-{float(wanted_end):.2f} s, track ends {track_end:.2f} s")
        clips.append(Clip(start, end, None, slice_audio(audio, origin, start, end, audio_rate)))
    return clips


def decode_audio(source: MediaSource, audio_rate: int = AUDIO_RATE) -> np.ndarray | None:
    """The whole audio track as (N,) float32 mono at ``audio_rate``; None if there is none."""
    with open_media(source) as container:
        return decode_audio_stream(container, audio_rate, source)


def decode_audio_stream(container, audio_rate: int, source: MediaSource) -> np.ndarray | None:
    """Decode the first audio stream of an open ``container`` from its current position."""
    if not container.streams.audio:
        return None
    # Already mono at the target rate (every shard sample): skip the resampler.
    direct = is_mono_at(container.streams.audio[0], audio_rate, source)
    stream = container.streams.audio[0]
    resampler = (None if direct
                 else av.AudioResampler(format="flt", layout="mono", rate=audio_rate))
    try:
        chunks = [
            frame.to_ndarray().reshape(-1).astype(np.float32, copy=False) if direct
            else _resampled(resampler, frame)
            for frame in container.decode(stream)
        ]
    except av.FFmpegError as error:
        raise MediaError("decode_error", source, str(error)) from error
    if resampler is not None:
        chunks.append(_resampled(resampler, None))
    return np.concatenate(chunks) if chunks else np.zeros(0, np.float32)


def is_mono_at(stream, audio_rate: int, source: MediaSource) -> bool:
    """Whether an audio stream already decodes to float mono at ``audio_rate`` (no
    resampling needed). Integer samples (16-bit PCM WAV) always go through the resampler,
    which scales them into [-1, 1]."""
    context = stream.codec_context
    if context is None:  # a damaged header can leave a stream without a decoder
        raise MediaError("decode_error", source, "audio stream has no decoder")
    floats = context.format is not None and context.format.name in ("flt", "fltp")
    return context.sample_rate == audio_rate and context.channels == 1 and floats


def slice_audio(audio: np.ndarray, origin: float, start: float, end: float,
                rate: int, dropped: int = 0) -> np.ndarray:
    """Samples of a track whose first sample is at time ``origin``, covering [start, end),
    zero-padded where the track is shorter, so the length is always round((end-start)*rate).
    ``audio`` holds the track from sample ``dropped`` on (the earlier ones were let go)."""
    count = max(0, int(round((end - start) * rate)))
    first = int(round((start - origin) * rate)) - dropped
    out = np.zeros(count, np.float32)
    lo, hi = max(first, 0), min(first + count, len(audio))
    if hi > lo:
        out[lo - first : hi - first] = audio[lo:hi]
    return out


def _same_layout(first, frame) -> bool:
    return (first.format.name, first.layout.name, first.sample_rate) == (
        frame.format.name, frame.layout.name, frame.sample_rate)


def _resampled(resampler, frame) -> np.ndarray:
    parts = [f.to_ndarray().reshape(-1) for f in resampler.resample(frame)]
    return np.concatenate(parts).astype(np.float32) if parts else np.zeros(0, np.float32)


class _SegmentCutter:
    """The single demux pass behind :func:`iter_segments`: video frames are routed to the
    segments' output times (:class:`_FrameRouter`), audio is resampled to mono and kept from
    the start of the earliest open segment on; a segment is handed out once the video has
    passed its last output time and the audio has reached its end."""

    def __init__(self, container, wanted: list[Segment], fps: float, short_side, audio_rate,
                 source):
        self.container, self.source = container, source
        self.wanted, self.fps, self.rate = wanted, fps, audio_rate
        self.router = _FrameRouter(wanted, fps, short_side)
        self.open = set(range(len(wanted)))
        self.audio = _AudioBuffer(audio_rate) if container.streams.audio else None

    def run(self) -> Iterator[tuple[int, Clip | MediaError]]:
        video = self.container.streams.video[0]
        streams = [video] + ([self.container.streams.audio[0]] if self.audio else [])
        try:
            for packet in self.container.demux(*streams):
                for frame in packet.decode():
                    if packet.stream.type == "video":
                        self.router.push(frame)
                    else:
                        self.audio.add(frame)
                yield from self._finished(at_end=False)
        except av.FFmpegError as error:
            raise MediaError("decode_error", self.source, str(error)) from error
        self.router.finish()
        if self.audio is not None:
            self.audio.finish()
        yield from self._finished(at_end=True)

    def _finished(self, at_end: bool) -> Iterator[tuple[int, Clip | MediaError]]:
        done = [i for i in sorted(self.open) if at_end or self._complete(i)]
        for index in done:
            self.open.discard(index)
            yield index, self._clip(self.wanted[index])
        if done and self.audio is not None:
            self.audio.drop_before(min((self.wanted[i].start for i in self.open), default=None))

    def _complete(self, index: int) -> bool:
        segment = self.wanted[index]
        video_done = not self.router.pending(index)
        audio_done = self.audio is None or self.audio.end >= segment.end
        return video_done and audio_done

    def _clip(self, segment: Segment) -> Clip | MediaError:
        if not segment.count:
            return MediaError("segment_out_of_range", self.source,
                              f"{segment.start:.2f}-{segment.end:.2f} s")
        # A segment running past the last frame ends where the frames end.
        end = segment.start + segment.count / self.fps
        audio = None
        if self.audio is not None and self.audio.started:
            audio = self.audio.slice(segment.start, end)
        return Clip(segment.start, end, segment.take(), audio)


class _AudioBuffer:
    """Decoded audio of a track starting at time ``origin``, resampled to mono at ``rate``
    in batches of :data:`RESAMPLE_BATCH` decoded frames (one resampler call per batch, not
    per 1024-sample codec frame; the output is the same), kept in chunks; samples no open
    segment needs any more are let go (``dropped`` counts them, so indices stay exact)."""

    def __init__(self, rate: int):
        self.rate = rate
        self.resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
        self.origin: float | None = None
        self.raw: list = []
        self.chunks: list[np.ndarray] = []
        self.dropped = 0
        self.held = 0

    def add(self, frame) -> None:
        """One decoded audio frame."""
        if self.origin is None:
            self.origin = float(frame.time or 0.0)
        if self.raw and not _same_layout(self.raw[0], frame):
            self._resample_raw()
        self.raw.append(frame)
        if len(self.raw) >= RESAMPLE_BATCH:
            self._resample_raw()

    def finish(self) -> None:
        """The track has ended: resample what is left and flush the resampler."""
        if self.origin is not None:
            self._resample_raw()
            self._append(_resampled(self.resampler, None))

    def _resample_raw(self) -> None:
        if self.raw:
            first = self.raw[0]
            joined = av.AudioFrame.from_ndarray(
                np.concatenate([frame.to_ndarray() for frame in self.raw], axis=1),
                format=first.format.name, layout=first.layout.name)
            joined.sample_rate = first.sample_rate
            self.raw = []
            self._append(_resampled(self.resampler, joined))

    def _append(self, samples: np.ndarray) -> None:
        self.chunks.append(samples)
        self.held += len(samples)

    @property
    def started(self) -> bool:
        return self.origin is not None

    @property
    def end(self) -> float:
        """Time up to which audio has been decoded (−inf before the first frame)."""
        if self.origin is None:
            return -np.inf
        return self.origin + (self.dropped + self.held) / self.rate

    def slice(self, start: float, end: float) -> np.ndarray:
        return slice_audio(self._joined(), self.origin, start, end, self.rate, self.dropped)

    def drop_before(self, time: float | None) -> None:
        """Let go of the samples before ``time`` (all of them when ``time`` is None)."""
        if self.origin is None:
            return
        first_needed = (self.dropped + self.held if time is None
                        else int((time - self.origin) * self.rate))
        count = min(max(first_needed - self.dropped, 0), self.held)
        if count:
            self.chunks = [self._joined()[count:]]
            self.dropped, self.held = self.dropped + count, self.held - count

    def _joined(self) -> np.ndarray:
        if len(self.chunks) != 1:
            self.chunks = [np.concatenate(self.chunks) if self.chunks
                           else np.zeros(0, np.float32)]
        return self.chunks[0]


class _FrameRouter:
    """Hands each decoded frame to the segments' output times it covers.

    A source frame at time ``ts`` covers output times in [ts, next_ts); the last frame
    covers one frame interval. Output times before the first frame are left out, never
    invented. Frames are converted to RGB (and resized) only when an output time needs them,
    and at most once.
    """

    def __init__(self, segments: list[Segment], fps: float, short_side: int | None):
        self.short_side = short_side
        self.queues = [(segment, list(segment.frame_times(fps))) for segment in segments]
        self.previous = None
        self.previous_image = None
        self.reformatter = VideoReformatter()
        self.last_time = 0.0
        self.interval = 0.0

    def push(self, frame) -> None:
        time = float(frame.time or 0.0)
        if self.previous is not None:
            self._emit_before(time)
            self.interval = time - self.last_time
        else:
            self._drop_before(time)
        self.previous, self.previous_image, self.last_time = frame, None, time

    def pending(self, index: int) -> bool:
        """Whether segment ``index`` still waits for output times."""
        return bool(self.queues[index][1])

    def finish(self) -> None:
        if self.previous is not None:
            self._emit_before(self.last_time + max(self.interval, _EPS))

    def _drop_before(self, time: float) -> None:
        for _, times in self.queues:
            while times and times[0] < time - _EPS:
                times.pop(0)

    def _emit_before(self, time: float) -> None:
        for segment, times in self.queues:
            while times and times[0] < time - _EPS:
                segment.add(self._image(), capacity=segment.count + len(times))
                times.pop(0)

    def _image(self) -> np.ndarray:
        if self.previous_image is None:
            width, height = scaled_size(self.previous.width, self.previous.height, self.short_side)
            image = self.reformatter.reformat(
                self.previous, width=width, height=height, format="rgb24", interpolation="AREA",
                threads=1,
            ).to_ndarray()
            self.previous_image = upright(image, self.previous.rotation)
        return self.previous_image
