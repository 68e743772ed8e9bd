"""Random access into a short constant-frame-rate clip, such as a shard sample.

The file is opened once; each window of frames is read by seeking to the keyframe before it
and decoding forward (shards use a short GOP, so that costs at most one GOP); each audio
window by seeking to one AAC frame before it when the track was encoded for that
(``seekable_audio``), else from the track's start as far as the windows reach (see
:meth:`ClipReader.audio_window`). Converting to RGB reuses one swscale context, which is
several times faster than a fresh conversion per frame, and gives planar RGB, which
batches (channels first) take without a transpose.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np
from av.video.reformatter import VideoReformatter

from mmssl.media.audio import decode_audio, decode_audio_stream, is_mono_at, mono_samples
from mmssl.media.decode import AUDIO_RATE
from mmssl.media.probe import MediaError, MediaSource, open_media

Planes = tuple[np.ndarray, np.ndarray, np.ndarray]  # a frame's R, G, B planes, (H, W) uint8
AAC_FRAME = 1024  # samples per AAC-LC frame: the pre-roll a seeked audio window decodes


class ClipReader:
    """``with ClipReader(mp4) as r: r.frames(first, count, fps); r.audio()``.

    ``seekable_audio``: the audio track is AAC without perceptual noise substitution (shard
    samples that say so, :func:`mmssl.shard_format.audio_seekable`), so an audio window
    may be decoded after a seek."""

    def __init__(self, source: MediaSource, audio_rate: int = AUDIO_RATE,
                 seekable_audio: bool = False):
        self.source = source
        self.audio_rate = audio_rate
        self.seekable_audio = seekable_audio
        self.container = open_media(source)
        self.video = self.container.streams.video[0] if self.container.streams.video else None
        if self.video is not None:
            # One decoding thread: parallelism comes from loader workers, and FFmpeg's
            # default (a thread per core) in every open reader of every worker would
            # start hundreds of threads for clips too small to share.
            self.video.codec_context.thread_count = 1
        self.has_audio = bool(self.container.streams.audio)
        self._reformatter = VideoReformatter()
        self._audio: np.ndarray | None = None
        self._prefix: _TrackPrefix | None = None

    def __enter__(self) -> ClipReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._prefix is not None:
            self._prefix.close()
        self.container.close()

    def frames(self, first: int, count: int, fps: float) -> np.ndarray:
        """Frames ``first .. first + count - 1`` as (count, H, W, 3) uint8; past the last
        frame, the last frame repeats."""
        return np.stack([np.stack(planes, axis=-1)
                         for planes in self.iter_frames(first, count, fps)])

    def iter_frames(self, first: int, count: int, fps: float) -> Iterator[Planes]:
        """The frames of :meth:`frames` one at a time, each as its (R, G, B) planes,
        (H, W) uint8 views of the converted frame: a consumer that wants channels first,
        as batches hold them, copies each plane where it belongs once, with no transpose."""
        given, last = 0, None
        for frame in self._decoded(first, count, fps):
            given, last = given + 1, self._planes(frame)
            yield last
        for _ in range(count - given):
            yield last

    @property
    def frame_size(self) -> tuple[int, int]:
        """(H, W) of the video stream's frames, as its header gives them."""
        if self.video is None:
            raise MediaError("no_video_stream", self.source)
        return self.video.codec_context.height, self.video.codec_context.width

    def cut_into(self, out: np.ndarray, first: int, fps: float, corner: tuple[int, int],
                 frame_size: tuple[int, int]) -> None:
        """The frames of :meth:`frames` (``T = out.shape[1]`` of them), each one's (h, w) =
        ``out.shape[2:]`` box with top-left ``corner`` written into ``out`` (3, T, h, w)
        uint8 as R, G, B planes: one copy per plane from the converted frame, nothing else
        allocated (a training batch's row, filled in place). A :class:`ValueError` when a
        frame is not ``frame_size`` (H, W), the size the box was drawn for."""
        count, (height, width) = out.shape[1], out.shape[2:]
        rows = slice(corner[0], corner[0] + height)
        columns = slice(corner[1], corner[1] + width)
        given = 0
        for frame in self._decoded(first, count, fps):
            expect_frame_size(frame_size, (frame.height, frame.width))
            # Each plane's box copied to its place: no frame-sized array is made.
            for channel, plane in enumerate(self._padded_planes(frame)):
                out[channel, given] = plane[rows, columns]
            given += 1
        out[:, given:] = out[:, given - 1 : given]  # past the last frame, it repeats

    def audio_window(self, start: float, count: int, out: np.ndarray | None = None
                     ) -> np.ndarray:
        """``count`` samples (mono, ``audio_rate``) from ``start`` seconds, zero-padded: that
        slice of the whole track, whatever this reader decoded before; written into
        ``out`` (``count`` float32) when given.

        AAC frames overlap: the first frame decoded after a seek comes out silent (decoder
        flushed) or mixed with sound from elsewhere (not flushed, up to 0.07 off). Decoding
        one whole frame before the window first puts the overlap back, and that is all
        the state an AAC-LC decoder carries — unless the track uses perceptual noise
        substitution, whose bands are drawn from a generator that runs through the whole
        track and that a seek does not put back in step (:class:`mmssl.media.audio.
        AudioTrack` explains). So a ``seekable_audio`` track (PNS-free) is read by a seek
        to one frame before the window (:meth:`_seeked`); any other is decoded from its
        start, never after a seek, and only as far as the windows asked so far reach
        (:class:`_TrackPrefix`).
        """
        out = np.zeros(count, np.float32) if out is None else out
        if not self.has_audio:
            out[:] = 0.0
            return out
        first = max(int(round(start * self.audio_rate)), 0)
        piece = self._seeked(first, count) if self._direct_seek else None
        if piece is None:
            prefix = self._track_prefix()
            track = self.audio() if prefix is None else prefix.samples(first + count)
            piece = track[first : first + count]
        out[: len(piece)] = piece
        out[len(piece) :] = 0.0
        return out

    @functools.cached_property
    def _direct_seek(self) -> bool:
        """Whether audio windows are read after a seek: a PNS-free track, already mono at
        ``audio_rate`` (asked once per reader, not once per window)."""
        return self.seekable_audio and is_mono_at(self.container.streams.audio[0],
                                                  self.audio_rate, self.source)

    def _seeked(self, first: int, count: int) -> np.ndarray | None:
        """Samples ``first .. first + count - 1`` of the track (fewer at its end), decoded
        from a seek to the frame holding sample ``first − AAC_FRAME``, so at least one whole
        frame precedes the one holding ``first``; None when the frames do not line up
        from there (timestamps missing or not contiguous: read from the start instead)."""
        stream = self.container.streams.audio[0]
        origin = stream.start_time or 0
        # Samples per timestamp tick = up / down, in integers (Fractions cost more than
        # the decoding of a frame).
        up, down = stream.time_base.numerator * self.audio_rate, stream.time_base.denominator
        # Unclamped: before sample 0 lies the encoder's priming frame (pts −1024 in MP4),
        # which is the pre-roll of the first frame.
        target = first - AAC_FRAME
        try:
            self.container.seek(origin + target * down // up, stream=stream, backward=True)
        except av.FFmpegError:
            return None
        pieces, begin, end = [], None, None
        try:
            for frame in self.container.decode(stream):
                if frame.pts is None:
                    return None
                at = (2 * (frame.pts - origin) * up + down) // (2 * down)  # rounded
                if end is not None and at != end:
                    return None
                begin = at if begin is None else begin
                pieces.append(mono_samples(frame))
                end = at + frame.samples
                if end >= first + count:
                    break
        except av.FFmpegError as error:
            raise MediaError("decode_error", self.source, str(error)) from error
        # Before the start, the seek lands on the first packet: a decode from the start.
        if begin is None or begin > max(target, 0):
            return None
        return np.concatenate(pieces)[first - begin : first - begin + count]

    @property
    def _reopenable(self) -> bool:
        """Whether the source can be opened again in a container of its own."""
        return isinstance(self.source, (bytes, bytearray, str, Path))

    def _track_prefix(self) -> _TrackPrefix | None:
        """The decoded start of a track already mono at ``audio_rate`` (shard samples);
        None for one that must be resampled, or a file object: :meth:`audio` then."""
        if self._prefix is None and self._reopenable and is_mono_at(
                self.container.streams.audio[0], self.audio_rate, self.source):
            self._prefix = _TrackPrefix(open_media(self.source), self.source)
        return self._prefix

    def audio(self) -> np.ndarray | None:
        """The whole audio track, (N,) float32 mono at ``audio_rate``; None if none.

        Decoded once, in a container of its own when the source can be opened again (bytes,
        a path), so nothing this reader decoded before enters it."""
        if self.has_audio and self._audio is None:
            if self._reopenable:
                self._audio = decode_audio(self.source, self.audio_rate)
            else:  # a file object: this reader's container is the only way in
                self.container.seek(0)
                self._audio = decode_audio_stream(self.container, self.audio_rate,
                                                  self.source)
        return self._audio

    def _decoded(self, first: int, count: int, fps: float) -> Iterator[av.VideoFrame]:
        """The decoded frames ``first .. first + count - 1`` that exist (at least one: when
        ``first`` lies past the end, the last frame)."""
        if self.video is None:
            raise MediaError("no_video_stream", self.source)
        stream, first = self.video, max(first, 0)
        offset = stream.start_time or 0
        self.container.seek(offset + int(first / fps / stream.time_base), stream=stream,
                            backward=True)
        # A frame's index round(pts · time_base · fps), the product taken once as a float
        # (frame.time is a Fraction product per frame); frames sit on exact multiples.
        frames_per_tick = float(stream.time_base) * fps
        given, last = 0, None
        try:
            for frame in self.container.decode(stream):
                last = frame
                if round((frame.pts or 0) * frames_per_tick) < first:
                    continue
                yield frame
                given += 1
                if given == count:
                    return
        except av.FFmpegError as error:
            raise MediaError("decode_error", self.source, str(error)) from error
        if last is None:
            raise MediaError("segment_out_of_range", self.source, f"frame {first}")
        if not given:  # asked past the end: hold the last frame
            yield last

    def _rgb(self, frame) -> np.ndarray:
        return self._reformatter.reformat(frame, format="rgb24", threads=1).to_ndarray()

    def _planes(self, frame) -> Planes:
        """The frame's (R, G, B) planes, (H, W) uint8 views (:meth:`_padded_planes`)."""
        return tuple(plane[:, : frame.width] for plane in self._padded_planes(frame))

    def _padded_planes(self, frame) -> list[np.ndarray]:
        """Planar RGB through swscale (``gbrp``: the same values as ``rgb24``, cheaper to
        convert, and no transpose to channels first): (R, G, B) views of (H, line size)
        uint8, each line padded past the frame's width."""
        green, blue, red = self._reformatter.reformat(frame, format="gbrp", threads=1).planes
        # All three planes share one geometry: read it from one of them.
        lines = (green.height, green.line_size)
        return [np.frombuffer(plane, np.uint8).reshape(lines) for plane in (red, green, blue)]


def expect_frame_size(expected: tuple[int, int], actual: tuple[int, int]) -> None:
    """A :class:`ValueError` unless frames of (H, W) ``actual`` are the ``expected`` size
    that a crop box was drawn for."""
    if tuple(actual) != tuple(expected):
        raise ValueError(f"a crop box drawn for {expected[0]}×{expected[1]} frames "
                         f"cannot cut {actual[0]}×{actual[1]} frames")


def decode_all(source: MediaSource, audio_rate: int = AUDIO_RATE
               ) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Every frame at its native rate and size (T, H, W, 3) uint8, and all audio (N,) at
    ``audio_rate``; either is None when its stream is missing."""
    with ClipReader(source, audio_rate) as reader:
        frames = None
        if reader.video is not None:
            try:
                images = [reader._rgb(f) for f in reader.container.decode(reader.video)]
            except av.FFmpegError as error:
                raise MediaError("decode_error", source, str(error)) from error
            frames = np.stack(images) if images else None
        return frames, reader.audio()



class _TrackPrefix:
    """The samples of an audio track that is already mono at the reader's rate, decoded in
    a ``container`` of its own from the track's start as far as asked (:meth:`samples`),
    then kept."""

    def __init__(self, container, source):
        self.container, self.source = container, source
        self.chunks: list[np.ndarray] = []
        self.length = 0
        self.frames = container.decode(container.streams.audio[0])

    def samples(self, count: int) -> np.ndarray:
        """The track's first ``count`` samples (fewer where it ends sooner)."""
        try:
            while self.frames is not None and self.length < count:
                frame = next(self.frames, None)
                if frame is None:
                    self.frames = None
                    break
                self.chunks.append(mono_samples(frame))
                self.length += len(self.chunks[-1])
        except av.FFmpegError as error:
            raise MediaError("decode_error", self.source, str(error)) from error
        if len(self.chunks) > 1:
            self.chunks = [np.concatenate(self.chunks)]
        return self.chunks[0][:count] if self.chunks else np.zeros(0, np.float32)

    def close(self) -> None:
        self.container.close()
