"""Decoding audio with PyAV: whole tracks, audio-only segments, and the buffer a demux pass
keeps while it cuts segments (:class:`AudioBuffer`). Everything comes out as float32 mono
at the requested rate (16 kHz in shards)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import av
import numpy as np

from mmssl.media.clip import Clip
from mmssl.media.probe import MediaError, MediaSource, open_media
from mmssl.shard_format import AUDIO_RATE

RESAMPLE_BATCH = 32  # decoded audio frames per resampler call (~1.5 s of 22.05 kHz AAC)


def cut_audio_segments(
    source: MediaSource,
    segments: Sequence[tuple[float, float]],
    audio_rate: int = AUDIO_RATE,
) -> list[Clip]:
    """One :class:`Clip` per segment with ``frames`` None, for a source without a video
    stream (AudioSet's ``.wav``/``.flac``).

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
            else resampled(resampler, frame)
            for frame in container.decode(stream)
        ]
    except av.FFmpegError as error:
        raise MediaError("decode_error", source, str(error)) from error
    if resampler is not None:
        chunks.append(resampled(resampler, None))
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


def resampled(resampler, frame) -> np.ndarray:
    """``frame`` (None: flush) through ``resampler``, as one float32 array."""
    parts = [f.to_ndarray().reshape(-1) for f in resampler.resample(frame)]
    return np.concatenate(parts).astype(np.float32) if parts else np.zeros(0, np.float32)


class AudioBuffer:
    """Decoded audio of a track, resampled to mono at ``rate`` in batches of
    :data:`RESAMPLE_BATCH` decoded frames (one resampler call per batch, not per 1024-sample
    codec frame; the output is the same), kept in chunks from time ``origin`` on; samples no
    open segment needs any more are let go (``dropped`` counts them, so indices stay exact).

    Decoding may start anywhere in a track whose first sample is at ``track_start`` seconds
    (after a seek). Resampling from input rate R to ``rate`` r repeats its filter phases every
    R / gcd(R, r) input samples, so the buffer starts at the first decoded sample on that
    grid (the few before it are dropped): output sample k then falls on the same instant,
    computed from the same input samples, as output sample k + origin·r of a pass from the
    start of the track. Where timestamps are coarser than a sample (Matroska's milliseconds)
    and the codec's frames are all ``frame_size`` samples long (AAC's 1024), the first
    frame's position is rounded to a whole number of frames, which it is.
    """

    def __init__(self, rate: int, track_start: float = 0.0, frame_size: int = 0):
        self.rate = rate
        self.track_start = track_start
        self.frame_size = frame_size
        self.resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
        self.origin: float | None = None
        self.skip = 0  # input samples still to drop to reach the phase grid
        self.raw: list = []
        self.chunks: list[np.ndarray] = []
        self.dropped = 0
        self.held = 0
        self.received = -np.inf  # time where the last frame added ends

    def add(self, frame) -> None:
        """One decoded audio frame."""
        if self.origin is None:
            rate = frame.sample_rate
            first = (float(frame.time or 0.0) - self.track_start) * rate
            step = self.frame_size or 1
            first = int(round(first / step)) * step
            self.skip = -first % (rate // math.gcd(rate, self.rate))
            self.origin = self.track_start + (first + self.skip) / rate
        if self.raw and not _same_layout(self.raw[0], frame):
            self._resample_raw()
        self.raw.append(frame)
        self.received = float(frame.time or 0.0) + frame.samples / frame.sample_rate
        if len(self.raw) >= RESAMPLE_BATCH:
            self._resample_raw()

    def reaches(self, time: float) -> bool:
        """Whether the samples up to ``time`` are ready to slice, resampling the frames held
        for the next batch early when they are what is missing."""
        if self.end < time <= self.received:
            self._resample_raw()
        return self.end >= time

    def finish(self) -> None:
        """The track has ended: resample what is left and flush the resampler."""
        if self.origin is not None:
            self._resample_raw()
            self._append(resampled(self.resampler, None))

    def _resample_raw(self) -> None:
        if self.raw:
            first = self.raw[0]
            samples = np.concatenate([frame.to_ndarray() for frame in self.raw], axis=1)
            if self.skip:
                # Packed formats interleave the channels along the one row.
                width = 1 if first.format.is_planar else len(first.layout.channels)
                dropped = min(self.skip, samples.shape[1] // width)
                samples, self.skip = samples[:, dropped * width :], self.skip - dropped
            if not samples.shape[1]:
                self.raw = []
                return
            joined = av.AudioFrame.from_ndarray(np.ascontiguousarray(samples),
                                                format=first.format.name,
                                                layout=first.layout.name)
            joined.sample_rate = first.sample_rate
            self.raw = []
            self._append(resampled(self.resampler, joined))

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


def _same_layout(first, frame) -> bool:
    return (first.format.name, first.layout.name, first.sample_rate) == (
        frame.format.name, frame.layout.name, frame.sample_rate)
