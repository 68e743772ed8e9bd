"""COIN → shards: one sample per annotated step segment.

Reads ``COIN.json`` as published (``{"database": {id: {"duration", "class", "video_url",
"start", "end", "subset", "recipe_type", "annotation": [{"id", "segment": [s, e],
"label"}]}}}``; ``recipe_type`` is the int task id, step ids are strings, subsets are
``training`` / ``testing``). Each sample has one text, the step label, and labels
``{"subset", "task_id", "task", "step_id"}``. Videos are found by id in any tree (or an
id,path CSV).

    python -m mmssl.prep.coin --annotations COIN.json --videos VIDEO_ROOT --out SHARDS \
        [--subset testing]
"""

from __future__ import annotations

from pathlib import Path

from mmssl.config import PrepConfig
from mmssl.prep.executors import RunOptions
from mmssl.prep.segments import StepFormat, read_step_annotations
from mmssl.prep.step_datasets import prepare_steps, step_main

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
    """The whole conversion; returns the manifest."""
    return prepare_steps(DATASET, COIN_FORMAT, annotations, videos, out, config, subsets,
                         strict, progress, run)


def main(argv: list[str] | None = None, prog: str | None = None) -> dict:
    return step_main(DATASET, COIN_FORMAT, SUBSETS, __doc__, argv, "COIN.json", prog)


if __name__ == "__main__":
    main()
