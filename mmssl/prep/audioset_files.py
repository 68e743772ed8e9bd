"""Parsers for AudioSet's published annotation files (``docs/formats.md``).

- ``*_segments.csv``: ``#`` comment lines, then ``YTID, start_seconds, end_seconds,
  "mid,mid,..."`` with a space after each comma and the label list quoted.
- ``class_labels_indices.csv``: header ``index,mid,display_name``.
- ``ontology.json``: a list of ``{"id", "name", "child_ids", ...}`` records.

A record that does not match becomes an :class:`AnnotationError` naming the file and the
record; it is collected (counted by the converter) or raised at once with ``strict``.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from mmssl.prep.annotations import (
    AnnotationError,
    check_span,
    collect,
    read_json,
)

LABELS_HEADER = ["index", "mid", "display_name"]
ONTOLOGY_KEYS = {"id", "name", "child_ids"}


@dataclass(frozen=True)
class AudioSetSegment:
    """One row of a segments CSV: 10 s of YouTube video ``ytid`` and its positive labels."""

    ytid: str
    start: float
    end: float
    mids: tuple[str, ...]
    subset: str


def subset_name(path: str | Path) -> str:
    """``balanced_train_segments.csv`` → ``balanced_train``."""
    return Path(path).stem.removesuffix("_segments")


def read_segments(path: str | Path, known_mids=None, strict: bool = False
                  ) -> tuple[list[AudioSetSegment], list[AnnotationError]]:
    """Rows of a segments CSV; mids outside ``known_mids`` (when given) are bad records."""
    path = Path(path)
    segments, errors = [], []
    with open(path, newline="", encoding="utf-8", errors="replace") as handle:
        lines = list(enumerate(handle, start=1))
    for number, line in lines:
        if not line.strip() or line.startswith("#"):
            continue
        # One line at a time, so a stray quote cannot swallow the rows after it;
        # skipinitialspace: the label list's quote follows ", ", not ",".
        row = next(csv.reader([line], skipinitialspace=True))
        try:
            segments.append(_segment(path, number, row, known_mids))
        except AnnotationError as error:
            collect(errors, error, strict)
    return segments, errors


def _segment(path: Path, number: int, row: list[str], known_mids
             ) -> AudioSetSegment:
    ytid = row[0].strip() if row and row[0].strip() else f"line {number}"
    if len(row) != 4:
        raise AnnotationError(path, ytid, f"line {number}: expected 4 fields (YTID, "
                              f"start_seconds, end_seconds, positive_labels), got {len(row)}")
    try:
        start, end = check_span(row[1].strip(), row[2].strip(), text=True)
        if start == end:
            raise ValueError(f"start {start:g} is its end: no clip")
    except ValueError as error:
        raise AnnotationError(path, ytid, f"line {number}: start_seconds, end_seconds: "
                              f"{error}") from error
    mids = tuple(mid.strip() for mid in row[3].split(",") if mid.strip())
    unknown = [mid for mid in mids if known_mids is not None and mid not in known_mids]
    if not mids or unknown:
        raise AnnotationError(path, ytid, f"line {number}: labels must be known mids, "
                              f"got {row[3]!r}")
    return AudioSetSegment(ytid, start, end, mids, subset_name(path))


def read_class_labels(path: str | Path) -> tuple[dict[str, int], dict[str, str]]:
    """``({mid: index}, {mid: display_name})``. A bad row is fatal: every segment's labels
    depend on this table."""
    path = Path(path)
    with open(path, newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header != LABELS_HEADER:
            raise AnnotationError(path, "<header>", f"expected {','.join(LABELS_HEADER)}")
        indices, names = {}, {}
        for number, row in enumerate(reader, start=2):
            if len(row) != 3 or not row[0].isdigit() or row[1] in indices:
                raise AnnotationError(path, f"line {number}", "expected index,mid,display_name "
                                      "with an integer index and a new mid")
            indices[row[1]], names[row[1]] = int(row[0]), row[2]
    return indices, names


def read_ontology(path: str | Path, strict: bool = False
                  ) -> tuple[dict[str, dict], list[AnnotationError]]:
    """``{id: record}`` from ``ontology.json``; records without id, name or child_ids are
    collected as errors."""
    path = Path(path)
    data = read_json(path)
    if not isinstance(data, list):
        raise AnnotationError(path, "<top level>", "expected a list of records")
    records, errors = {}, []
    for number, record in enumerate(data):
        if isinstance(record, dict) and ONTOLOGY_KEYS <= set(record):
            records[record["id"]] = record
            continue
        name = record.get("id", f"#{number}") if isinstance(record, dict) else f"#{number}"
        collect(errors, AnnotationError(path, name, f"expected keys {sorted(ONTOLOGY_KEYS)}"),
                strict)
    return records, errors
