"""Resampled shards mixed by weight (``data.mix``, open_clip's ``--dataset-resampled``).

A mixed stream has no epochs: each reader draws shards with replacement, a shard of
directory d with probability ``weight_d / Σ weights``, then uniformly among d's shards.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

from mmssl.config import ConfigError, DataConfig
from mmssl.data.shards import shard_paths


def mix_sources(config: DataConfig) -> list[tuple[list[str], float]]:
    """``[(shard paths, weight), ...]``: ``config.mix`` when set, else ``config.shards``
    with weight 1. A directory with no shards or a weight ≤ 0 is an error."""
    mix = config.mix or {config.shards: 1.0}
    sources = []
    for directory, weight in mix.items():
        if float(weight) <= 0:
            raise ConfigError(f"data.mix: weight of {directory} must be > 0, got {weight}")
        paths = shard_paths(directory)
        if not paths:
            raise ConfigError(f"{directory}: the manifest lists no shard with samples")
        sources.append((paths, float(weight)))
    return sources


def resampled_urls(sources: list[tuple[list[str], float]], rng: random.Random
                   ) -> Iterator[str]:
    """Endless shard draws with replacement: a source with probability ∝ its weight, then
    one of its shards uniformly."""
    weights = [weight for _, weight in sources]
    while True:
        paths, _ = rng.choices(sources, weights=weights)[0]
        yield rng.choice(paths)
