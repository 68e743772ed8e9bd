"""What a cut yields: the time ranges asked for while their frames are collected
(:class:`Segment`), the finished clips (:class:`Clip`), and the output frame size."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mmssl.media.frames import RGB


@dataclass
class Segment:
    """A time range to cut, in seconds, and the frames collected while the file was read:
    ``frames[:count]``, an array allocated once for every output time (no copy at the end)."""

    start: float
    end: float
    frames: np.ndarray | None = None
    count: int = 0

    def frame_times(self, fps: float) -> np.ndarray:
        """Output times ``t_k = start + k / fps`` for k < round((end − start) · fps), at
        least one."""
        count = max(1, int(round((self.end - self.start) * fps)))
        return self.start + np.arange(count) / fps

    def add(self, image: np.ndarray, capacity: int) -> None:
        if self.frames is None:
            self.frames = np.empty((capacity, *image.shape), np.uint8)
        self.frames[self.count] = image
        self.count += 1

    def take(self) -> np.ndarray:
        """The collected (count, ...) frames; the segment lets go of them."""
        frames, self.frames = self.frames[: self.count], None
        return frames


@dataclass
class Clip:
    """A decoded segment: ``frames`` at the requested fps (None for an audio-only source),
    (T, H, W, 3) for ``pixel_format`` ``"rgb24"`` or (T, H·3/2, W) planes for ``"yuv420p"``
    (:mod:`mmssl.media.frames`), and ``audio`` (N,) float32 mono at 16 kHz (None without
    audio)."""

    start: float
    end: float
    frames: np.ndarray | None
    audio: np.ndarray | None
    pixel_format: str = RGB


def scaled_size(width: int, height: int, short_side: int | None) -> tuple[int, int]:
    """(width, height) with the short side set to ``short_side``, both rounded to even."""
    if not short_side:
        return width - width % 2, height - height % 2
    scale = short_side / min(width, height)
    return (2 * max(1, round(width * scale / 2)), 2 * max(1, round(height * scale / 2)))
