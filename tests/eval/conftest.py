"""Evaluation fixtures: COIN- and AudioSet-format shards (the session's ``tiny_world`` has
none), and one briefly trained MMV checkpoint that every evaluation test reads."""

from pathlib import Path

import pytest

from data_prep import audioset, coin
from mmssl.config import PrepConfig, TrainConfig, load_config
from mmssl.synth.coin import write_coin
from mmssl.synth.videos import MediaSettings

EVAL_PREP = PrepConfig(samples_per_shard=8, workers=2)
COIN_VIDEOS = 12  # two per task, so every task has a training and most a testing video
AUDIOSET_CLIPS = 12


@pytest.fixture(scope="session")
def classification_shards(tmp_path_factory) -> dict[str, Path]:
    """{"coin": dir, "audioset": dir, "audioset_labels": class_labels_indices.csv}."""
    from mmssl.synth.audioset import write_audioset

    root = tmp_path_factory.mktemp("classification_world")
    media = MediaSettings(128, 96, 16.0, 22050)
    write_coin(root / "coin", COIN_VIDEOS, seed=4, media=media, seconds=(14.0, 18.0), workers=2)
    write_audioset(root / "audioset", AUDIOSET_CLIPS, seed=4)
    out = tmp_path_factory.mktemp("classification_shards")
    coin.prepare(root / "coin" / "COIN.json", root / "coin" / "videos", out / "coin",
                 EVAL_PREP, progress=False)
    labels = root / "audioset" / "class_labels_indices.csv"
    audioset.prepare(sorted((root / "audioset").glob("*_segments.csv")), labels,
                     root / "audioset", out / "audioset", EVAL_PREP, progress=False)
    return {"coin": out / "coin", "audioset": out / "audioset", "audioset_labels": labels}


@pytest.fixture(scope="session")
def eval_checkpoint(tiny_shards, tmp_path_factory) -> Path:
    """An MMV-FAC checkpoint (with the audio-text term) after 12 tiny steps, its run
    directory holding log.jsonl as training writes it."""
    from mmssl.train import train

    out = tmp_path_factory.mktemp("eval_run")
    config = load_config(TrainConfig, None, [
        f"--data.shards={tiny_shards['howto100m']}", f"--output_dir={out}",
        "--data.batch_size=8", "--data.num_workers=0", "--data.shuffle_buffer=16",
        "--optim.max_steps=12", "--optim.warmup_steps=2", "--log_every=3",
        "--loss.weights.at=1.0"])
    return train(config, progress=False)
