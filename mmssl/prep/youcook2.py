"""YouCook2 → shards: one sample per annotated step segment.

Reads ``youcookii_annotations_trainval.json`` (``{"database": {id: {"duration", "subset",
"recipe_type", "annotations": [{"segment": [s, e], "id", "sentence"}], ...}}}``). Videos
are usually stored as ``<root>/<subset>/<recipe_type>/<id>.{mp4,mkv,webm}``; any tree (or
an id,path CSV) works, since files are found by id.

    python -m mmssl.prep.youcook2 --annotations youcookii_annotations_trainval.json \
        --videos VIDEO_ROOT --out SHARDS [--subset validation]
"""

from __future__ import annotations

from pathlib import Path

from mmssl.config import PrepConfig
from mmssl.prep.executors import RunOptions
from mmssl.prep.segments import StepFormat, read_step_annotations
from mmssl.prep.step_datasets import prepare_steps, step_main

DATASET = "youcook2"
SUBSETS = ("training", "validation")


def _record_labels(record: dict) -> dict:
    return {"recipe_type": str(record["recipe_type"])}


def _step_labels(step: dict, index: int) -> dict:
    return {"segment_id": step.get("id", index)}


YOUCOOK2_FORMAT = StepFormat(
    steps_key="annotations", text_key="sentence", record_labels=_record_labels,
    step_labels=_step_labels,
    record_help="keys subset (str), recipe_type, annotations (list)",
    step_help='{"segment": [start, end], "id": int, "sentence": str}',
)


def read_annotations(path: str | Path, subsets=SUBSETS, strict: bool = False):
    """Parse the trainval JSON; returns ({video_id: (subset, [SegmentSpec])},
    [AnnotationError ...]) for the requested subsets."""
    return read_step_annotations(path, YOUCOOK2_FORMAT, subsets, strict)


def prepare(annotations: str | Path, videos: str | Path, out: str | Path, config: PrepConfig,
            subsets=SUBSETS, strict: bool = False, progress: bool = True,
            run: RunOptions | None = None) -> dict:
    """The whole conversion; returns the manifest."""
    return prepare_steps(DATASET, YOUCOOK2_FORMAT, annotations, videos, out, config, subsets,
                         strict, progress, run)


def main(argv: list[str] | None = None, prog: str | None = None) -> dict:
    return step_main(DATASET, YOUCOOK2_FORMAT, SUBSETS, __doc__, argv,
                     "youcookii_annotations_trainval.json", prog)


if __name__ == "__main__":
    main()
