"""Reading step-annotated ``{"database": {video_id: record}}`` JSON files (YouCook2, COIN).

The datasets agree on the shape (a record per video with a ``subset`` and a list of steps,
each with a ``segment`` [start, end] in seconds and a text) and differ in names and types;
a :class:`StepFormat` says where one dataset keeps each thing:

=============  ==============================  ===================================
               YouCook2                        COIN
=============  ==============================  ===================================
steps          ``annotations``                 ``annotation``
step text      ``sentence``                    ``label``
task           ``recipe_type`` (str)           ``recipe_type`` (int), ``class``
step id        ``id`` (int, may be absent)     ``id`` (str)
subsets        ``training``, ``validation``    ``training``, ``testing``
=============  ==============================  ===================================
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from mmssl.prep.annotations import AnnotationError, collect
from mmssl.prep.tasks import SegmentSpec, VideoTask


@dataclass(frozen=True)
class StepFormat:
    """Where a dataset's records keep their steps and labels.

    ``record_labels(record)`` and ``step_labels(step, index)`` return the sample labels taken
    from a video record and from one of its steps; they may raise KeyError, TypeError or
    ValueError for a malformed record, which is reported naming ``record_help`` /
    ``step_help`` as what was expected.
    """

    steps_key: str
    text_key: str
    record_labels: Callable[[dict], dict]
    step_labels: Callable[[dict, int], dict]
    record_help: str
    step_help: str


def read_step_annotations(path: str | Path, fmt: StepFormat, subsets: Iterable[str],
                          strict: bool = False):
    """Parse ``path``; returns ({video_id: (subset, [SegmentSpec, ...])}, [AnnotationError])
    for the videos in ``subsets``. A bad record is collected (raised when ``strict``)."""
    path, subsets = Path(path), tuple(subsets)
    data = json.loads(path.read_text())
    if not isinstance(data, dict) or not isinstance(data.get("database"), dict):
        raise AnnotationError(path, "<top level>", 'expected {"database": {...}}')
    videos, errors = {}, []
    for video_id, record in data["database"].items():
        try:
            subset, segments = parse_record(path, video_id, record, fmt)
        except AnnotationError as error:
            collect(errors, error, strict)
            continue
        if subset in subsets:
            videos[video_id] = (subset, segments)
    return videos, errors


def parse_record(path: Path, video_id: str, record, fmt: StepFormat):
    """(subset, segments) of one video record, or AnnotationError naming what is wrong."""
    try:
        subset = record["subset"]
        steps = record[fmt.steps_key]
        labels = {"subset": subset, **fmt.record_labels(record)}
        if not isinstance(subset, str) or not isinstance(steps, list):
            raise TypeError("subset must be a string and steps a list")
    except (KeyError, TypeError, ValueError) as error:
        raise AnnotationError(path, video_id, f"expected {fmt.record_help} ({error!r})") from error
    segments = [parse_step(path, video_id, step, index, fmt, labels)
                for index, step in enumerate(steps)]
    return subset, segments


def parse_step(path: Path, video_id: str, step, index: int, fmt: StepFormat,
               labels: dict) -> SegmentSpec:
    """One step as a :class:`SegmentSpec` whose single text spans the segment."""
    try:
        start, end = (float(x) for x in step["segment"])
        text = step[fmt.text_key]
        if not isinstance(text, str):
            raise TypeError(f"{fmt.text_key} must be a string")
        step_labels = {**labels, **fmt.step_labels(step, index)}
    except (KeyError, TypeError, ValueError) as error:
        raise AnnotationError(path, video_id, f"{fmt.steps_key}[{index}]: expected "
                              f"{fmt.step_help} ({error!r})") from error
    return SegmentSpec(start, end, ({"start": start, "end": end, "text": text},), step_labels)


def build_tasks(dataset: str, parsed: dict, videos: dict[str, str]) -> list[VideoTask]:
    """One :class:`VideoTask` per parsed video (``path`` None when it was not found)."""
    return [VideoTask(dataset, video_id, videos.get(video_id), tuple(segments))
            for video_id, (_, segments) in parsed.items()]
