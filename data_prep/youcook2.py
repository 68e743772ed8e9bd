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
import json
from pathlib import Path

from data_prep.annotations import AnnotationError, collect
from data_prep.arguments import add_prep_arguments, prep_config
from data_prep.find_videos import locate_videos
from data_prep.runner import run_prep
from data_prep.tasks import SegmentSpec, VideoTask
from mmssl.config import PrepConfig

DATASET = "youcook2"
SUBSETS = ("training", "validation")


def read_annotations(path: str | Path, subsets=SUBSETS, strict: bool = False):
    """Parse the trainval JSON; returns ({video_id: (subset, recipe_type, [segments])},
    [AnnotationError ...]) for the requested subsets."""
    path = Path(path)
    data = json.loads(path.read_text())
    if not isinstance(data, dict) or not isinstance(data.get("database"), dict):
        raise AnnotationError(path, "<top level>", 'expected {"database": {...}}')
    videos, errors = {}, []
    for video_id, record in data["database"].items():
        try:
            parsed = _video_record(path, video_id, record)
        except AnnotationError as error:
            collect(errors, error, strict)
            continue
        if parsed[0] in subsets:
            videos[video_id] = parsed
    return videos, errors


def _video_record(path: Path, video_id: str, record) -> tuple[str, str, list[SegmentSpec]]:
    if not isinstance(record, dict) or not {"subset", "recipe_type", "annotations"} <= set(record):
        raise AnnotationError(path, video_id, "expected keys subset, recipe_type, annotations")
    subset, recipe_type = record["subset"], str(record["recipe_type"])
    segments = []
    for index, step in enumerate(record["annotations"]):
        try:
            start, end = (float(x) for x in step["segment"])
            sentence = str(step["sentence"])
        except (KeyError, TypeError, ValueError) as error:
            raise AnnotationError(path, video_id, f"annotation {index}: needs segment [s, e] "
                                  "and sentence") from error
        labels = {"subset": subset, "recipe_type": recipe_type, "segment_id": step.get("id", index)}
        text = {"start": start, "end": end, "text": sentence}
        segments.append(SegmentSpec(start, end, (text,), labels))
    return subset, recipe_type, segments


def build_tasks(annotations: dict, videos: dict[str, str]) -> list[VideoTask]:
    return [VideoTask(DATASET, video_id, videos.get(video_id), tuple(segments))
            for video_id, (_, _, segments) in annotations.items()]


def prepare(annotations: str | Path, videos: str | Path, out: str | Path, config: PrepConfig,
            subsets=SUBSETS, strict: bool = False, progress: bool = True) -> dict:
    """The whole conversion; returns the manifest."""
    parsed, errors = read_annotations(annotations, subsets, strict)
    tasks = build_tasks(parsed, locate_videos(videos))
    return run_prep(tasks, out, config, DATASET, [e.as_failure() for e in errors], progress)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m data_prep.youcook2", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--annotations", required=True)
    parser.add_argument("--subset", choices=SUBSETS, action="append",
                        help="subsets to convert (repeatable; default both)")
    add_prep_arguments(parser)
    args = parser.parse_args(argv)
    manifest = prepare(args.annotations, args.videos, args.out, prep_config(args),
                       tuple(args.subset or SUBSETS), args.strict)
    print(f"{manifest['total_samples']} samples in {len(manifest['shards'])} shards; "
          f"failed: {manifest['failed'] or 'none'}")
    return manifest


if __name__ == "__main__":
    main()
