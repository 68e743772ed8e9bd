"""What a media file holds, read from its container header without decoding; the errors
that media reading raises."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import av

MediaSource = str | Path | bytes | BinaryIO


class MediaError(Exception):
    """A media file that cannot be used, with a short machine-readable ``reason``.

    Reasons are counted by ``mmssl.prep`` (``unreadable``, ``no_video_stream``,
    ``decode_error``, ``segment_out_of_range``, ...), so keep them few and stable.
    ``decoded_to``: for a file that stops decoding part-way (a truncated or damaged
    download), the time in seconds up to which it decoded; None otherwise.
    """

    def __init__(self, reason: str, source: object, detail: str = "",
                 decoded_to: float | None = None):
        self.reason = reason
        self.source = source
        self.detail = detail
        self.decoded_to = decoded_to
        super().__init__(f"{reason}: {source_name(source)}" + (f" ({detail})" if detail else ""))


@dataclass(frozen=True)
class MediaInfo:
    """Container-level facts. ``duration`` is in seconds (0.0 when the header has none)."""

    duration: float
    has_video: bool
    has_audio: bool
    width: int = 0
    height: int = 0
    fps: float = 0.0
    audio_rate: int = 0
    audio_channels: int = 0


def source_name(source: object) -> str:
    """A human-readable name for a media source (a path, or ``<N bytes>``)."""
    if isinstance(source, (bytes, bytearray)):
        return f"<{len(source)} bytes>"
    return str(getattr(source, "name", source))


def open_media(source: MediaSource):
    """Open ``source`` with PyAV, turning every failure into :class:`MediaError`."""
    readable = source
    if isinstance(source, (bytes, bytearray)):
        readable = io.BytesIO(source)
    elif isinstance(source, (str, Path)) and not Path(source).is_file():
        raise MediaError("missing_file", source)
    elif hasattr(source, "seek"):
        source.seek(0)  # a file object read before (e.g. by probe) starts from the top again
    try:
        return av.open(readable, mode="r")
    except (av.FFmpegError, ValueError, OSError) as error:
        raise MediaError("unreadable", source, str(error)) from error


def probe(source: MediaSource) -> MediaInfo:
    """Read stream facts from the header of ``source`` (no frame is decoded)."""
    with open_media(source) as container:
        video = container.streams.video[0] if container.streams.video else None
        audio = container.streams.audio[0] if container.streams.audio else None
        duration = container.duration / av.time_base if container.duration else 0.0
        info = MediaInfo(duration=float(duration), has_video=video is not None,
                         has_audio=audio is not None)
        if video is not None:
            rate = video.average_rate or video.guessed_rate or 0
            info = MediaInfo(**{**info.__dict__, "width": video.codec_context.width,
                                "height": video.codec_context.height, "fps": float(rate)})
        if audio is not None:
            info = MediaInfo(**{**info.__dict__, "audio_rate": audio.codec_context.sample_rate,
                                "audio_channels": audio.codec_context.channels})
        return info
