"""Writing real media files with PyAV: H.264 video plus AAC audio in an MP4 container.

Used by the synthetic world (to write "downloaded" videos) and by ``mmssl.prep`` (to write
re-encoded clips into shards). Frames are ``uint8`` arrays ``(T, H, W, 3)`` in RGB, or the
yuv420p planes ``(T, H·3/2, W)`` the encoder stores, which it then takes without a
conversion (:mod:`mmssl.media.frames`); audio is ``float32`` ``(C, N)`` in [-1, 1] at
``sample_rate``.
"""

from __future__ import annotations

import heapq
import io
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import BinaryIO

import av
import numpy as np

from mmssl.media.frames import RGB, check_format, frame_size

AUDIO_BLOCK = 1024  # AAC frame size: feed the encoder one codec frame at a time


@dataclass(frozen=True)
class VideoEncoding:
    """How video is compressed.

    ``gop`` is the keyframe interval in frames: a short GOP keeps random access cheap in the
    loader at a small cost in size. ``crf``/``preset`` are libx264's quality/speed knobs;
    ``threads`` is fixed (not "auto") so that encoding is reproducible byte for byte.
    """

    fps: float
    gop: int = 16
    crf: int = 23
    preset: str = "veryfast"
    bframes: int = 0
    # x264's output depends on its thread count; a fixed count makes a clip's bytes the same
    # on every machine and executor (parallelism comes from converting many videos at once).
    threads: int = 1


def write_mp4(
    dst: str | Path | BinaryIO,
    frames: np.ndarray | None,
    encoding: VideoEncoding,
    audio: np.ndarray | None = None,
    sample_rate: int = 16000,
    audio_bitrate: int = 48000,
    pixel_format: str = RGB,
    seekable_audio: bool = False,
) -> None:
    """Encode ``frames`` uint8 in ``pixel_format`` (RGB (T, H, W, 3) or yuv420p planes) and
    optional ``audio`` (C, N) float32 to MP4.

    ``frames`` may be None for an audio-only file, ``audio`` None for a file with no audio
    stream (both occur in real downloads). H and W must be even (yuv420p).

    ``seekable_audio``: AAC without perceptual noise substitution (PNS), so that decoding
    from one AAC frame before any point gives the track's exact samples from there on
    (:meth:`mmssl.media.ClipReader.audio_window`). With PNS — FFmpeg's default, and what
    real downloads have — noise-substituted bands are drawn from a generator that runs
    through the whole track, so only a decode from the track's start is exact.
    """
    if frames is None and audio is None:
        raise ValueError("write_mp4 needs frames, audio or both")
    container = av.open(dst, mode="w", format="mp4")
    try:
        video_stream = (_add_video_stream(container, frames, encoding, pixel_format)
                        if frames is not None else None)
        audio_stream = (
            _add_audio_stream(container, audio, sample_rate, audio_bitrate, seekable_audio)
            if audio is not None
            else None
        )
        _encode_interleaved(container, video_stream, frames, pixel_format, audio_stream, audio,
                            sample_rate)
    finally:
        container.close()


def mp4_bytes(
    frames: np.ndarray | None,
    encoding: VideoEncoding,
    audio: np.ndarray | None = None,
    sample_rate: int = 16000,
    pixel_format: str = RGB,
    seekable_audio: bool = False,
) -> bytes:
    """Same as :func:`write_mp4`, returning the file's bytes (for shard samples)."""
    buffer = io.BytesIO()
    write_mp4(buffer, frames, encoding, audio, sample_rate, pixel_format=pixel_format,
              seekable_audio=seekable_audio)
    return buffer.getvalue()


