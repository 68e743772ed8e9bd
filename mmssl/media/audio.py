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
# Input a fresh resampler takes in before the samples used: its filter spans a few ms.
RESAMPLER_WARMUP_SECONDS = 0.1
# Audio arriving this much after where the previous frame ended means data is missing.
AUDIO_JUMP_SECONDS = 0.1


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
        origin = stream_start(stream)
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
            mono_samples(frame) if direct else resampled(resampler, frame)
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


def mono_samples(frame) -> np.ndarray:
    """The (N,) float32 samples of a decoded frame that :func:`is_mono_at` said is float
    mono: a view of its one plane (``to_ndarray`` stacks planes, several times slower for
    the ~1,000 small frames of every minute of AAC)."""
    return np.frombuffer(frame.planes[0], np.float32, frame.samples)


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


class AudioTrack:
    """The first audio stream of a container that nothing else reads or seeks, decoded by
    one decoder from the start of the track, every packet in order, and resampled from
    where segments need it: each sample is the one :func:`decode_audio` gives for the whole
    track, whatever else is cut before or after it.

    Why from the start, not from a seek near the segment: FFmpeg's AAC decoder fills the
    bands an encoder marked as noise (perceptual noise substitution, which its encoder uses
    on noisy sound) from a pseudo-random generator seeded when the decoder opens and
    advanced by every noise band decoded since; neither a flush nor any pre-roll puts a
    decoder started after a seek back in step (it stays a fixed number of draws behind for
    the rest of the track). A segment's noisy frames then depended on where the video's seek
    landed, so on which other segments were cut with it (up to 0.023 on the synthetic
    world's audio, 10 s past the seek). Frames before the samples wanted are decoded, which
    keeps the generator in step, but neither converted nor resampled (AAC decodes at ~1000x
    real time here, a few percent of decoding the video it comes with).

    Use: :meth:`start_at` before each run of segments (times never go back), then
    :meth:`reaches` pulls packets until a segment's sound is in; :meth:`slice` cuts it.
    Where the data breaks (a decoder error, timestamps that jump ahead), :attr:`broken` says
    where and why, and nothing after it is decoded.
    """

    def __init__(self, container, rate: int):
        self.stream = container.streams.audio[0]
        self.rate = rate
        self.track_start = stream_start(self.stream)
        self.packets = iter(container.demux(self.stream))
        self.position = 0  # input samples decoded so far, from the start of the track
        context = self.stream.codec_context  # None: a damaged header left no decoder
        self.input_rate = context.sample_rate if context is not None else 0  # then frames'
        self.next_time: float | None = None  # where the last frame ended, by timestamp
        self.buffer: AudioBuffer | None = None
        self.ended = False
        self.broken: tuple[float, str] | None = None

    def start_at(self, time: float) -> None:
        """The next segments start at ``time`` or later: let go of the samples before it,
        and unless the decoder is already near it, resample afresh from
        :data:`RESAMPLER_WARMUP_SECONDS` before it (frames up to there are only decoded)."""
        keep = time - RESAMPLER_WARMUP_SECONDS
        if self.buffer is not None:
            self.buffer.drop_before(time)
            # A fresh start must come after what is decoded, on the resampler's grid.
            step = phase_step(self.input_rate, self.rate) / max(self.input_rate, 1)
            if self.decoded_to > keep - step:
                return
        self.buffer = AudioBuffer(self.rate, self.track_start, keep)

    def reaches(self, time: float) -> bool:
        """Decode until the samples up to ``time`` are resampled; False when the track ends
        or breaks first."""
        while not self.buffer.reaches(time):
            if self.ended:
                return False
            self._decode_packet()
        return True

    @property
    def started(self) -> bool:
        """Whether the samples kept since the last fresh start include a decoded one."""
        return self.buffer is not None and self.buffer.started

    def slice(self, start: float, end: float) -> np.ndarray:
        return self.buffer.slice(start, end)

    def drop_before(self, time: float) -> None:
        self.buffer.drop_before(time)

    @property
    def decoded_to(self) -> float:
        """Time where the frames decoded so far end."""
        return self.track_start + self.position / max(self.input_rate, 1)

    def _decode_packet(self) -> None:
        if self.stream.codec_context is None:
            return self._end("audio stream has no decoder")
        try:
            frames = next(self.packets).decode()
        except StopIteration:
            return self._end(None)
        except av.FFmpegError as error:
            return self._end(str(error))
        for frame in frames:
            time = float(frame.time or 0.0)
            if self.next_time is not None and time > self.next_time + AUDIO_JUMP_SECONDS:
                return self._end(f"audio jumps from {self.next_time:.2f} s to {time:.2f} s")
            self.next_time = time + frame.samples / frame.sample_rate
            self.input_rate = frame.sample_rate
            self.buffer.add(frame, self.position)
            self.position += frame.samples

    def _end(self, broken: str | None) -> None:
        self.ended = True
        if broken is not None:
            self.broken = (self.decoded_to, broken)
        self.buffer.finish()


