"""Cutting model inputs out of a shard sample.

An open sample is a :class:`~mmssl.media.ClipReader` on its mp4 plus its metadata
(``mmssl.shard_format``). A clip is ``clip_frames`` consecutive frames, cropped to the
batch's ``crop_size`` (:mod:`mmssl.data.augment`), and the 16 kHz audio under them; only
the frames a clip needs are decoded. Frames stay uint8: the method normalises them on its
device (:func:`mmssl.models.inputs.normalize_video`), with the settings of its model.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from mmssl.data.augment import CropBox, center_crop_box, crop_to_size
from mmssl.media.logmel import LogMel
from mmssl.media.probe import MediaError
from mmssl.media.reader import ClipReader
from mmssl.shard_format import AUDIO_RATE


class SampleTiming:
    """A shard sample's frame rate, frame count and duration, from its JSON member."""

    meta: dict

    @property
    def fps(self) -> float:
        return float(self.meta["fps"])

    @property
    def num_frames(self) -> int:
        return int(self.meta["num_frames"])

    @property
    def duration(self) -> float:
        return self.num_frames / self.fps


@dataclass
class OpenSample(SampleTiming):
    reader: ClipReader
    meta: dict
    where: str = ""

    @property
    def has_audio(self) -> bool:
        return bool(self.meta.get("has_audio")) and self.reader.has_audio


class ClipCutter:
    """Video (3, T, h, w) uint8 and log-mel (1, n_mels, frames) for a clip start time;
    ``crop_size`` is (h, w)."""

    def __init__(self, clip_frames: int, logmel: LogMel, crop_size: tuple[int, int]):
        self.clip_frames = clip_frames
        self.logmel = logmel
        self.crop_size = tuple(crop_size)

    @classmethod
    def from_config(cls, config) -> ClipCutter:
        """The cutter of a :class:`~mmssl.config.DataConfig`: its clip length, crop size and
        log-mel settings, the same for training, evaluation and export."""
        return cls(config.clip_frames, LogMel(n_mels=config.n_mels, window_ms=config.window_ms,
                                              hop_ms=config.hop_ms), config.crop_size)

    def clip_seconds(self, fps: float) -> float:
        return self.clip_frames / fps

    def video(self, sample: OpenSample, start: float, box: CropBox | None = None
              ) -> torch.Tensor:
        """Frames from ``round(start * fps)`` (the last frame repeats past the end), the
        ``box`` of each (default: the centre crop) scaled to ``crop_size``."""
        first = min(int(round(start * sample.fps)), max(sample.num_frames - 1, 0))
        frames = torch.from_numpy(sample.reader.frames(first, self.clip_frames, sample.fps))
        video = frames.permute(3, 0, 1, 2)
        box = box or center_crop_box(*video.shape[-2:], self.crop_size)
        return crop_to_size(video, box, self.crop_size)

    def checked_video(self, sample: OpenSample, start: float, box: CropBox) -> torch.Tensor:
        """:meth:`video`, with frames of another size than the sample's JSON member gives
        reported as a :class:`~mmssl.media.MediaError` (``frame_size_mismatch``): bad data
        for a training stream to skip and count."""
        try:
            return self.video(sample, start, box)
        except ValueError as error:
            raise MediaError("frame_size_mismatch", sample.where, str(error)) from error

    def audio(self, sample: OpenSample, start: float) -> tuple[torch.Tensor, bool]:
        """Log-mel of the clip's audio, and whether there was any (all zeros when none)."""
        count = int(round(self.clip_seconds(sample.fps) * AUDIO_RATE))
        if sample.has_audio:
            waveform = sample.reader.audio_window(start, count)
            return self.logmel(torch.from_numpy(waveform))[None], True
        frames = self.logmel.num_frames(count)
        return torch.zeros(1, self.logmel.mel.n_mels, frames), False

