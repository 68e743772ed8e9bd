"""Evaluation clip lists: which segments a benchmark scores, and which of them are missing.

MIL-NCE's YouCook2 list (3,350 validation clips whose videos are not in HowTo100M's
training set) is a CSV with columns ``end,start,task,text,video_id`` (extra columns are
ignored, order is free). Each row is matched to the prepared segment of the same
``video_id`` whose start is nearest to the row's ``start``, within ``tolerance`` seconds
(prepared clips start on a frame boundary, so starts differ by up to a frame). A row whose
video is not in the shards, or whose segment is not, is *reported* (``missing``), never
silently dropped. The row's ``text`` is its query.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

REQUIRED_COLUMNS = ("end", "start", "text", "video_id")


@dataclass(frozen=True)
class ClipRow:
    video_id: str
    start: float
    end: float
    text: str
    task: str = ""


@dataclass
class ClipMatch:
    """``rows[i]`` is scored against segment ``segment_index[i]``; ``missing`` lists the
    rows that could not be, with the reason (``missing_video`` / ``missing_segment``)."""

    rows: list[ClipRow] = field(default_factory=list)
    segment_index: list[int] = field(default_factory=list)
    missing: list[dict] = field(default_factory=list)

    def summary(self) -> dict:
        reasons: dict[str, int] = {}
        for item in self.missing:
            reasons[item["reason"]] = reasons.get(item["reason"], 0) + 1
        return {"listed": len(self.rows) + len(self.missing), "found": len(self.rows),
                "missing": reasons, "missing_rows": self.missing}


def read_clip_list(path: str | Path) -> list[ClipRow]:
    """Rows of a clip-list CSV; a bad header or row raises naming the file and line."""
    path = Path(path)
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        absent = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
        if absent:
            raise ValueError(f"{path}: clip list needs columns {list(REQUIRED_COLUMNS)}; "
                             f"missing {absent} (header: {reader.fieldnames})")
        rows = []
        for line, record in enumerate(reader, start=2):
            try:
                start, end = float(record["start"]), float(record["end"])
            except (TypeError, ValueError):
                raise ValueError(f"{path}: line {line}: start/end must be numbers, got "
                                 f"{record['start']!r}, {record['end']!r}") from None
            if not end > start >= 0 or not record["video_id"]:
                raise ValueError(f"{path}: line {line}: need a video_id and 0 <= start < end, "
                                 f"got {record['video_id']!r} {start}-{end}")
            rows.append(ClipRow(record["video_id"], start, end, record["text"] or "",
                                record.get("task") or ""))
    if not rows:
        raise ValueError(f"{path}: clip list is empty")
    return rows


def match_clips(rows: list[ClipRow], metas: list[dict], tolerance: float = 1.0) -> ClipMatch:
    """Match each row to the nearest-starting segment of its video (see module docstring).

    ``metas``: the shard JSON of each prepared segment (``video_id``, ``start`` in the
    source video, seconds).
    """
    by_video: dict[str, list[tuple[float, int]]] = {}
    for index, meta in enumerate(metas):
        by_video.setdefault(meta["video_id"], []).append((float(meta["start"]), index))
    match = ClipMatch()
    for row in rows:
        candidates = by_video.get(row.video_id)
        if not candidates:
            match.missing.append({"video_id": row.video_id, "start": row.start,
                                  "reason": "missing_video"})
            continue
        start, index = min(candidates, key=lambda c: abs(c[0] - row.start))
        if abs(start - row.start) > tolerance:
            match.missing.append({"video_id": row.video_id, "start": row.start,
                                  "reason": "missing_segment"})
            continue
        match.rows.append(row)
        match.segment_index.append(index)
    return match