def phase_step(input_rate: int, rate: int) -> int:
    """Input samples after which resampling from ``input_rate`` to ``rate`` repeats its
    filter phases: input_rate / gcd(input_rate, rate)."""
    return input_rate // math.gcd(input_rate, rate)


class AudioBuffer:
    """Decoded audio of a track from time ``keep`` on (a little before: see below),
    resampled to mono at ``rate`` in batches of :data:`RESAMPLE_BATCH` decoded frames (one
    resampler call per batch, not per 1024-sample codec frame; the output is the same);
    samples no open segment needs any more are let go (``dropped`` counts them, so indices
    stay exact).

    Its frames come from a decoder that has decoded the track from its start
    (:class:`AudioTrack`), each with its position (the samples decoded before it), but
    resampling starts near ``keep``: resampling from input rate R to ``rate`` r repeats its
    filter phases every P = R / gcd(R, r) input samples (:func:`phase_step`), so the buffer
    keeps from input sample ``first``, the multiple of P at or before ``keep`` (or the first
    one after the frames decoded before it). Output sample k then falls on the same instant,
    computed from the same input samples, as output sample k + first·r/R of a resampler run
    from the start of the track, once the filter has taken in
    :data:`RESAMPLER_WARMUP_SECONDS` of input.
    """

    def __init__(self, rate: int, track_start: float, keep: float):
        self.rate, self.track_start, self.keep = rate, track_start, keep
        self.resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
        self.first: int | None = None  # input sample where resampling starts
        self.origin = track_start  # time of output sample 0 (set with ``first``)
        self.started = False
        self.raw: list = []
        self.skip = 0  # samples of the first raw frame before ``first``
        self.chunks: list[np.ndarray] = []
        self.dropped = 0
        self.held = 0
        self.received = -np.inf  # time where the last frame added ends

    def add(self, frame, position: int) -> None:
        """One decoded frame whose first sample is sample ``position`` of the track; a
        frame that ends before ``first`` is passed over (neither converted nor kept)."""
        rate = frame.sample_rate
        if self.first is None:
            step = phase_step(rate, self.rate)
            grid = math.floor((self.keep - self.track_start) * rate / step) * step
            self.first = max(grid, -(-position // step) * step)
            self.origin = self.track_start + self.first / rate
        if position + frame.samples <= self.first:
            return
        if not self.started:
            self.started, self.skip = True, self.first - position
        if self.raw and not _same_layout(self.raw[0], frame):
            self._resample_raw()
        self.raw.append(frame)
        self.received = self.origin + (position + frame.samples - self.first) / rate
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
        if self.started:
            self._resample_raw()
            self._append(resampled(self.resampler, None))

    def _resample_raw(self) -> None:
        if not self.raw:
            return
        first = self.raw[0]
        samples = np.concatenate([frame.to_ndarray() for frame in self.raw], axis=1)
        self.raw = []
        if self.skip:
            # Packed formats interleave the channels along the one row.
            width = 1 if first.format.is_planar else len(first.layout.channels)
            samples, self.skip = samples[:, self.skip * width :], 0
        joined = av.AudioFrame.from_ndarray(np.ascontiguousarray(samples),
                                            format=first.format.name, layout=first.layout.name)
        joined.sample_rate = first.sample_rate
        self._append(resampled(self.resampler, joined))

    def _append(self, samples: np.ndarray) -> None:
        self.chunks.append(samples)
        self.held += len(samples)

    @property
    def end(self) -> float:
        """Time up to which audio has been resampled."""
        return self.origin + (self.dropped + self.held) / self.rate

    def slice(self, start: float, end: float) -> np.ndarray:
        return slice_audio(self._joined(), self.origin, start, end, self.rate, self.dropped)

    def drop_before(self, time: float) -> None:
        """Let go of the samples before ``time``."""
        count = min(max(int((time - self.origin) * self.rate) - self.dropped, 0), self.held)
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


def stream_start(stream) -> float:
    """Time of a stream's first sample or frame, in seconds (0 when the header says none)."""
    return float((stream.start_time or 0) * stream.time_base)
