"""Annotation records checked once, at the door: the error that names a bad record, and
the one check every reader applies to a time span.

Public annotation files hold whatever their producers wrote: a number where a list was
expected, times as strings, ``NaN`` and ``Infinity`` (which Python's JSON reader accepts),
negative times, a start after its end, or ``1e9`` seconds. Each reader turns such a record
into an :class:`AnnotationError` naming the file, the record and the problem; the converter
counts it as ``bad_annotation`` and goes on (``--strict`` raises it instead). Nothing past
the door sees a value that is not a finite time in ``[0,`` :data:`LONGEST_SECONDS` ``]``.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

from mmssl.errors import UserError
from mmssl.prep.convert import Failure
from mmssl.prep.tasks import SegmentSpec, VideoTask
from mmssl.shard_format import sample_key

# No annotated time may exceed this: a week is far beyond any video of the public datasets
# (and prep skips sources over PrepConfig.max_seconds, 12 h by default), so a larger value
# can only be a broken record. Segments that merely run past their video's end are cut to
# its probed duration by the converter.
LONGEST_SECONDS = 7 * 24 * 3600.0


class AnnotationError(UserError, ValueError):
    """A record that does not match the published format, naming file and record."""

    def __init__(self, path, record: str, problem: str):
        self.path, self.record, self.problem = str(path), record, problem
        super().__init__(f"{path}: record {record!r}: {problem}")

    def as_failure(self) -> Failure:
        return Failure(self.record, "bad_annotation", f"{self.path}: {self.problem}")


def collect(errors: list[AnnotationError], error: AnnotationError, strict: bool) -> None:
    """Raise in strict mode; otherwise remember the error so it is counted, and go on."""
    if strict:
        raise error
    errors.append(error)


def seconds(value, name: str, text: bool = False) -> float:
    """``value`` as a time in seconds, or ``ValueError`` saying what is wrong with it.

    A time is a finite number in ``[0, LONGEST_SECONDS]``: an int or a float, never a bool,
    and a string only when the file is text (``text``: CSV columns).
    """
    if isinstance(value, str) and text:
        try:
            value = float(value)
        except ValueError:
            raise ValueError(f"{name} {value!r} is not a number") from None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a number of seconds, got {value!r:.40}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} {value} is not finite")
    if value < 0:
        raise ValueError(f"{name} {value} is negative")
    if value > LONGEST_SECONDS:
        raise ValueError(f"{name} {value:g} s is past any video's end "
                         f"(over {LONGEST_SECONDS:g} s)")
    return value


def check_span(start, end, text: bool = False) -> tuple[float, float]:
    """``(start, end)`` as times (:func:`seconds`) with ``start <= end``, or ``ValueError``.
    A zero-length span passes here; the converter counts it as ``empty_segment``."""
    start, end = seconds(start, "start", text), seconds(end, "end", text)
    if start > end:
        raise ValueError(f"start {start:g} is after end {end:g}")
    return start, end


def dropped(path, record: str, problems: list[str], total: int, noun: str
            ) -> AnnotationError:
    """The one error of a record some of whose ``total`` items (``noun``: narrations,
    steps) were dropped for ``problems``: how many, and the first problem."""
    some = f"{len(problems)} of {total}" if len(problems) < total else f"all {total}"
    return AnnotationError(path, record, f"dropped {some} {noun}; first: {problems[0]}")


class _Object(dict):
    """A JSON object that remembers the keys written more than once (``json`` keeps the
    last value of a repeated key without a word)."""

    repeated: tuple[str, ...] = ()


def _object(pairs: list[tuple[str, object]]) -> _Object:
    obj = _Object(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        obj.repeated = tuple(dict.fromkeys(k for k, _ in pairs if k in seen or seen.add(k)))
    return obj


def read_json(path: Path) -> object:
    """The JSON document at ``path``, each object remembering its repeated keys
    (:func:`repeated_keys`); a file that is not JSON is an :class:`AnnotationError`."""
    try:
        return json.loads(path.read_text(encoding="utf-8"), object_pairs_hook=_object)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise AnnotationError(path, "<file>", f"not a JSON file: {error}") from error


def repeated_keys(obj) -> tuple[str, ...]:
    """Keys given more than once in a JSON object read by :func:`read_json`."""
    return getattr(obj, "repeated", ())


def without_repeated(path: Path, records: dict, errors: list[AnnotationError], strict: bool
                     ) -> dict:
    """``records`` without the ids listed more than once (each counted: which of its
    records is right cannot be told)."""
    repeated = repeated_keys(records)
    for key in repeated:
        collect(errors, AnnotationError(path, key, "video id listed more than once; none of "
                                        "its records is used"), strict)
    return {key: value for key, value in records.items() if key not in repeated}


def admit(tasks: list[VideoTask], errors: list[AnnotationError], strict: bool, source
          ) -> tuple[list[VideoTask], list[Failure]]:
    """The tasks a run converts, and the failures it starts with (``errors`` and those
    found here). Segments of one video that start at the same millisecond but end
    differently are kept (YouCook2 has steps that start together; the converter numbers
    their keys). A segment that repeats an earlier one of its video (same start and end),
    or whose key (:func:`mmssl.shard_format.sample_key`) a segment of another task (another
    id, or the same video listed again) already has, is an error naming both and the
    annotations ``source`` (raised when ``strict``), and is dropped."""
    errors = list(errors)
    owners: dict[str, tuple[int, str, SegmentSpec]] = {}
    spans: set[tuple[int, int, int]] = set()
    admitted = []
    for number, task in enumerate(tasks):
        kept = []
        for spec in task.segments:
            key = sample_key(task.video_id, spec.start)
            span = (number, round(spec.start * 1000), round(spec.end * 1000))
            owner, first_id, first = owners.get(key, (number, task.video_id, spec))
            if owner != number or span in spans:
                collect(errors, AnnotationError(
                    source, task.video_id,
                    f"segment {spec.start:g}-{spec.end:g} s would be sample {key}, as is "
                    f"segment {first.start:g}-{first.end:g} s of video {first_id!r}"), strict)
                continue
            owners.setdefault(key, (number, task.video_id, spec))
            spans.add(span)
            kept.append(spec)
        if kept or not task.segments:
            admitted.append(dataclasses.replace(task, segments=tuple(kept)))
    return admitted, [error.as_failure() for error in errors]
