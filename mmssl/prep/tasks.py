"""What a converter asks the runner to do: cut these segments out of this video."""

from __future__ import annotations

from dataclasses import dataclass, field


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


@dataclass(frozen=True)
class VideoTask:
    """A source video (``path`` None when it could not be found) and its segments."""

    dataset: str
    video_id: str
    path: str | None
    segments: tuple[SegmentSpec, ...]