def _add_video_stream(container, frames: np.ndarray, encoding: VideoEncoding,
                      pixel_format: str):
    check_format(pixel_format)
    dims = 4 if pixel_format == RGB else 3
    if (frames.ndim != dims or frames.dtype != np.uint8
            or (pixel_format == RGB and frames.shape[-1] != 3)):
        expected = "(T, H, W, 3)" if pixel_format == RGB else "(T, H*3/2, W)"
        raise ValueError(f"{pixel_format} frames must be uint8 {expected}, got {frames.dtype} "
                         f"{frames.shape}")
    height, width = frame_size(frames, pixel_format)
    if height % 2 or width % 2:
        raise ValueError(f"H.264 yuv420p needs even sizes, got {width}x{height}")
    stream = container.add_stream("libx264", rate=Fraction(encoding.fps).limit_denominator(1001))
    stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
    stream.gop_size = encoding.gop
    stream.options = {
        "preset": encoding.preset,
        "crf": str(encoding.crf),
        "bf": str(encoding.bframes),
        "threads": str(encoding.threads),
        # A fixed keyframe interval (no scene-cut keyframes) keeps seeking cost predictable.
        # cpu-independent: without it x264's SIMD rate-control (macroblock-tree) paths made
        # the same frames encode differently in different worker processes (measured: 3
        # outputs in 32 runs; 1 with it), so shards would not be reproducible byte for byte.
        "x264-params": f"keyint={encoding.gop}:min-keyint={encoding.gop}:scenecut=0"
                       ":cpu-independent=1",
    }
    return stream


def _add_audio_stream(container, audio: np.ndarray, sample_rate: int, bitrate: int,
                      seekable: bool):
    if audio.ndim != 2 or audio.shape[0] not in (1, 2):
        raise ValueError(f"audio must be (C, N) with C in (1, 2), got {audio.shape}")
    stream = container.add_stream("aac", rate=sample_rate)
    stream.layout = "mono" if audio.shape[0] == 1 else "stereo"
    stream.bit_rate = bitrate
    # The "fast" coder is ~40% quicker than the default two-loop search; for 16 kHz speech
    # and effects the difference in quality does not matter to a representation learner.
    stream.options = {"aac_coder": "fast", **({"aac_pns": "0"} if seekable else {})}
    return stream


def _encode_interleaved(container, video_stream, frames, pixel_format: str, audio_stream,
                        audio, sample_rate: int) -> None:
    """Feed video frames and audio blocks in time order, as a camera would, so the file is
    interleaved: a reader reaches any time of both tracks without reading far ahead."""
    tracks = []
    if video_stream is not None:
        tracks.append((video_stream, _video_frames(video_stream, frames, pixel_format)))
    if audio_stream is not None:
        tracks.append((audio_stream, _audio_frames(audio_stream, audio, sample_rate)))
    timed = [_stamped(track, frames_of) for track, (_, frames_of) in enumerate(tracks)]
    for _, track, frame in heapq.merge(*timed):
        container.mux(tracks[track][0].encode(frame))
    for stream, _ in tracks:
        container.mux(stream.encode(None))


def _stamped(track: int, frames):
    """``(time, track, frame)``: the order of :func:`heapq.merge` (frames never compared)."""
    for frame in frames:
        yield frame.time, track, frame


def _video_frames(stream, frames: np.ndarray, pixel_format: str):
    time_base = Fraction(1) / stream.codec_context.framerate
    for index, image in enumerate(frames):
        # yuv420p goes to x264 as it is; RGB is converted by the encoder's own reused context.
        frame = av.VideoFrame.from_ndarray(image, format=pixel_format)
        frame.pts = index
        frame.time_base = time_base
        yield frame


def _audio_frames(stream, audio: np.ndarray, sample_rate: int):
    samples = np.ascontiguousarray(np.clip(audio, -1.0, 1.0).astype(np.float32))
    layout = stream.layout.name
    for offset in range(0, samples.shape[1], AUDIO_BLOCK):
        block = np.ascontiguousarray(samples[:, offset : offset + AUDIO_BLOCK])
        frame = av.AudioFrame.from_ndarray(block, format="fltp", layout=layout)
        frame.sample_rate = sample_rate
        frame.pts = offset
        frame.time_base = Fraction(1, sample_rate)
        yield frame
