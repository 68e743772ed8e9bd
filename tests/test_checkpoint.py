"""Checkpoint directories hold everything needed on new media: the training shards' prep
settings, and a HuggingFace text tower that works after its source directory is gone."""

import json
import shutil

import pytest
import torch

import mmssl
from mmssl.checkpoint import (
    HF_TEXT_NAME,
    PREP_NAME,
    load_checkpoint,
    load_prep,
    save_checkpoint,
    training_prep,
)
from mmssl.config import DataConfig, PrepConfig, TrainConfig, load_config, to_dict
from mmssl.data.tokenizer import SubwordTokenizer, WordTokenizer
from mmssl.methods import build_method
from mmssl.shard_format import read_manifest


def test_prep_settings_come_from_the_training_shards(tiny_shards, tmp_path):
    shards = str(tiny_shards["howto100m"])
    recorded = training_prep(DataConfig(shards=shards))
    assert to_dict(recorded) == {k: v for k, v in read_manifest(shards)["prep"].items()
                                 if k in to_dict(PrepConfig())}
    config = load_config(TrainConfig, None, [f"--data.shards={shards}"])
    tokenizer = WordTokenizer.train(["whisk the eggs"])
    method = build_method(config, tokenizer.vocab_size)
    saved = save_checkpoint(tmp_path / "ckpt", method, config, tokenizer)
    assert load_prep(saved) == recorded and (saved / PREP_NAME).is_file()
    given = PrepConfig(fps=10.0, short_side=64)  # e.g. a converted published model's
    assert load_prep(save_checkpoint(tmp_path / "given", method, config, tokenizer,
                                     prep=given)) == given


def test_no_prep_settings_where_the_shards_do_not_agree_or_say(tiny_shards, tmp_path):
    shards = tiny_shards["howto100m"]
    other = tmp_path / "other"
    other.mkdir()
    manifest = json.loads((shards / "manifest.json").read_text())
    manifest["prep"]["fps"] = 4.0
    (other / "manifest.json").write_text(json.dumps(manifest))
    same = training_prep(DataConfig(mix={str(shards): 1.0, str(shards / "."): 1.0}))
    assert same is not None and same.fps == 8.0
    with pytest.warns(UserWarning, match=r"different \['fps'\]"):
        assert training_prep(DataConfig(mix={str(shards): 1.0, str(other): 1.0})) is None
    assert training_prep(DataConfig(shards=str(tmp_path / "nowhere"))) is None
    assert training_prep(DataConfig()) is None


def test_a_huggingface_text_tower_outlives_its_source_directory(tiny_bert_dir, tiny_shards,
                                                                 tmp_path):
    source = shutil.copytree(tiny_bert_dir, tmp_path / "bert")
    config = load_config(TrainConfig, None, [
        f"--data.shards={tiny_shards['howto100m']}", "--model.text_encoder=hf",
        f"--model.hf_text_dir={source}"])
    tokenizer = SubwordTokenizer.from_directory(source)
    torch.manual_seed(0)
    method = build_method(config, tokenizer.vocab_size).eval()
    with torch.no_grad():  # trained weights differ from the source's: they must be the ones kept
        for parameter in method.towers["text"].parameters():
            parameter.add_(0.01 * torch.randn_like(parameter))
        ids = tokenizer(["whisk the eggs", "fry the onion until golden"], 8)
        expected = method.embed("text", ids)["vt"]
    saved = save_checkpoint(tmp_path / "ckpt", method, config, tokenizer)
    assert json.loads((saved / HF_TEXT_NAME).read_text())["hidden_size"] == 32
    shutil.move(source, tmp_path / "moved")  # the source directory is gone

    loaded, loaded_config, loaded_tokenizer = load_checkpoint(saved)
    assert loaded_config.model.hf_text_dir == str(saved / HF_TEXT_NAME)
    with torch.no_grad():
        got = loaded.embed("text", loaded_tokenizer(["whisk the eggs",
                                                     "fry the onion until golden"], 8))["vt"]
    torch.testing.assert_close(got, expected)
    model = mmssl.load(saved)
    torch.testing.assert_close(model.embed_text(["whisk the eggs"])["vt"], expected[:1])
