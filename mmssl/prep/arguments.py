"""Command-line options every converter shares (defaults from :class:`PrepConfig`)."""

from __future__ import annotations

import argparse

from mmssl.config import PrepConfig
from mmssl.media.backends import list_backends
from mmssl.prep.executors import EXECUTORS, RunOptions


def add_prep_arguments(parser: argparse.ArgumentParser, sources: str = "--videos",
                       sources_help: str = "video directory or id,path CSV") -> None:
    """Options every converter shares (defaults from :class:`PrepConfig`); ``sources`` names
    the option that points at the downloaded media (AudioSet calls it ``--clips``)."""
    defaults = PrepConfig()
    parser.add_argument(sources, required=True, help=sources_help)
    parser.add_argument("--out", required=True, help="output shard directory")
    parser.add_argument("--fps", type=float, default=defaults.fps)
    parser.add_argument("--short-side", type=int, default=defaults.short_side)
    parser.add_argument("--samples-per-shard", type=int, default=defaults.samples_per_shard)
    parser.add_argument("--workers", type=int, default=defaults.workers)
    parser.add_argument("--strict", action="store_true", help="stop at the first bad record")
    parser.add_argument("--video-backend", choices=list_backends(), default=defaults.video_backend,
                        help="video decoder (audio always uses PyAV)")
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


def run_options(args: argparse.Namespace) -> RunOptions:
    """The :class:`RunOptions` parsed by :func:`add_run_arguments`."""
    return RunOptions(executor=args.executor, ray_address=args.ray_address,
                      num_nodes=args.num_nodes, node_rank=args.node_rank,
                      manifest_only=args.manifest_only)


def prep_config(args: argparse.Namespace, **extra) -> PrepConfig:
    """The PrepConfig of the parsed options (where to run them: :func:`run_options`)."""
    return PrepConfig(fps=args.fps, short_side=args.short_side,
                      samples_per_shard=args.samples_per_shard, workers=args.workers,
                      video_backend=args.video_backend, **extra)
