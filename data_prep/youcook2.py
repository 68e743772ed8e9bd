"""YouCook2 → shards: one sample per annotated step segment.

Reads ``youcookii_annotations_trainval.json`` (``{"database": {id: {"duration", "subset",
"recipe_type", "annotations": [{"segment": [s, e], "id", "sentence"}], ...}}}``). Videos
are usually stored as ``<root>/<subset>/<recipe_type>/<id>.{mp4,mkv,webm}``; any tree (or
an id,path CSV) works, since files are found by id.

    python -m data_prep.youcook2 --annotations youcookii_annotations_trainval.json \
        --videos VIDEO_ROOT --out SHARDS [--subset validation]
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
    parsed, errors = read_annotations(annotations, subsets, strict)
    tasks = build_tasks(DATASET, parsed, locate_videos(videos))
    return run_prep(tasks, out, config, DATASET, [e.as_failure() for e in errors], progress,
                    run=run)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m data_prep.youcook2", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--annotations", required=True)
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
