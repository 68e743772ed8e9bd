"""Raw media prepared in memory exactly as ``mmssl prep`` prepares shards.

A span of a raw file goes through the converter itself
(:func:`mmssl.prep.convert.convert_video` on a :func:`mmssl.prep.videos.video_task`): one
decode pass cutting the spans, frames resampled to the checkpoint's ``fps`` and scaled to
its ``short_side`` (``mmssl/media/decode.py``), then each span re-encoded as prep encodes
a shard sample (H.264 at the prep ``crf`` and ``gop``, AAC audio). The encoded bytes are
opened as a shard sample is (:func:`mmssl.data.shards.open_samples`), so the clips the
model sees are the pixels and sound it saw in training: an embedding of a raw span equals
that of its prepared shard sample.

``reencode=False`` skips the H.264/AAC round trip and cuts clips straight from the
decoded frames (:class:`DecodedReader`): faster, and the embeddings differ slightly from
those of prepared shards (measured in ``benchmarks/embed_throughput.py``).

Decoded frames and waveforms given as arrays take the same path through a temporary file
(:func:`frames_file`, :func:`sound_file`): H.264 at CRF 0 (lossless but for the 4:2:0
chroma every video has) and 16-bit PCM WAV.
"""

from __future__ import annotations

import wave
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from mmssl.config import PrepConfig
from mmssl.data.clips import OpenSample
from mmssl.data.shards import SkipCounter, open_samples
from mmssl.media import AUDIO_RATE, Clip, MediaError, VideoEncoding, probe, write_mp4
from mmssl.media.backends import cut_audio_clips, cut_clips
from mmssl.media.reader import expect_frame_size
from mmssl.prep.convert import Failure, convert_video
from mmssl.prep.videos import video_task

Spans = list[tuple[float, float]]


def prepared_samples(video_id: str, path: str, spans: Spans, prep: PrepConfig,
                     reencode: bool = True) -> tuple[Iterator[OpenSample], list[Failure]]:
    """``(open samples of the spans that could be cut, in span order; failures)``.

    A file that cannot be read gives no sample and one failure; a span outside the file
    one failure (``segment_out_of_range``), the others still come. Each sample is open
    until the consumer moves on to the next."""
    if not reencode:
        return _decoded_samples(video_id, path, spans, prep)
    converted = convert_video(video_task(video_id, str(path), spans), prep)
    # Samples just written must open: a failure here is a bug, not bad data.
    return (open_samples(converted.samples, SkipCounter(strict=True), need_video=False),
            converted.failures)


class DecodedReader:
    """Decoded frames and sound of one span with the reading interface of
    :class:`~mmssl.media.ClipReader` that clip cutting uses (``frames``, ``iter_frames``,
    ``frame_size``, ``cut_into``, ``audio_window``, ``has_audio``)."""

    def __init__(self, clip: Clip):
        self.clip = clip
        self.has_audio = clip.audio is not None
        self.video = clip.frames

    def frames(self, first: int, count: int, fps: float) -> np.ndarray:
        """Frames ``first .. first + count - 1`` (T, H, W, 3); the last repeats past the end."""
        if self.clip.frames is None or not len(self.clip.frames):
            raise MediaError("no_video_stream", "<decoded span>")
        last = len(self.clip.frames) - 1
        index = np.minimum(np.arange(max(first, 0), max(first, 0) + count), last)
        return self.clip.frames[index]

    def iter_frames(self, first: int, count: int, fps: float) -> Iterator[tuple[np.ndarray, ...]]:
        """The frames of :meth:`frames` one at a time, each as its (R, G, B) planes."""
        for frame in self.frames(first, count, fps):
            yield frame[..., 0], frame[..., 1], frame[..., 2]

    @property
    def frame_size(self) -> tuple[int, int]:
        """(H, W) of the span's frames."""
        if self.clip.frames is None:
            raise MediaError("no_video_stream", "<decoded span>")
        return tuple(self.clip.frames.shape[1:3])

    def cut_into(self, out: np.ndarray, first: int, fps: float, corner: tuple[int, int],
                 frame_size: tuple[int, int]) -> None:
        """The (h, w) = ``out.shape[2:]`` box at ``corner`` of the frames of :meth:`frames`
        written into ``out`` (3, T, h, w); a :class:`ValueError` unless the frames are
        ``frame_size``."""
        expect_frame_size(frame_size, self.frame_size)
        (top, left), (height, width) = corner, out.shape[2:]
        frames = self.frames(first, out.shape[1], fps)
        out[...] = frames[:, top : top + height, left : left + width].transpose(3, 0, 1, 2)

    def audio_window(self, start: float, count: int, out: np.ndarray | None = None
                     ) -> np.ndarray:
        """``count`` samples from ``start`` seconds into the span, zero-padded; written into
        ``out`` when given."""
        out = np.zeros(count, np.float32) if out is None else out
        piece = np.zeros(0, np.float32)
        if self.clip.audio is not None:
            first = max(int(round(start * AUDIO_RATE)), 0)
            piece = self.clip.audio[first : first + count]
        out[: len(piece)], out[len(piece) :] = piece, 0.0
        return out


