"""Tokenizers behind one interface: ``tokenizer(texts, max_words) -> (N, max_words)``
int64 ids with 0 as padding, ``vocab_size``, ``save(path)``, ``load(path)``.

- :class:`WordTokenizer` (the MIL-NCE/MMV text branch): a word-level vocabulary of
  ``tokenizers`` — the most frequent words of the training narrations, merged from the
  shards' word counts (:mod:`mmssl.data.vocabulary`), or the words of a fixed vocabulary
  file (``model.vocabulary``); words are split by the shard format's rule
  (:func:`mmssl.shard_format.word_rule`: NFKC, lower case, whitespace and punctuation). Id
  0 is padding, id 1 stands for any word not in the vocabulary. A converted released
  vocabulary (:mod:`mmssl.convert`) maps unknown words to id 0 instead, and those are
  dropped.
- :class:`SubwordTokenizer`: the tokenizer of a local HuggingFace model directory, for the
  ``hf`` text encoder. Its ids are shifted by one (model id i is written i + 1) so that 0
  still means padding whatever the model's own pad id is; the encoder shifts them back.

:func:`build_tokenizer` / :func:`load_tokenizer` pick the kind from the model config.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

import torch
from tokenizers import Tokenizer
from tokenizers.models import WordLevel
from tokenizers.trainers import WordLevelTrainer

from mmssl.config import ModelConfig
from mmssl.data.vocabulary import most_frequent, read_vocabulary_file, shard_word_counts
from mmssl.shard_format import word_rule

PAD, UNK = "[PAD]", "[UNK]"
SPECIALS = [PAD, UNK]
VOCAB_SIZE = ModelConfig.vocab_size  # ids of a word vocabulary, PAD and UNK included


def read_tokenizer_file(path: str | Path) -> Tokenizer:
    """A saved ``tokenizers`` file (``tokenizer.json`` next to each checkpoint)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"tokenizer file {path} not found (it is saved next to "
                                "each checkpoint as tokenizer.json)")
    return Tokenizer.from_file(str(path))


def padded_ids(rows: list[list[int]], max_words: int) -> torch.Tensor:
    """Token ids per text → (N, max_words) int64, truncated and padded with 0.

    Texts are encoded one at a time (``encode``, not ``encode_batch``): a few short
    narrations per call are cheaper than waking the library's thread pool, which on a
    loaded machine cost milliseconds per call, and loader workers run one thread each.
    """
    return torch.tensor([row[:max_words] + [0] * (max_words - len(row[:max_words]))
                         for row in rows], dtype=torch.long).reshape(len(rows), max_words)


class _SavedTokenizer:
    """Loading and saving, the same for every tokenizer here: ``self.tokenizer`` is a
    ``tokenizers.Tokenizer`` written as one JSON file."""

    tokenizer: Tokenizer

    @classmethod
    def load(cls, path: str | Path):
        return cls(read_tokenizer_file(path))

    def save(self, path: str | Path) -> None:
        self.tokenizer.save(str(path))


class WordTokenizer(_SavedTokenizer):
    """Texts → (N, max_words) int64 ids, zero-padded and truncated."""

    def __init__(self, tokenizer: Tokenizer):
        if tokenizer.token_to_id(PAD) != 0:
            raise ValueError(f"tokenizer must map {PAD} to id 0")
        self.tokenizer = tokenizer

    @classmethod
    def train(cls, texts: Iterable[str], vocab_size: int = VOCAB_SIZE, min_frequency: int = 1):
        """The most frequent words of ``texts`` (one pass over them)."""
        tokenizer = _word_level()
        trainer = WordLevelTrainer(vocab_size=vocab_size, min_frequency=min_frequency,
                                   special_tokens=SPECIALS)
        tokenizer.train_from_iterator(texts, trainer=trainer)
        return cls(tokenizer)

    @classmethod
    def from_counts(cls, counts: Mapping[str, int], vocab_size: int = VOCAB_SIZE):
        """The most frequent words of ``counts`` (word → count): the vocabulary
        :meth:`train` makes from the texts those counts were taken from."""
        return cls(_word_level(most_frequent(counts, vocab_size, SPECIALS)))

    @classmethod
    def from_file(cls, path: str | Path, vocab_size: int = VOCAB_SIZE):
        """The words of a fixed vocabulary file (:func:`read_vocabulary_file`), the first
        ``vocab_size`` ids."""
        return cls(_word_level(read_vocabulary_file(path, vocab_size, SPECIALS)))


    @property
    def vocab_size(self) -> int:
        return self.tokenizer.get_vocab_size()

    def vocabulary(self) -> dict[str, int]:
        """word → id, special tokens included."""
        return self.tokenizer.get_vocab()

    def __call__(self, texts: list[str], max_words: int) -> torch.Tensor:
        # Words mapped to the padding id are dropped before truncation: a vocabulary whose
        # unknown token is [PAD] (MIL-NCE's dictionary, mmssl.convert) skips the words it
        # lacks, as MIL-NCE's loaders do.
        return padded_ids([[token for token in self.tokenizer.encode(text).ids if token != 0]
                           for text in texts], max_words)


