"""AudioSet → shards: one sample per segment row, labels multi-label.

Reads one or more ``*_segments.csv`` (the subset is the file name: ``balanced_train``,
``eval``, ``unbalanced_train``) and ``class_labels_indices.csv``; finds each clip as
``<YTID>_<start>_<end>.<ext>`` or ``<YTID>.<ext>`` under ``--clips`` (video or audio-only:
``.wav``/``.flac`` files become audio-only samples, see :mod:`mmssl.shard_format`).

Downloaded clips are already cut to their segment, so a sample covers the clip file from
0 s for the segment's length (``end_seconds - start_seconds``, ending early where the file
does) — not [start_seconds, end_seconds], which are times in the original YouTube video
and are kept in ``labels["segment"]``. Labels: ``{"subset", "mids", "indices" (the
positive classes' indices, sorted), "segment"}``; ``texts`` is empty.

    python -m mmssl.prep.audioset --segments balanced_train_segments.csv \
        --labels class_labels_indices.csv --clips DIR --out SHARDS [--segments eval_segments.csv]
"""

from __future__ import annotations

from pathlib import Path

from mmssl.config import PrepConfig
from mmssl.prep.annotations import AnnotationError, admit, collect
from mmssl.prep.arguments import add_prep_arguments, parse_prep, prep_parser
from mmssl.prep.audioset_files import AudioSetSegment, read_class_labels, read_segments
from mmssl.prep.clip_files import find_clip, scan_clips
from mmssl.prep.executors import RunOptions
from mmssl.prep.runner import run_prep
from mmssl.prep.summary import describe
from mmssl.prep.tasks import SegmentSpec, VideoTask

DATASET = "audioset"


def read_all_segments(segment_files, mid_index: dict[str, int], strict: bool = False
                      ) -> tuple[list[AudioSetSegment], list[AnnotationError]]:
    """Rows of every segments CSV; a YTID seen before (in any file) is a bad record, since
    one id maps to one clip file and one sample key."""
    segments, errors, seen = [], [], set()
    for path in segment_files:
        rows, bad = read_segments(path, mid_index, strict)
        errors.extend(bad)
        for row in rows:
            if row.ytid in seen:
                collect(errors, AnnotationError(path, row.ytid, "YTID listed twice"), strict)
                continue
            seen.add(row.ytid)
            segments.append(row)
    return segments, errors


def build_tasks(segments: list[AudioSetSegment], mid_index: dict[str, int],
                clips: dict[tuple, str]) -> list[VideoTask]:
    """One task per segment, spanning the clip file from 0 for the segment's length."""
    tasks = []
    for segment in segments:
        labels = {"subset": segment.subset, "mids": list(segment.mids),
                  "indices": sorted({mid_index[mid] for mid in segment.mids}),
                  "segment": [segment.start, segment.end]}
        spec = SegmentSpec(0.0, segment.end - segment.start, (), labels)
        path = find_clip(clips, segment.ytid, segment.start)
        tasks.append(VideoTask(DATASET, segment.ytid, path, (spec,)))
    return tasks


def prepare(segment_files, labels: str | Path, clips: str | Path, out: str | Path,
            config: PrepConfig, strict: bool = False, progress: bool = True,
            run: RunOptions | None = None) -> dict:
    """The whole conversion; returns the manifest."""
    mid_index, _ = read_class_labels(labels)
    files = [Path(p) for p in segment_files]
    segments, errors = read_all_segments(files, mid_index, strict)
    tasks, failures = admit(build_tasks(segments, mid_index, scan_clips(clips)), errors,
                            strict, ", ".join(map(str, files)))
    return run_prep(tasks, out, config, DATASET, failures, progress, run=run)


def main(argv: list[str] | None = None, prog: str | None = None) -> dict:
    parser = prep_parser(DATASET, __doc__, prog)
    parser.add_argument("--segments", action="append", required=True,
                        help="a *_segments.csv (repeatable)")
    parser.add_argument("--labels", required=True, help="class_labels_indices.csv")
    add_prep_arguments(parser, "--clips", "folder of downloaded clips")
    args, config, run = parse_prep(parser, argv)
    manifest = prepare(args.segments, args.labels, args.clips, args.out, config, args.strict,
                       run=run)
    print(describe(manifest))
    return manifest


if __name__ == "__main__":
    main()
