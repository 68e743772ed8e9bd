"""COIN → shards: one sample per annotated step segment.

Reads ``COIN.json`` as published (``{"database": {id: {"duration", "class", "video_url",
"start", "end", "subset", "recipe_type", "annotation": [{"id", "segment": [s, e],
"label"}]}}}``; ``recipe_type`` is the int task id, step ids are strings, subsets are
``training`` / ``testing``). Each sample has one text, the step label, and labels
``{"subset", "task_id", "task", "step_id"}``. Videos are found by id in any tree (or an
id,path CSV).

    python -m data_prep.coin --annotations COIN.json --videos VIDEO_ROOT --out SHARDS \
        [--subset testing]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from data_prep.arguments import add_prep_arguments, prep_config, run_options
from data_prep.executors import RunOptions
from data_prep.find_videos import locate_videos
from data_prep.runner import run_prep
from data_prep.segments import StepFormat, build_tasks, read_step_annotations
from mmssl.config import PrepConfig

DATASET = "coin"
SUBSETS = ("training", "testing")


def _record_labels(record: dict) -> dict:
    task_id, task = record["recipe_type"], record["class"]
    if isinstance(task_id, bool) or not isinstance(task_id, int | str):
        raise TypeError(f"recipe_type must be an int, not {task_id!r}")
    if not isinstance(task, str):
        raise TypeError(f"class must be a string, not {task!r}")
    return {"task_id": int(task_id), "task": task}


def _step_labels(step: dict, index: int) -> dict:
    step_id = step["id"]
    if not isinstance(step_id, str | int) or isinstance(step_id, bool):
        raise TypeError(f"id must be a string, not {step_id!r}")
    return {"step_id": str(step_id)}


COIN_FORMAT = StepFormat(
    steps_key="annotation", text_key="label", record_labels=_record_labels,
    step_labels=_step_labels,
    record_help="keys subset (str), recipe_type (int), class (str), annotation (list)",
    step_help='{"id": str, "segment": [start, end], "label": str}',
)


def read_annotations(path: str | Path, subsets=SUBSETS, strict: bool = False):
    """Parse COIN.json; returns ({video_id: (subset, [SegmentSpec])}, [AnnotationError])."""
    return read_step_annotations(path, COIN_FORMAT, subsets, strict)


def prepare(annotations: str | Path, videos: str | Path, out: str | Path, config: PrepConfig,
            subsets=SUBSETS, strict: bool = False, progress: bool = True,
            run: RunOptions | None = None) -> dict:
    """The whole conversion; returns the manifest (bad records counted as
    ``bad_annotation``, missing videos as ``missing_file``)."""
    parsed, errors = read_annotations(annotations, subsets, strict)
    tasks = build_tasks(DATASET, parsed, locate_videos(videos))
    return run_prep(tasks, out, config, DATASET, [e.as_failure() for e in errors], progress,
                    run=run)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m data_prep.coin", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--annotations", required=True, help="COIN.json")
    parser.add_argument("--subset", choices=SUBSETS, action="append",
                        help="subsets to convert (repeatable; default both)")
    add_prep_arguments(parser)
    args = parser.parse_args(argv)
    manifest = prepare(args.annotations, args.videos, args.out, prep_config(args),
                       tuple(args.subset or SUBSETS), args.strict, run=run_options(args))
    print(f"{manifest['total_samples']} samples in {len(manifest['shards'])} shards; "
          f"failed: {manifest['failed'] or 'none'}")
    return manifest


if __name__ == "__main__":
    main()
