"""Video decoding backends behind one interface: PyAV (the default) and decord.

A backend answers the converter's question: *given one source and many segments, what
frames does each segment hold at ``fps``, with the short side scaled to ``short_side``?*

    frames = get_backend("decord")(path, [(0.0, 10.0), (10.0, 20.0)], fps=8, short_side=48)

Every backend returns one ``(T, H, W, 3)`` uint8 array per segment, picks for each output
time ``t_k = start + k / fps`` the last source frame shown at or before ``t_k`` (as
:mod:`mmssl.media.decode` does), leaves out output times before the first frame, ends a
segment that runs past the last frame where the frames end, and raises
:class:`~mmssl.media.MediaError` (``missing_file``, ``unreadable``, ``no_video_stream``,
``decode_error``, ``segment_out_of_range``) for a source that cannot serve the segments.

Only video goes through a backend. Audio stays PyAV-only
(:func:`mmssl.media.decode.cut_audio_segments`), because decord's audio reader resamples
differently and cannot cut many segments in one pass.

The resizing filters differ (PyAV: swscale ``AREA``; decord: FFmpeg's scale filter, bicubic),
so the two backends agree on which frame they pick but not bit for bit on pixels.
Choose by name: ``"pyav"`` (default; reads paths, bytes and file objects) or ``"decord"``
(paths only; see :mod:`mmssl.media.decord_backend`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from mmssl.media.decode import cut_segments
from mmssl.media.probe import MediaSource

DEFAULT_BACKEND = "pyav"

# (source, segments, fps, short_side) -> one (T, H, W, 3) uint8 array per segment
SegmentDecoder = Callable[[MediaSource, Sequence[tuple[float, float]], float, "int | None"],
                          list[np.ndarray]]

_BACKENDS: dict[str, SegmentDecoder] = {}


def register_backend(name: str, decoder: SegmentDecoder) -> SegmentDecoder:
    """Add ``decoder`` under ``name``; raises ``ValueError`` on a duplicate name."""
    if name in _BACKENDS:
        raise ValueError(f"video backend {name!r} is already registered")
    _BACKENDS[name] = decoder
    return decoder


def get_backend(name: str = DEFAULT_BACKEND) -> SegmentDecoder:
    """The segment decoder registered as ``name``."""
    try:
        return _BACKENDS[name]
    except KeyError:
        raise ValueError(f"unknown video backend {name!r}; known: {list_backends()}") from None


def list_backends() -> list[str]:
    return sorted(_BACKENDS)


def decode_segments(source: MediaSource, segments: Sequence[tuple[float, float]], fps: float,
                    short_side: int | None = None, backend: str = DEFAULT_BACKEND
                    ) -> list[np.ndarray]:
    """Frames of each ``(start, end)`` segment of ``source`` as (T, H, W, 3) uint8."""
    return get_backend(backend)(source, segments, fps, short_side)


def pyav_segments(source: MediaSource, segments: Sequence[tuple[float, float]], fps: float,
                  short_side: int | None = None) -> list[np.ndarray]:
    """PyAV: one demux pass over ``source`` (:func:`mmssl.media.decode.cut_segments`).

    ``cut_segments`` also decodes the audio track in the same pass; it is dropped here.
    """
    return [clip.frames for clip in cut_segments(source, segments, fps, short_side)]


def decord_segments(source: MediaSource, segments: Sequence[tuple[float, float]], fps: float,
                    short_side: int | None = None) -> list[np.ndarray]:
    """decord: see :func:`mmssl.media.decord_backend.decord_segments` (imported lazily)."""
    from mmssl.media.decord_backend import decord_segments as decode

    return decode(source, segments, fps, short_side)


register_backend("pyav", pyav_segments)
register_backend("decord", decord_segments)
