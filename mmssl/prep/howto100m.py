"""HowTo100M → shards.

Reads the published narrations (``caption.json`` / ``raw_caption.json``: one object keyed
by video id holding parallel ``start``/``end``/``text`` lists) and, optionally,
``HowTo100M_v1.csv`` for task ids. Each video is cut into samples of at most
``max_sample_seconds`` holding the narrations that start inside them; the loader later
picks an anchor narration and its neighbours inside a sample (MIL-NCE).

    python -m mmssl.prep.howto100m --captions caption.json --videos VIDEO_DIR --out SHARDS

(``--task-csv HowTo100M_v1.csv`` adds task ids; ``--help`` lists the PrepConfig keys.)
"""

from __future__ import annotations

import csv
from pathlib import Path

from mmssl.config import PrepConfig
from mmssl.prep.annotations import (
    AnnotationError,
    admit,
    check_span,
    collect,
    dropped,
    read_json,
    without_repeated,
)
from mmssl.prep.arguments import add_prep_arguments, parse_prep, prep_parser
from mmssl.prep.executors import RunOptions
from mmssl.prep.find_videos import locate_videos
from mmssl.prep.runner import run_prep
from mmssl.prep.summary import describe
from mmssl.prep.tasks import SegmentSpec, VideoTask

DATASET = "howto100m"


def read_captions(path: str | Path, strict: bool = False):
    """Parse ``caption.json`` (or a folder of per-video ``<video_id>.csv`` files, as some
    mirrors ship); returns ({video_id: [narration dicts sorted by start]},
    [AnnotationError for each record that does not fit the format]).

    A record that is not three parallel lists is dropped whole; a narration whose times are
    not a span of :func:`~mmssl.prep.annotations.check_span` (or whose text is not a string)
    is dropped from its record, which is counted once naming the first such narration. An
    id listed twice in the file is dropped (both records named by the id)."""
    path = Path(path)
    if path.is_dir():
        return _read_caption_csvs(path, strict)
    data = read_json(path)
    if not isinstance(data, dict):
        raise AnnotationError(path, "<top level>", "expected an object keyed by video id")
    errors: list[AnnotationError] = []
    captions = {}
    for video_id, record in without_repeated(path, data, errors, strict).items():
        try:
            narrations = _narrations(path, video_id, record, errors, strict)
        except AnnotationError as error:
            collect(errors, error, strict)
            continue
        if narrations is not None:
            captions[video_id] = narrations
    return captions, errors


def _read_caption_csvs(directory: Path, strict: bool):
    """``<video_id>.csv`` files with columns ``start,end,text``, one row per narration."""
    captions, errors = {}, []
    for csv_path in sorted(directory.glob("*.csv")):
        with open(csv_path, newline="", encoding="utf-8", errors="replace") as handle:
            reader = csv.DictReader(handle)
            rows = list(reader)
        record = {key: [row.get(key) for row in rows] for key in ("start", "end", "text")}
        try:
            if not {"start", "end", "text"} <= set(reader.fieldnames or ()):
                raise AnnotationError(csv_path, csv_path.stem, "expected columns start,end,text")
            narrations = _narrations(csv_path, csv_path.stem, record, errors, strict,
                                     text=True)
        except AnnotationError as error:
            collect(errors, error, strict)
            continue
        if narrations is not None:
            captions[csv_path.stem] = narrations
    return captions, errors


def _narrations(path: Path, video_id: str, record,
                errors: list[AnnotationError], strict: bool, text: bool = False
                ) -> list[dict] | None:
    """The good narrations of one record, sorted by start (None when it had some and none
    was good); the bad ones are reported once, in ``errors``. Raises AnnotationError for a
    record that is not three parallel lists."""
    if not isinstance(record, dict) or not {"start", "end", "text"} <= set(record):
        raise AnnotationError(path, video_id, "expected keys start, end, text")
    starts, ends, texts = record["start"], record["end"], record["text"]
    if not all(isinstance(column, list) for column in (starts, ends, texts)):
        raise AnnotationError(path, video_id, "start, end and text must be lists, got "
                              f"{type(starts).__name__}, {type(ends).__name__}, "
                              f"{type(texts).__name__}")
    if not len(starts) == len(ends) == len(texts):
        raise AnnotationError(path, video_id, f"start/end/text lengths differ: "
                              f"{len(starts)}/{len(ends)}/{len(texts)}")
    narrations, problems = [], []
    for index, (start, end, words) in enumerate(zip(starts, ends, texts, strict=True)):
        try:
            start, end = check_span(start, end, text)
            if not isinstance(words, str):
                raise ValueError(f"text must be a string, got {words!r:.40}")
        except ValueError as error:
            problems.append(f"narration {index}: {error}")
            continue
        narrations.append({"start": start, "end": end, "text": words})
    if problems:
        collect(errors, dropped(path, video_id, problems, len(starts), "narrations"), strict)
    if problems and not narrations:
        return None
    return sorted(narrations, key=lambda n: n["start"])