class SubwordTokenizer(_SavedTokenizer):
    """A HuggingFace model's own tokenizer; texts → (N, max_words) ids, model id + 1.

    ``max_words`` counts subword tokens including the model's special tokens ([CLS],
    [SEP], ...): longer texts are truncated by the tokenizer itself, so the special tokens
    its post-processor adds are kept.
    """

    def __init__(self, tokenizer: Tokenizer):
        self.tokenizer = tokenizer
        self.tokenizer.no_padding()

    @classmethod
    def from_directory(cls, directory: str | Path):
        """``tokenizer.json`` in ``directory``, or whatever ``AutoTokenizer`` can read there
        (e.g. a BERT ``vocab.txt``) converted to a fast tokenizer."""
        directory = Path(directory)
        if (directory / "tokenizer.json").is_file():
            return cls(Tokenizer.from_file(str(directory / "tokenizer.json")))
        if not directory.is_dir():
            raise FileNotFoundError(f"HuggingFace model directory {directory} not found")
        from transformers import AutoTokenizer

        try:
            auto = AutoTokenizer.from_pretrained(str(directory), local_files_only=True)
        except (OSError, ValueError) as error:
            raise FileNotFoundError(f"no tokenizer in {directory} (expected tokenizer.json or "
                                    f"files AutoTokenizer reads): {error}") from None
        if not getattr(auto, "is_fast", False):
            raise ValueError(f"{directory}: only fast (tokenizers-backed) tokenizers are "
                             "supported")
        return cls(auto.backend_tokenizer)


    @property
    def vocab_size(self) -> int:
        return self.tokenizer.get_vocab_size() + 1

    def vocabulary(self) -> dict[str, int]:
        """token → id as written (model id + 1)."""
        return {token: index + 1 for token, index in self.tokenizer.get_vocab().items()}

    def __call__(self, texts: list[str], max_words: int) -> torch.Tensor:
        self.tokenizer.enable_truncation(max_length=max_words)
        return padded_ids([[i + 1 for i in self.tokenizer.encode(text).ids] for text in texts],
                          max_words)


def build_tokenizer(model_config, shards: Iterable[str]):
    """A fresh run's tokenizer: the HF directory's (``model.hf_text_dir``) when set, else a
    :class:`WordTokenizer` of the fixed vocabulary file ``model.vocabulary`` when set, else
    one of the most frequent words of the prepared ``shards`` directories, from their word
    counts (``shards`` is read in that case only)."""
    if model_config.hf_text_dir:
        return SubwordTokenizer.from_directory(model_config.hf_text_dir)
    if model_config.vocabulary:
        return WordTokenizer.from_file(model_config.vocabulary, model_config.vocab_size)
    return WordTokenizer.from_counts(shard_word_counts(shards), model_config.vocab_size)


def _word_level(vocabulary: dict[str, int] | None = None) -> Tokenizer:
    """A word-level ``tokenizers.Tokenizer`` splitting words by the shard format's rule,
    with ``vocabulary`` (word → id) or none yet (to be trained)."""
    tokenizer = Tokenizer(WordLevel(vocabulary, unk_token=UNK))
    tokenizer.normalizer, tokenizer.pre_tokenizer = word_rule()
    return tokenizer


def load_tokenizer(path: str | Path, model_config):
    """The tokenizer saved at ``path`` by a run with ``model_config``."""
    if model_config.hf_text_dir:
        return SubwordTokenizer.load(path)
    return WordTokenizer.load(path)