def _decoded_samples(video_id: str, path: str, spans: Spans, prep: PrepConfig
                     ) -> tuple[Iterator[OpenSample], list[Failure]]:
    """The spans decoded and scaled as :func:`prepared_samples` does, not re-encoded."""
    try:
        has_video = probe(path).has_video
        outcomes = list(cut_clips(path, spans, prep.fps, prep.short_side, prep.video_backend,
                                  AUDIO_RATE) if has_video
                        else cut_audio_clips(path, spans, AUDIO_RATE))
    except MediaError as error:
        return iter(()), [Failure(video_id, error.reason, error.detail)]
    samples, failures = {}, []
    for index, outcome in outcomes:
        if isinstance(outcome, MediaError):
            failures.append(Failure(video_id, outcome.reason, outcome.detail))
        else:
            samples[index] = OpenSample(DecodedReader(outcome),
                                        _decoded_meta(video_id, path, outcome, prep))
    return iter([samples[index] for index in sorted(samples)]), failures


def _decoded_meta(video_id: str, path: str, clip: Clip, prep: PrepConfig) -> dict:
    """The fields of a shard sample's JSON that clip cutting reads (the rest, texts and
    labels, a raw span has none of)."""
    return {"video_id": video_id, "source": str(path), "start": round(clip.start, 3),
            "end": round(clip.end, 3), "fps": prep.fps,
            "num_frames": 0 if clip.frames is None else len(clip.frames),
            "has_audio": clip.audio is not None, "texts": [], "labels": {}}


def frames_file(frames, fps: float, directory: str | Path) -> Path:
    """Decoded frames (T, H, W, 3) uint8 RGB at ``fps`` as an H.264 file (CRF 0) in
    ``directory``; an odd height or width loses its last row or column (4:2:0 needs even
    sizes)."""
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"frames must be uint8 (T, H, W, 3) RGB, got {frames.dtype} "
                         f"{frames.shape}")
    if not fps or fps <= 0:
        raise ValueError("decoded frames need their frame rate: fps=...")
    height, width = frames.shape[1] // 2 * 2, frames.shape[2] // 2 * 2
    path = Path(directory) / "frames.mp4"
    write_mp4(path, np.ascontiguousarray(frames[:, :height, :width]),
              VideoEncoding(fps=fps, gop=16, crf=0))
    return path


def sound_file(waveform, rate: int, directory: str | Path) -> Path:
    """A waveform ((N,) mono or (C, N), float in [-1, 1]) at ``rate`` Hz as a 16-bit WAV
    file in ``directory``."""
    samples = np.asarray(waveform, dtype=np.float32)
    samples = samples[None] if samples.ndim == 1 else samples
    if samples.ndim != 2 or samples.shape[0] not in (1, 2) or not samples.shape[1]:
        raise ValueError(f"a waveform is (N,) or (channels, N) with 1 or 2 channels, got "
                         f"{samples.shape}")
    if not rate or rate <= 0:
        raise ValueError("a waveform needs its sample rate: rate=...")
    pcm = (np.clip(samples, -1.0, 1.0) * 32767).round().astype("<i2")
    path = Path(directory) / "sound.wav"
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(samples.shape[0])
        handle.setsampwidth(2)
        handle.setframerate(int(rate))
        handle.writeframes(pcm.T.tobytes())
    return path
