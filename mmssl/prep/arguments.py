"""The command line every converter shares: its inputs, where it runs, and PrepConfig.

    python -m mmssl.prep.<dataset> INPUTS --out SHARDS [--strict] [--executor ray ...]
        [--config prep.yaml] [--fps=8 --short-side=48 --gop=8 --crf=20 ...]

Every :class:`~mmssl.config.PrepConfig` key is an override (:mod:`mmssl.command_line`);
``--help`` lists them with their defaults.
"""

from __future__ import annotations

import argparse
from dataclasses import replace

from mmssl.command_line import parse_command
from mmssl.config import PrepConfig
from mmssl.prep.executors import EXECUTORS, RunOptions


def prep_parser(dataset: str, doc: str, prog: str | None = None) -> argparse.ArgumentParser:
    """The parser of one converter (``prog`` defaults to ``python -m mmssl.prep.<dataset>``;
    ``mmssl prep <dataset>`` passes its own)."""
    return argparse.ArgumentParser(prog=prog or f"python -m mmssl.prep.{dataset}",
                                   description=doc,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)


def add_prep_arguments(parser: argparse.ArgumentParser, sources: str = "--videos",
                       sources_help: str = "video directory or id,path CSV") -> None:
    """Arguments every converter shares; ``sources`` names the option that points at the
    downloaded media (AudioSet calls it ``--clips``)."""
    parser.add_argument(sources, required=True, help=sources_help)
    parser.add_argument("--out", required=True, help="output shard directory")
    parser.add_argument("--strict", action="store_true", help="stop at the first bad record")
    add_run_arguments(parser)


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """Where the shards are converted (see :mod:`mmssl.prep.executors`)."""
    group = parser.add_argument_group("execution")
    group.add_argument("--executor", choices=EXECUTORS, default="process",
                       help="process: local process pool (--workers); ray: Ray tasks "
                            "(pip install 'mmssl[ray]')")
    group.add_argument("--ray-address", default=None,
                       help="Ray cluster to join (default: RAY_ADDRESS, else start a local one)")
    group.add_argument("--num-nodes", type=int, default=1,
                       help="split the shards over this many independent runs (e.g. a Slurm "
                            "job array); each converts the shards with index %% N == rank")
    group.add_argument("--node-rank", type=int, default=0, help="this run's rank, 0..N-1")
    group.add_argument("--manifest-only", action="store_true",
                       help="convert nothing; write manifest.json once every shard is complete")


def parse_prep(parser: argparse.ArgumentParser, argv: list[str] | None
               ) -> tuple[argparse.Namespace, PrepConfig, RunOptions]:
    """``(arguments, PrepConfig, RunOptions)`` of a converter's command line."""
    args, config = parse_command(parser, PrepConfig, argv)
    if getattr(args, "strict", False):  # a damaged download is dropped whole, like a bad record
        config = replace(config, keep_truncated=False)
    try:
        return args, config, run_options(args)
    except ValueError as error:
        parser.error(str(error))


def run_options(args: argparse.Namespace) -> RunOptions:
    """The :class:`RunOptions` parsed by :func:`add_run_arguments`."""
    return RunOptions(executor=args.executor, ray_address=args.ray_address,
                      num_nodes=args.num_nodes, node_rank=args.node_rank,
                      manifest_only=args.manifest_only)
