"""Command-line options every converter shares (defaults from :class:`PrepConfig`)."""

from __future__ import annotations

import argparse

from mmssl.config import PrepConfig


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


def prep_config(args: argparse.Namespace, **extra) -> PrepConfig:
    return PrepConfig(fps=args.fps, short_side=args.short_side,
                      samples_per_shard=args.samples_per_shard, workers=args.workers, **extra)
