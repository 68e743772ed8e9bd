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

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from mmssl.prep.annotations import (
    AnnotationError,
    check_span,
    collect,
    dropped,
    read_json,
    without_repeated,
)
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
    for the videos in ``subsets``. A bad record is collected (raised when ``strict``); a
    bad step is dropped from its record, which is counted once naming the first such step
    (a record none of whose steps is good is dropped); an id listed twice is dropped."""
    path, subsets = Path(path), tuple(subsets)
    data = read_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("database"), dict):
        raise AnnotationError(path, "<top level>", 'expected {"database": {...}}')
    videos, errors = {}, []
    for video_id, record in without_repeated(path, data["database"], errors, strict).items():
        try:
            subset, segments = parse_record(path, video_id, record, fmt, errors, strict)
        except AnnotationError as error:
            collect(errors, error, strict)
            continue
        if subset in subsets and segments is not None:
            videos[video_id] = (subset, segments)
    return videos, errors


def parse_record(path: Path, video_id: str, record, fmt: StepFormat,
                 errors: list[AnnotationError], strict: bool):
    """(subset, segments) of one video record — segments None when it had steps and none
    was good — or AnnotationError naming what is wrong with the record. Bad steps are
    reported once in ``errors`` (raised when ``strict``)."""
    try:
        subset = record["subset"]
        steps = record[fmt.steps_key]
        labels = {"subset": subset, **fmt.record_labels(record)}
        if not isinstance(subset, str) or not isinstance(steps, list):
            raise TypeError("subset must be a string and steps a list")
    except (KeyError, TypeError, ValueError) as error:
        raise AnnotationError(path, video_id, f"expected {fmt.record_help} ({error!r})") from error
    segments, problems = [], []
    for index, step in enumerate(steps):
        try:
            segments.append(parse_step(step, index, fmt, labels))
        except KeyError as error:
            problems.append(f"{fmt.steps_key}[{index}]: no {error}; expected {fmt.step_help}")
        except (TypeError, ValueError) as error:
            problems.append(f"{fmt.steps_key}[{index}]: {error}")
    if problems:
        collect(errors, dropped(path, video_id, problems, len(steps), "steps"), strict)
    return subset, (None if problems and not segments else segments)


def parse_step(step, index: int, fmt: StepFormat, labels: dict) -> SegmentSpec:
    """One step as a :class:`SegmentSpec` whose single text spans the segment; KeyError,
    TypeError or ValueError saying what is wrong with it."""
    segment = step["segment"]
    if not isinstance(segment, list) or len(segment) != 2:
        raise TypeError(f"segment must be [start, end], got {segment!r:.40}")
    start, end = check_span(*segment)
    text = step[fmt.text_key]
    if not isinstance(text, str):
        raise TypeError(f"{fmt.text_key} must be a string")
    step_labels = {**labels, **fmt.step_labels(step, index)}
    return SegmentSpec(start, end, ({"start": start, "end": end, "text": text},), step_labels)


def build_tasks(dataset: str, parsed: dict, videos: dict[str, str]) -> list[VideoTask]:
    """One :class:`VideoTask` per parsed video (``path`` None when it was not found)."""
    return [VideoTask(dataset, video_id, videos.get(video_id), tuple(segments))
            for video_id, (_, segments) in parsed.items()]
