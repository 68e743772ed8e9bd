"""Random access into a short constant-frame-rate clip, such as a shard sample.

The file is opened once; each window of frames is read by seeking to the keyframe before it
and decoding forward (shards use a short GOP, so that costs at most one GOP); the audio
track is decoded once, on first use. Converting to RGB reuses one swscale context, which is
several times faster than a fresh conversion per frame, and gives planar RGB, which batches
(channels first) take without a transpose.
"""

from __future__ import annotations

from collections.abc import Iterator

import av
import numpy as np
from av.video.reformatter import VideoReformatter

from mmssl.media.decode import AUDIO_RATE, decode_audio_stream, is_mono_at
from mmssl.media.probe import MediaError, MediaSource, open_media

AUDIO_PREROLL_SECONDS = 0.2
Planes = tuple[np.ndarray, np.ndarray, np.ndarray]  # a frame's R, G, B planes, (H, W) uint8


class ClipReader:
    """``with ClipReader(mp4) as r: r.frames(first, count, fps); r.audio()``."""

    def __init__(self, source: MediaSource, audio_rate: int = AUDIO_RATE):
        self.source = source
        self.audio_rate = audio_rate
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

    def __enter__(self) -> ClipReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
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
        if self.video is None:
            raise MediaError("no_video_stream", self.source)
        given, last = 0, None
        for planes in self._decode_from(max(first, 0), count, fps):
            given, last = given + 1, planes
            yield planes
        if last is None:
            raise MediaError("segment_out_of_range", self.source, f"frame {first}")
        for _ in range(count - given):
            yield last

    def audio_window(self, start: float, count: int) -> np.ndarray:
        """``count`` samples (mono, ``audio_rate``) from ``start`` seconds, zero-padded.

        Decodes only the packets around the window when the track is already mono at
        ``audio_rate`` (shard samples); otherwise slices the whole decoded track.
        """
        out = np.zeros(count, np.float32)
        if not self.has_audio:
            return out
        stream = self.container.streams.audio[0]
        if not is_mono_at(stream, self.audio_rate, self.source):
            whole = self.audio()
            first = int(round(start * self.audio_rate))
            piece = whole[max(first, 0) : max(first, 0) + count]
            out[: len(piece)] = piece
            return out
        # AAC frames overlap (MDCT): decode from a little earlier so the window's first
        # frame is fully reconstructed, not the decoder's warm-up output.
        preroll = max(start - AUDIO_PREROLL_SECONDS, 0.0)
        self.container.seek((stream.start_time or 0) + int(preroll / stream.time_base),
                            stream=stream, backward=True)
        end = start + count / self.audio_rate
        try:
            for frame in self.container.decode(stream):
                time = float(frame.time or 0.0)
                if time >= end:
                    break
                _overlay(out, frame.to_ndarray().reshape(-1),
                         int(round((time - start) * self.audio_rate)))
        except av.FFmpegError as error:
            raise MediaError("decode_error", self.source, str(error)) from error
        return out

    def audio(self) -> np.ndarray | None:
        """The whole audio track, (N,) float32 mono at ``audio_rate``; None if none."""
        if self.has_audio and self._audio is None:
            self.container.seek(0)
            self._audio = decode_audio_stream(self.container, self.audio_rate, self.source)
        return self._audio

    def _decode_from(self, first: int, count: int, fps: float) -> Iterator[Planes]:
        stream = self.video
        target = first / fps
        offset = stream.start_time or 0
        self.container.seek(offset + int(target / stream.time_base), stream=stream,
                            backward=True)
        given, last = 0, None
        try:
            for frame in self.container.decode(stream):
                last = frame
                if round(float(frame.time or 0.0) * fps) < first:
                    continue
                yield self._planes(frame)
                given += 1
                if given == count:
                    return
        except av.FFmpegError as error:
            raise MediaError("decode_error", self.source, str(error)) from error
        if not given and last is not None:  # asked past the end: hold the last frame
            yield self._planes(last)

    def _rgb(self, frame) -> np.ndarray:
        return self._reformatter.reformat(frame, format="rgb24", threads=1).to_ndarray()

    def _planes(self, frame) -> Planes:
        """Planar RGB through swscale (``gbrp``: the same values as ``rgb24``, cheaper to
        convert, and no transpose to channels first)."""
        image = self._reformatter.reformat(frame, format="gbrp", threads=1)
        green, blue, red = (np.frombuffer(plane, np.uint8)
                            .reshape(plane.height, plane.line_size)[:, : plane.width]
                            for plane in image.planes)
        return red, green, blue


def _overlay(out: np.ndarray, piece: np.ndarray, offset: int) -> None:
    """Copy ``piece`` into ``out`` starting at index ``offset`` (either may overhang)."""
    lo, hi = max(offset, 0), min(offset + len(piece), len(out))
    if hi > lo:
        out[lo:hi] = piece[lo - offset : hi - offset]


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
