"""Fixtures of the API tests: an untrained checkpoint written as training writes one (its
prep settings from the training shards' manifest), and a few raw videos with their
annotated segments."""

import json
from pathlib import Path

import pytest
import torch

from mmssl.checkpoint import save_checkpoint
from mmssl.config import TrainConfig, load_config
from mmssl.data.tokenizer import WordTokenizer
from mmssl.methods import build_method
from mmssl.prep.find_videos import locate_videos
from mmssl.training.loop import narration_texts


@pytest.fixture(scope="session")
def fresh_checkpoint(tiny_shards, tmp_path_factory) -> Path:
    """MMV-FAC as initialised (seed 0), saved with save_checkpoint: fast to make, and every
    property the API tests check (equalities, shapes, files) holds for any weights."""
    shards = str(tiny_shards["howto100m"])
    config = load_config(TrainConfig, None, [f"--data.shards={shards}"])
    tokenizer = WordTokenizer.train(narration_texts([shards]))
    torch.manual_seed(0)
    method = build_method(config, tokenizer.vocab_size)
    return save_checkpoint(tmp_path_factory.mktemp("fresh") / "checkpoint", method, config,
                           tokenizer)


@pytest.fixture(scope="session")
def youcook_segments(tiny_world) -> list[dict]:
    """Every validation step of the tiny YouCook2: {video_id, path, start, end, sentence}."""
    root = tiny_world / "youcook2"
    paths = locate_videos(root / "videos")
    database = json.loads((root / "youcookii_annotations_trainval.json").read_text())["database"]
    return [{"video_id": video_id, "path": paths[video_id], "start": float(step["segment"][0]),
             "end": float(step["segment"][1]), "sentence": step["sentence"]}
            for video_id, record in sorted(database.items()) if record["subset"] == "validation"
            for step in record["annotations"]]
