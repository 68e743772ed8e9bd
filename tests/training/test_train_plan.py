"""The data side of training at scale: ``--dry-run``'s plan, the shard check for ranks ×
workers, and resampled shards mixed by weight."""

import collections
import itertools
import random

import pytest

from mmssl.config import DataConfig
from mmssl.data.shard_mix import mix_sources, resampled_urls
from mmssl.data.shard_split import data_plan
from mmssl.data.shards import shard_paths
from mmssl.data.tokenizer import WordTokenizer
from mmssl.data.training_stream import TrainingStream
from mmssl.train import main

TOKENIZER = WordTokenizer.train(["big red square moves left with a buzz", "ok lets go"])


def test_dry_run_prints_config_parameters_and_data_plan(tiny_shards, tmp_path, capsys):
    report = main(["--dry-run", f"--data.shards={tiny_shards['howto100m']}",
                   f"--output_dir={tmp_path}", "--data.num_workers=1", "--data.batch_size=4",
                   "--optim.accumulation_steps=2"])
    printed = capsys.readouterr().out
    assert "# resolved config" in printed and "# data plan" in printed
    params = report["parameters"]
    assert {"towers.video", "towers.audio", "towers.text", "spaces"} <= set(params)
    assert params["total"] == sum(v for k, v in params.items() if k not in ("total", "frozen"))
    data = report["data"]
    shards = len(shard_paths(tiny_shards["howto100m"]))
    assert data["shards"] == shards and data["ranks"][0]["shards_per_worker"] == [shards]
    assert data["samples_per_step"] == 8 and data["ranks"][0]["samples"] == data["samples"]
    assert not (tmp_path / "log.jsonl").exists()  # nothing trained


def test_too_few_shards_for_ranks_times_workers_is_a_clear_error(tiny_shards):
    shards = len(shard_paths(tiny_shards["howto100m"]))
    config = DataConfig(shards=str(tiny_shards["howto100m"]), num_workers=1)
    for rank in range(shards):  # enough: one shard per rank
        TrainingStream(config, TOKENIZER, rank=rank, world=shards)
    with pytest.raises(ValueError, match=f"{shards} shards cannot feed {shards + 1} process"):
        TrainingStream(config, TOKENIZER, rank=0, world=shards + 1)
    with pytest.raises(ValueError, match="cannot feed 1 process.* × 4 loader worker"):
        data_plan(DataConfig(shards=config.shards, num_workers=4), world=1)  # --dry-run too


def test_resampled_shards_follow_the_weights(tiny_shards):
    config = DataConfig(mix={str(tiny_shards["howto100m"]): 3.0,
                             str(tiny_shards["youcook2"]): 1.0})
    sources = mix_sources(config)
    draws = list(itertools.islice(resampled_urls(sources, random.Random(0)), 4000))
    howto = set(sources[0][0])
    share = sum(url in howto for url in draws) / len(draws)
    assert abs(share - 0.75) < 0.03
    assert collections.Counter(draws).keys() == set(sources[0][0]) | set(
        sources[1][0])
    with pytest.raises(ValueError, match="must be > 0"):
        mix_sources(DataConfig(mix={str(tiny_shards["youcook2"]): 0}))


def test_resampled_stream_needs_no_shard_per_reader(tiny_shards):
    config = DataConfig(mix={str(tiny_shards["howto100m"]): 1.0}, batch_size=4,
                        num_candidates=2, clips_per_sample=2, num_workers=0, shuffle_buffer=4)
    stream = TrainingStream(config, TOKENIZER, rank=0, world=64)  # 64 readers, few shards
    batch = next(iter(stream))
    assert batch["video"].shape[0] == 4 and batch["text"].shape[:2] == (4, 2)
