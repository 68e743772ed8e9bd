"""What a converter asks the runner to do: cut these segments out of this video."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

END_SLACK_SECONDS, END_SLACK_FRACTION = 2.0, 0.1  # how far past a probed duration a cut lies


@dataclass(frozen=True)
class SegmentSpec:
    """One future shard sample: a span of the source video with its texts and labels.

    ``texts`` are ``{"start", "end", "text"}`` dicts in *source* time; the converter makes
    them relative to the clip when it writes the sample.
    """

    start: float
    end: float
    texts: tuple[dict, ...] = ()
    labels: dict = field(default_factory=dict)

    def cut_to(self, duration: float) -> SegmentSpec | None:
        """This segment with its end cut to a video of ``duration`` seconds (the probed
        one), None when it starts past that end. Headers may understate their streams a
        little, so the cut is at ``duration + max(2 s, 10 %)``: it changes nothing for a
        segment that merely runs past the end (the decoder stops at the last frame) and
        keeps an absurd end from sizing the decoder's buffers. ``duration`` 0 (unknown)
        cuts nothing."""
        if duration <= 0:
            return self
        end = duration + max(END_SLACK_SECONDS, END_SLACK_FRACTION * duration)
        if self.start >= end:
            return None
        return self if self.end <= end else replace(self, end=end)


@dataclass(frozen=True)
class VideoTask:
    """A source video (``path`` None when it could not be found) and its segments."""

    dataset: str
    video_id: str
    path: str | None
    segments: tuple[SegmentSpec, ...]