TASK_COLUMNS = ("video_id", "task_id")


def read_task_ids(path: str | Path, strict: bool = False
                  ) -> tuple[dict[str, int], list[AnnotationError]]:
    """``HowTo100M_v1.csv`` (video_id,task_id,rank,category_1,category_2) →
    ({id: task_id}, [AnnotationError]). A file without those columns is an error; a row
    whose task id is not an integer is counted and its video converts without one."""
    path = Path(path)
    task_ids, errors = {}, []
    with open(path, newline="", encoding="utf-8", errors="replace") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in TASK_COLUMNS if c not in (reader.fieldnames or ())]
        if missing:
            raise AnnotationError(path, "<header>", f"missing columns {missing}; expected "
                                  "video_id,task_id,rank,category_1,category_2")
        for number, row in enumerate(reader, start=2):
            video_id, task_id = row.get("video_id"), (row.get("task_id") or "").strip()
            if not video_id or not task_id.lstrip("-").isdigit():
                collect(errors, AnnotationError(path, video_id or f"line {number}",
                                                f"line {number}: expected a video id and an "
                                                f"integer task_id, got {task_id!r}"), strict)
                continue
            task_ids[video_id] = int(task_id)
    return task_ids, errors


def chunk_segments(narrations: list[dict], max_seconds: float, labels: dict) -> list[SegmentSpec]:
    """Samples of at most ``max_seconds``: chunk k covers [k·L, (k+1)·L) cut to the last
    narration's end; a narration goes with the chunk in which it starts."""
    chunks: dict[int, list[dict]] = {}
    for narration in narrations:
        chunks.setdefault(int(max(narration["start"], 0.0) // max_seconds), []).append(narration)
    segments = []
    for index, members in sorted(chunks.items()):
        start = index * max_seconds
        end = min(start + max_seconds, max(n["end"] for n in members) + 1.0)
        if end > start:
            segments.append(SegmentSpec(start, end, tuple(members), labels))
    return segments


def build_tasks(captions: dict, videos: dict[str, str], task_ids: dict[str, int],
                max_seconds: float) -> list[VideoTask]:
    tasks = []
    for video_id, narrations in captions.items():
        labels = {"task_id": task_ids[video_id]} if video_id in task_ids else {}
        segments = tuple(chunk_segments(narrations, max_seconds, labels))
        tasks.append(VideoTask(DATASET, video_id, videos.get(video_id), segments))
    return tasks


def prepare(captions: str | Path, videos: str | Path, out: str | Path, config: PrepConfig,
            task_csv: str | Path | None = None, strict: bool = False, progress: bool = True,
            run: RunOptions | None = None):
    """The whole conversion; returns the manifest."""
    parsed, errors = read_captions(captions, strict)
    task_ids, task_errors = read_task_ids(task_csv, strict) if task_csv else ({}, [])
    tasks = build_tasks(parsed, locate_videos(videos), task_ids, config.max_sample_seconds)
    tasks, failures = admit(tasks, errors + task_errors, strict, captions)
    return run_prep(tasks, out, config, DATASET, failures, progress, run=run)


def main(argv: list[str] | None = None, prog: str | None = None) -> dict:
    parser = prep_parser(DATASET, __doc__, prog)
    parser.add_argument("--captions", required=True,
                        help="caption.json, raw_caption.json, or a folder of <id>.csv files")
    parser.add_argument("--task-csv", help="HowTo100M_v1.csv (adds task_id labels)")
    add_prep_arguments(parser)
    args, config, run = parse_prep(parser, argv)
    manifest = prepare(args.captions, args.videos, args.out, config, args.task_csv, args.strict,
                       run=run)
    print(describe(manifest))
    return manifest


if __name__ == "__main__":
    main()
