"""Video decoding backends, chosen by name from :data:`VIDEO_BACKENDS` (PyAV, the default
and the only one shipped; a backend for another decoder registers itself the same way).

A backend answers the converter's question: *given one source and many segments, what does
each segment hold at ``fps``, with the short side scaled to ``short_side``?* It offers two
views of the answer:

- :meth:`VideoBackend.frames`: one ``(T, H, W, 3)`` uint8 RGB array per segment (video
  only);
- :meth:`VideoBackend.clips`: ``(index, Clip | MediaError)`` per segment, video and audio
  together, a segment that does not fit the file yielding its ``segment_out_of_range``
  error while the others still come. This is what the converter uses.

Every backend picks for each output time ``t_k = start + k / fps`` the last source frame
shown at or before ``t_k`` (as :mod:`mmssl.media.decode` does), leaves out output times
before the first frame, ends a segment that runs past the last frame where the frames end,
and raises :class:`~mmssl.media.MediaError` (``missing_file``, ``unreadable``,
``no_video_stream``, ``decode_error``, ``segment_out_of_range``) for a source that cannot
serve the segments.

The base :meth:`VideoBackend.clips` adds PyAV's audio
(:func:`mmssl.media.decode.cut_audio_segments`) to a backend's frames, so a frames-only
backend needs nothing more. The PyAV backend overrides it with
:func:`~mmssl.media.decode.iter_segments`: one demux pass per run of nearby segments yields
video and audio together, each segment as soon as the file has been read past its end (so
memory holds the open segments only), in the pixel format the caller asks for (prep asks
for the encoder's yuv420p).

Why only PyAV: decord (0.6.0) and torchcodec (0.17) were measured on the same sources and
shard samples (``benchmarks/decode_backends.py``, ``benchmarks/README.md``); on CPU neither
was faster, decord cannot read bytes (shard samples), and both decode to RGB, which prep
would convert back to yuv420p.

    frames = decode_segments(path, [(0.0, 10.0), (10.0, 20.0)], fps=8, short_side=48)
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence

import numpy as np

from mmssl.media.decode import (
    AUDIO_RATE,
    Clip,
    cut_audio_segments,
    cut_segments,
    iter_segments,
)
from mmssl.media.frames import RGB
from mmssl.media.probe import MediaError, MediaSource, probe
from mmssl.registry import Registry

DEFAULT_BACKEND = "pyav"
VIDEO_BACKENDS = Registry("video backend")

Spans = Sequence[tuple[float, float]]
Outcomes = Iterator[tuple[int, Clip | MediaError]]


class VideoBackend(ABC):
    """The interface: :meth:`frames` is a backend's own; :meth:`clips` defaults to those
    frames with PyAV's audio of the same span."""

    @abstractmethod
    def frames(self, source: MediaSource, segments: Spans, fps: float,
               short_side: int | None = None) -> list[np.ndarray]:
        """One (T, H, W, 3) uint8 array per ``(start, end)`` segment."""

    def clips(self, source: MediaSource, segments: Spans, fps: float,
              short_side: int | None = None, audio_rate: int = AUDIO_RATE,
              pixel_format: str = RGB) -> Outcomes:
        """``(index, clip or segment_out_of_range error)`` for every segment; every segment
        in one call when all fit the file, else each alone. ``pixel_format`` is the one the
        caller prefers; a frames-only backend gives RGB (each clip says which it holds)."""
        has_audio = probe(source).has_audio

        def cut(spans: Spans) -> list[Clip]:
            frames = self.frames(source, spans, fps, short_side)
            # The sound of the time the frames cover, which may end a little past the
            # segment (its frame count is rounded), as in PyAV's one pass.
            shown = [(start, start + len(images) / fps)
                     for (start, _), images in zip(spans, frames, strict=True)]
            sounds = (cut_audio_segments(source, shown, audio_rate) if has_audio
                      else [None] * len(spans))
            return [_clip(start, images, sound, fps, audio_rate)
                    for (start, _), images, sound in zip(shown, frames, sounds, strict=True)]

        try:
            return enumerate(cut(segments))
        except MediaError as error:
            if error.reason != "segment_out_of_range":
                raise
        return each_alone(lambda span: cut([span])[0], segments)


@VIDEO_BACKENDS.register("pyav")
class PyAVBackend(VideoBackend):
    """PyAV: one demux pass over the source for video and audio together."""

    def frames(self, source: MediaSource, segments: Spans, fps: float,
               short_side: int | None = None) -> list[np.ndarray]:
        """The video of :meth:`clips` (its audio, decoded in the same pass, is dropped)."""
        return [clip.frames for clip in cut_segments(source, segments, fps, short_side)]

    def clips(self, source: MediaSource, segments: Spans, fps: float,
              short_side: int | None = None, audio_rate: int = AUDIO_RATE,
              pixel_format: str = RGB) -> Outcomes:
        return iter_segments(source, segments, fps, short_side, audio_rate, pixel_format)


def decode_segments(source: MediaSource, segments: Spans, fps: float,
                    short_side: int | None = None, backend: str = DEFAULT_BACKEND
                    ) -> list[np.ndarray]:
    """Frames of each ``(start, end)`` segment of ``source`` as (T, H, W, 3) uint8."""
    return VIDEO_BACKENDS.build(backend).frames(source, segments, fps, short_side)


def cut_clips(source: MediaSource, segments: Spans, fps: float, short_side: int | None = None,
              backend: str = DEFAULT_BACKEND, audio_rate: int = AUDIO_RATE,
              pixel_format: str = RGB) -> Outcomes:
    """``(index, Clip | MediaError)`` per segment of ``source`` from ``backend``
    (:meth:`VideoBackend.clips`)."""
    return VIDEO_BACKENDS.build(backend).clips(source, segments, fps, short_side, audio_rate,
                                               pixel_format)


def cut_audio_clips(source: MediaSource, segments: Spans,
                    audio_rate: int = AUDIO_RATE) -> Outcomes:
    """The same for a source without a video stream: audio-only clips (PyAV), each segment
    cut alone so that one past the track's end yields its error and the rest still come."""
    return each_alone(lambda span: cut_audio_segments(source, [span], audio_rate)[0], segments)


def each_alone(cut: Callable[[tuple[float, float]], Clip], segments: Spans) -> Outcomes:
    """``(index, cut(span))`` for each span, a span that does not fit the file yielding its
    ``segment_out_of_range`` error (any other error is raised)."""
    for index, span in enumerate(segments):
        try:
            yield index, cut(span)
        except MediaError as error:
            if error.reason != "segment_out_of_range":
                raise
            yield index, error


def _clip(start: float, frames: np.ndarray, sound: Clip | None, fps: float,
          audio_rate: int) -> Clip:
    """A clip of a backend's frames and PyAV's audio of their span, zero-padded where the
    track ends first."""
    end = start + len(frames) / fps
    audio = None
    if sound is not None:
        audio = np.zeros(int(round((end - start) * audio_rate)), np.float32)
        audio[: len(sound.audio[: len(audio)])] = sound.audio[: len(audio)]
    return Clip(start, end, frames, audio)
