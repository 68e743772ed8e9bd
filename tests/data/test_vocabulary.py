"""The vocabulary of a fresh run comes from the shards' word counts (no pass over the tars),
equals the one trained on every narration, survives bad stats files and bad shards (counted
and named), and can be a fixed file instead."""

import json
import shutil

import pytest

from mmssl.config import ModelConfig, TrainConfig, load_config
from mmssl.data.shards import SkipCounter, shard_paths
from mmssl.data.tokenizer import WordTokenizer, build_tokenizer
from mmssl.data.vocabulary import narration_texts, shard_word_counts
from mmssl.shard_format import stats_path


@pytest.fixture
def shards(tiny_shards, tmp_path):
    """A copy of the tiny HowTo100M shards to damage."""
    copy = tmp_path / "howto100m"
    shutil.copytree(tiny_shards["howto100m"], copy)
    return copy


def test_word_counts_give_the_vocabulary_of_a_pass_over_the_narrations(tiny_shards):
    sources = [str(tiny_shards["howto100m"]), str(tiny_shards["youcook2"])]
    trained = WordTokenizer.train(narration_texts(sources))
    merged = WordTokenizer.from_counts(shard_word_counts(sources))
    assert merged.vocabulary() == trained.vocabulary() and merged.vocab_size > 20
    small = WordTokenizer.from_counts(shard_word_counts(sources), vocab_size=12)
    assert small.vocabulary() == WordTokenizer.train(narration_texts(sources), 12).vocabulary()
    texts = ["Cut the ONION, then stir!", "a word never said"]
    assert merged(texts, 8).equal(trained(texts, 8))


def test_the_vocabulary_and_dry_run_do_not_read_the_tars(shards, tmp_path, capsys):
    from mmssl.train import dry_run

    expected = WordTokenizer.from_counts(shard_word_counts([str(shards)])).vocabulary()
    for path in shard_paths(str(shards)):
        with open(path, "r+b") as tar:
            tar.write(b"\0" * 4096)  # the tars are unreadable now; their stats are intact
    built = build_tokenizer(ModelConfig(), [str(shards)])
    assert built.vocabulary() == expected
    config = load_config(TrainConfig, None, [f"--data.shards={shards}",
                                             f"--output_dir={tmp_path / 'run'}"])
    report = dry_run(config)
    assert report["parameters"]["total"] > 0 and "# data plan" in capsys.readouterr().out
    assert WordTokenizer.load(tmp_path / "run" / "tokenizer.json").vocabulary() == expected


def test_shards_without_counts_are_named_and_read_instead(shards):
    paths = shard_paths(str(shards))
    expected = shard_word_counts([str(shards)])
    old = json.loads(stats_path(paths[0]).read_text())
    del old["words"]  # written before word counts existed
    stats_path(paths[0]).write_text(json.dumps(old))
    stats_path(paths[1]).write_text("{not json")
    with pytest.warns(UserWarning, match=r"2 shard\(s\) without word counts") as warned:
        assert shard_word_counts([str(shards)]) == expected
    message = str(warned[0].message)
    assert f"{paths[0]} (written before word counts)" in message
    assert f"{paths[1]} (shard-000001.stats.json is not JSON)" in message


def test_a_broken_shard_without_counts_is_skipped_and_counted(shards):
    paths = shard_paths(str(shards))
    stats_path(paths[0]).unlink()  # as if deleted after the manifest was written
    with open(paths[0], "r+b") as tar:
        tar.truncate(700)  # and the tar cut short
    skip = SkipCounter()
    with pytest.warns(UserWarning):
        counts = shard_word_counts([str(shards)], skip)
    assert counts and sum(skip.counts.values()) >= 1


@pytest.mark.parametrize("layout", ["lines", "glove", "word2vec"])
def test_a_fixed_vocabulary_file(layout, tmp_path):
    words = ["the", "Onion", "crème", "the", "pan"]
    lines = {"lines": words,
             "glove": [f"{word} 0.1 -0.2 3e-1" for word in words],
             "word2vec": ["5 3", *[f"{word} 0.1 -0.2 0.3" for word in words]]}[layout]
    path = tmp_path / "vocabulary.txt"
    path.write_text("\n".join(lines) + "\n\n")
    tokenizer = build_tokenizer(ModelConfig(vocabulary=str(path)), iter(()))
    assert tokenizer.vocabulary() == {"[PAD]": 0, "[UNK]": 1, "the": 2, "onion": 3,
                                      "crème": 4, "pan": 5}
    assert tokenizer(["The pan, the ONION"], 6).tolist() == [[2, 5, 1, 2, 3, 0]]
    first = build_tokenizer(ModelConfig(vocabulary=str(path), vocab_size=4), iter(()))
    assert set(first.vocabulary()) == {"[PAD]", "[UNK]", "the", "onion"}
    with pytest.raises(FileNotFoundError, match="nope.txt"):
        WordTokenizer.from_file(tmp_path / "nope.txt")
