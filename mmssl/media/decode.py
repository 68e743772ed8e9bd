"""Decoding with PyAV: frames resampled to a target rate and size, audio as 16 kHz mono.

One call serves many segments (:func:`cut_segments`, :func:`iter_segments`), so a converter
that cuts twenty clips from one video opens it once (twice with sound) and decodes only what
the segments need: video from the keyframe before the first segment to the end of the last,
skipping long gaps, and sound from the start of the track, which an audio decoder's output
depends on, to the end of the last (:mod:`mmssl.media.cutter`). :func:`cut_audio_segments`
does the same for a source with no video stream. Times are seconds on the file's own clock
(frame timestamps). Frame-rate conversion picks, for each output time
``t_k = start + k / fps``, the last source frame shown at or before ``t_k`` (what a viewer
would see at that instant), from each frame's own timestamp, so variable-frame-rate sources
need nothing special. Frames stored sideways with a display matrix (phone videos) come out
upright. Frames come out as RGB, or as the yuv420p planes an H.264 encoder takes
(:mod:`mmssl.media.frames`).
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import BinaryIO

from mmssl.media.audio import (
    AudioTrack,
    cut_audio_segments,
    decode_audio,
    decode_audio_stream,
    is_mono_at,
    slice_audio,
)
from mmssl.media.clip import Clip, Segment, scaled_size
from mmssl.media.cutter import SegmentCutter
from mmssl.media.frames import RGB, check_format, upright
from mmssl.media.probe import MediaError, MediaSource, open_media, source_name
from mmssl.shard_format import AUDIO_RATE

__all__ = [
    "AUDIO_RATE", "Clip", "Segment", "cut_audio_segments", "cut_segments", "decode_audio",
    "decode_audio_stream", "is_mono_at", "iter_segments", "scaled_size", "slice_audio",
    "upright",
]


def cut_segments(
    source: MediaSource,
    segments: Sequence[tuple[float, float]],
    fps: float,
    short_side: int | None = None,
    audio_rate: int = AUDIO_RATE,
    pixel_format: str = RGB,
) -> list[Clip]:
    """One :class:`Clip` per ``(start, end)`` segment of ``source``, in the same order.

    Raises :class:`MediaError` (``no_video_stream``, ``decode_error``,
    ``segment_out_of_range``) for a file that cannot serve every segment.
    """
    clips: list[Clip | None] = [None] * len(segments)
    for index, outcome in iter_segments(source, segments, fps, short_side, audio_rate,
                                        pixel_format):
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
    pixel_format: str = RGB,
    seek: bool = True,
) -> Iterator[tuple[int, Clip | MediaError]]:
    """``(index, clip)`` for each segment as soon as the file has been read past its end, so
    a long video never holds more decoded frames than its open segments need (the order is
    that of segment ends within a run of nearby segments, runs in order of their starts).

    A segment no frame falls in yields ``(index, MediaError("segment_out_of_range"))`` and
    the others still come. A file that stops decoding part-way (truncated, damaged) yields
    ``MediaError("decode_error")`` with ``decoded_to`` set for every segment not finished by
    then; the segments yielded before stay valid. Raises :class:`MediaError`
    ``no_video_stream`` before yielding anything. ``seek`` False decodes from the start of
    the file through every gap (the same frames, more work; for comparisons).
    """
    check_format(pixel_format)
    wanted = [Segment(float(s), float(e)) for s, e in segments]
    with ExitStack() as stack:
        container = stack.enter_context(open_media(source))
        if not container.streams.video:
            raise MediaError("no_video_stream", source)
        sound = None
        if container.streams.audio:
            # The sound from a container of its own, which the video's seeks leave alone.
            sound = AudioTrack(stack.enter_context(open_media(reopened(source))), audio_rate)
        cutter = SegmentCutter(container, sound, wanted, fps, short_side, source,
                               pixel_format, seek)
        yield from cutter.run()


def reopened(source: MediaSource) -> MediaSource:
    """``source`` for a second container read beside the first: a path or bytes as they
    are, a file object through a :class:`SideReader`."""
    if isinstance(source, (str, Path, bytes, bytearray)):
        return source
    return SideReader(source)


class SideReader:
    """A second reader of a seekable file object already read by another container: it
    keeps its own position and puts the file's back after each read, so neither container
    moves the other."""

    def __init__(self, file: BinaryIO):
        self.file, self.position = file, 0
        self.name = source_name(file)

    def read(self, size: int = -1) -> bytes:
        theirs = self.file.tell()
        try:
            self.file.seek(self.position)
            data = self.file.read(size)
        finally:
            self.file.seek(theirs)
        self.position += len(data)
        return data

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_END:
            theirs = self.file.tell()
            self.position = self.file.seek(offset, io.SEEK_END)
            self.file.seek(theirs)
        else:
            self.position = offset + (self.position if whence == io.SEEK_CUR else 0)
        return self.position

    def tell(self) -> int:
        return self.position
