"""The decord video backend (registered as ``"decord"`` in :mod:`mmssl.media.backends`).

decord is optional: it is imported on first use, and a clear ``ImportError`` says how to get
it. The backend reads **paths only**: decord 0.6.0 takes file objects through a custom
AVIO reader that fails or crashes on some in-memory mp4s (moov atom at the end, no seek
support), so bytes and file objects raise ``TypeError`` — use the PyAV backend for those
(shard samples are bytes, which is why the loader stays on PyAV).

decord scales frames inside FFmpeg's filter graph (``width``/``height`` of
``VideoReader``); frames are picked by the same rule as :mod:`mmssl.media.decode`: for
each output time ``t_k = start + k / fps``, the last frame whose presentation time is at or
before ``t_k``. Times are decord's frame timestamps (``pts × time_base``), which equal
PyAV's ``frame.time`` for files whose video stream starts at 0 (all files we write, and
ordinary downloads).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from mmssl.media.decode import Segment, scaled_size
from mmssl.media.probe import MediaError, MediaSource, probe

_EPS = 1e-6


def import_decord():
    """The ``decord`` module, or an ``ImportError`` that says what to install."""
    try:
        import decord
    except ImportError as error:
        raise ImportError("the 'decord' video backend needs the decord package "
                          "(pip install decord==0.6.0); or use the default 'pyav' backend"
                          ) from error
    return decord


def decord_segments(source: MediaSource, segments: Sequence[tuple[float, float]], fps: float,
                    short_side: int | None = None) -> list[np.ndarray]:
    """One (T, H, W, 3) uint8 array per ``(start, end)`` segment of the file at ``source``."""
    if not isinstance(source, (str, Path)):
        raise TypeError("the decord backend reads file paths only, not bytes or file objects; "
                        "use the 'pyav' backend for in-memory media")
    decord = import_decord()
    info = probe(source)  # missing_file / unreadable, from the header, as PyAV reports them
    if not info.has_video:
        raise MediaError("no_video_stream", source)
    width, height = scaled_size(info.width, info.height, short_side)
    try:
        reader = decord.VideoReader(str(source), ctx=decord.cpu(0), width=width, height=height)
        starts = reader.get_frame_timestamp(range(len(reader)))[:, 0]
    except decord.DECORDError as error:
        raise MediaError("unreadable", source, str(error)) from error
    if len(starts) == 0:
        raise MediaError("no_video_stream", source, "no frames")
    out = []
    for start, end in segments:
        indices = frame_indices(starts, Segment(float(start), float(end)).frame_times(fps))
        if len(indices) == 0:
            raise MediaError("segment_out_of_range", source, f"{start:.2f}-{end:.2f} s")
        out.append(_read(decord, reader, indices, source))
    return out


def frame_indices(starts: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Index of the frame on screen at each of ``times`` (frames start at ``starts``,
    ascending). Times before the first frame are left out; so are times at or after the end
    of the last frame, which lasts as long as the frame before it."""
    interval = starts[-1] - starts[-2] if len(starts) > 1 else 0.0
    end = starts[-1] + max(interval, _EPS)
    shown = times[(times >= starts[0] - _EPS) & (times < end - _EPS)]
    return np.searchsorted(starts, shown + _EPS, side="right") - 1


def _read(decord, reader, indices: np.ndarray, source: MediaSource) -> np.ndarray:
    """Frames at ``indices`` (repeats allowed), each decoded once."""
    unique, inverse = np.unique(indices, return_inverse=True)
    try:
        frames = reader.get_batch(unique.tolist()).asnumpy()
    except decord.DECORDError as error:
        raise MediaError("decode_error", source, str(error)) from error
    return frames[inverse]
