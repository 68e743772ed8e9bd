"""The conversion and command line shared by step-annotated datasets (YouCook2, COIN):
the same steps, only the :class:`~mmssl.prep.segments.StepFormat` differs."""

from __future__ import annotations

from pathlib import Path

from mmssl.config import PrepConfig
from mmssl.prep.annotations import admit
from mmssl.prep.arguments import add_prep_arguments, parse_prep, prep_parser
from mmssl.prep.executors import RunOptions
from mmssl.prep.find_videos import locate_videos
from mmssl.prep.runner import run_prep
from mmssl.prep.segments import StepFormat, build_tasks, read_step_annotations
from mmssl.prep.summary import describe


def prepare_steps(dataset: str, fmt: StepFormat, annotations: str | Path, videos: str | Path,
                  out: str | Path, config: PrepConfig, subsets, strict: bool = False,
                  progress: bool = True, run: RunOptions | None = None) -> dict:
    """Annotations → tasks (videos found by id) → shards; returns the manifest. Bad records
    are counted as ``bad_annotation`` (raised when ``strict``), missing videos as
    ``missing_file``."""
    parsed, errors = read_step_annotations(annotations, fmt, subsets, strict)
    tasks, failures = admit(build_tasks(dataset, parsed, locate_videos(videos)), errors,
                            strict, annotations)
    return run_prep(tasks, out, config, dataset, failures, progress, run=run)


def step_main(dataset: str, fmt: StepFormat, subsets: tuple[str, ...], doc: str,
              argv: list[str] | None, annotations_help: str, prog: str | None = None) -> dict:
    """``python -m mmssl.prep.<dataset> --annotations FILE --videos DIR --out DIR``."""
    parser = prep_parser(dataset, doc, prog)
    parser.add_argument("--annotations", required=True, help=annotations_help)
    parser.add_argument("--subset", choices=subsets, action="append",
                        help="subsets to convert (repeatable; default all)")
    add_prep_arguments(parser)
    args, config, run = parse_prep(parser, argv)
    manifest = prepare_steps(dataset, fmt, args.annotations, args.videos, args.out, config,
                             tuple(args.subset or subsets), args.strict, run=run)
    print(describe(manifest))
    return manifest
