"""The word-level tokenizer: padding id 0, unknown words, truncation, save/load."""

import pytest
import torch

from mmssl.data.tokenizer import WordTokenizer


def test_ids_padding_unknown_and_truncation(tmp_path):
    tokenizer = WordTokenizer.train(["red square moves left", "Blue ring moves up!"])
    ids = tokenizer(["red ring", "green square moves left now and then"], max_words=4)
    assert ids.shape == (2, 4) and ids.dtype == torch.long
    assert ids[0, 2:].tolist() == [0, 0] and (ids[0, :2] > 1).all()
    assert ids[1, 0].item() == 1  # "green" was never seen
    assert (ids[1] != 0).all()  # truncated to 4 words
    path = tmp_path / "tokenizer.json"
    tokenizer.save(path)
    again = WordTokenizer.load(path)
    assert torch.equal(again(["RED ring"], 4), tokenizer(["red ring"], 4))  # lower-cased


def test_missing_file_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.json"):
        WordTokenizer.load(tmp_path / "nope.json")
