"""Fixtures for the encoder tests, imported by the test modules that use them (not a
conftest.py: a second conftest module would replace ``sys.modules["conftest"]`` and break
pickling of ``tests/conftest.py``'s ``_gloo_process`` in the 2-process tests).

``one_thread``: on this shared 2-core machine two torch threads spin against each other and
run small convolutions 10-50× slower (benchmarks/README.md). ``tiny_bert_dir``: a tiny
BERT in a local HuggingFace directory."""

import pytest
import torch
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers

BERT_CORPUS = ["cut the onion into small pieces", "whisk the eggs with sugar",
               "fry the onion until golden", "a small red ball rolls left",
               "the whistle sounds", "a big blue square moves up and buzzes"]


@pytest.fixture
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def tiny_bert_dir(tmp_path_factory):
    """``save_pretrained`` output of a 2-layer, 32-d BERT plus a WordPiece ``tokenizer.json``
    trained with ``tokenizers`` (nothing can be downloaded here)."""
    from transformers import BertConfig, BertModel

    directory = tmp_path_factory.mktemp("tiny_bert")
    tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    trainer = trainers.WordPieceTrainer(vocab_size=80, special_tokens=specials)
    tokenizer.train_from_iterator(BERT_CORPUS, trainer)
    tokenizer.post_processor = processors.BertProcessing(
        ("[SEP]", tokenizer.token_to_id("[SEP]")), ("[CLS]", tokenizer.token_to_id("[CLS]")))
    tokenizer.save(str(directory / "tokenizer.json"))
    torch.manual_seed(0)
    config = BertConfig(vocab_size=tokenizer.get_vocab_size(), hidden_size=32,
                        num_hidden_layers=2, num_attention_heads=2, intermediate_size=48,
                        max_position_embeddings=32, hidden_dropout_prob=0.0,
                        attention_probs_dropout_prob=0.0, pad_token_id=0)
    BertModel(config).save_pretrained(directory)
    return directory
