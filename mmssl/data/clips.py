"""Cutting model inputs out of a shard sample.

An open sample is a :class:`~mmssl.media.ClipReader` on its mp4 plus its metadata
(``mmssl.shard_format``). A clip is ``clip_frames`` consecutive frames, cropped to the
batch's ``crop_size`` (:mod:`mmssl.data.augment`), and the 16 kHz waveform under them; only
the frames and audio packets a clip needs are decoded. Nothing else is computed here:
frames stay uint8 and audio a waveform, and the method turns them into encoder inputs on
its device, in batches (:meth:`mmssl.methods.towers.Towers.inputs`: normalisation, log-mel).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from mmssl.data.augment import (
    CropBox,
    center_crop_box,
    crop_to_size,
    is_plain_cut,
)
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


def in_one_pass(firsts: list[int], count: int) -> bool:
    """Whether windows of ``count`` frames or samples starting at ``firsts`` are cheaper
    decoded in one pass over their whole span than with a seek each: unless the span is
    more than twice what the windows hold (sparse windows: a seek each decodes less)."""
    return max(firsts) + count - min(firsts) <= 2 * count * len(firsts)


class ClipCutter:
    """Video (3, T, h, w) uint8 and audio (samples,) float32 for a clip start time;
    ``crop_size`` is (h, w)."""

    def __init__(self, clip_frames: int, crop_size: tuple[int, int]):
        self.clip_frames = clip_frames
        self.crop_size = tuple(crop_size)

    @classmethod
    def from_config(cls, config) -> ClipCutter:
        """The cutter of a :class:`~mmssl.config.DataConfig`: its clip length and crop size,
        the same for training, evaluation and export."""
        return cls(config.clip_frames, config.crop_size)

    def clip_seconds(self, fps: float) -> float:
        return self.clip_frames / fps

    def audio_samples(self, fps: float) -> int:
        """Waveform samples of a clip at ``fps``: round(clip_frames / fps · 16000)."""
        return int(round(self.clip_seconds(fps) * AUDIO_RATE))

    def video(self, sample: OpenSample, start: float, box: CropBox | None = None,
              out: np.ndarray | None = None) -> torch.Tensor:
        """Frames from ``round(start * fps)`` (the last frame repeats past the end), the
        ``box`` of each (default: the centre crop) scaled to ``crop_size``: (3, T, h, w)
        uint8, written into the array ``out`` when given (the clip's row of its batch, see
        :class:`~mmssl.data.batching.BatchRow`) and then a tensor on its memory."""
        first = min(int(round(start * sample.fps)), max(sample.num_frames - 1, 0))
        box = box or center_crop_box(*sample.reader.frame_size, self.crop_size)
        if not is_plain_cut(box, self.crop_size):  # resampled: every frame in one call
            planes = [torch.from_numpy(np.stack(p)) for p in
                      sample.reader.iter_frames(first, self.clip_frames, sample.fps)]
            clip = crop_to_size(torch.stack(planes, dim=1), box, self.crop_size)
            return clip if out is None else torch.from_numpy(out).copy_(clip)
        if out is None:
            out = np.empty((3, self.clip_frames, *self.crop_size), dtype=np.uint8)
        # A plain cut: each plane's box is copied straight to its place in ``out``, once.
        sample.reader.cut_into(out, first, sample.fps, (box.top, box.left),
                               (box.frame_height, box.frame_width))
        return torch.from_numpy(out)

    def video_windows(self, sample: OpenSample, starts: list[float]) -> torch.Tensor:
        """(W, 3, T, h, w): :meth:`video` at each of ``starts`` (centre crops), the frames
        decoded in one pass when the windows lie close together (an evaluation segment's
        windows cover it) rather than with a seek per window."""
        count, fps = self.clip_frames, sample.fps
        firsts = [min(int(round(start * fps)), max(sample.num_frames - 1, 0))
                  for start in starts]
        span = max(firsts) + count - min(firsts)
        if not in_one_pass(firsts, count):
            return torch.stack([self.video(sample, start) for start in starts])
        frames = [torch.from_numpy(np.stack(planes))  # (3, H, W) each
                  for planes in sample.reader.iter_frames(min(firsts), span, fps)]
        offsets = [first - min(firsts) for first in firsts]
        box = center_crop_box(*frames[0].shape[-2:], self.crop_size)
        return torch.stack([crop_to_size(torch.stack(frames[o : o + count], dim=1), box,
                                         self.crop_size) for o in offsets])

    def checked_video(self, sample: OpenSample, start: float, box: CropBox,
                      out: np.ndarray | None = None) -> torch.Tensor:
        """:meth:`video`, with frames of another size than the sample's JSON member gives
        reported as a :class:`~mmssl.media.MediaError` (``frame_size_mismatch``): bad data
        for a training stream to skip and count."""
        try:
            return self.video(sample, start, box, out)
        except ValueError as error:
            raise MediaError("frame_size_mismatch", sample.where, str(error)) from error

    def audio_windows(self, sample: OpenSample, starts: list[float]) -> torch.Tensor:
        """(W, samples): :meth:`audio` at each of ``starts``, the track decoded once over
        all of them when they lie close together (an evaluation segment's windows)."""
        count = self.audio_samples(sample.fps)
        firsts = [max(int(round(start * AUDIO_RATE)), 0) for start in starts]
        if not sample.has_audio or not in_one_pass(firsts, count):
            return torch.stack([self.audio(sample, start)[0] for start in starts])
        span = max(firsts) + count - min(firsts)
        stretch = sample.reader.audio_window(min(firsts) / AUDIO_RATE, span)
        return torch.stack([torch.from_numpy(stretch[first - min(firsts):][:count])
                            for first in firsts])

    def audio(self, sample: OpenSample, start: float) -> tuple[torch.Tensor, bool]:
        """The clip's waveform (samples,) float32 mono at 16 kHz, and whether the sample
        has audio (zeros, silence, when it has none)."""
        out = np.empty(self.audio_samples(sample.fps), np.float32)
        return torch.from_numpy(out), self.audio_into(sample, start, out)

    def audio_into(self, sample: OpenSample, start: float, out: np.ndarray) -> bool:
        """:meth:`audio` written into ``out`` (:meth:`audio_samples` float32: the clip's
        row of its batch); whether the sample has audio."""
        if sample.has_audio:
            sample.reader.audio_window(start, len(out), out)
        else:
            out[:] = 0.0
        return sample.has_audio
