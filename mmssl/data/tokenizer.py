"""Word-level tokenizer for the MIL-NCE/MMV text branch, built with ``tokenizers``.

The vocabulary comes from the training narrations (lower-cased words split on whitespace
and punctuation); id 0 is padding, id 1 stands for any word not in the vocabulary.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import torch
from tokenizers import Tokenizer, normalizers, pre_tokenizers
from tokenizers.models import WordLevel
from tokenizers.trainers import WordLevelTrainer

PAD, UNK = "[PAD]", "[UNK]"


class WordTokenizer:
    """Texts → (N, max_words) int64 ids, zero-padded and truncated."""

    def __init__(self, tokenizer: Tokenizer):
        if tokenizer.token_to_id(PAD) != 0:
            raise ValueError(f"tokenizer must map {PAD} to id 0")
        self.tokenizer = tokenizer

    @classmethod
    def train(cls, texts: Iterable[str], vocab_size: int = 30000, min_frequency: int = 1):
        tokenizer = Tokenizer(WordLevel(unk_token=UNK))
        tokenizer.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
        tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
        trainer = WordLevelTrainer(vocab_size=vocab_size, min_frequency=min_frequency,
                                   special_tokens=[PAD, UNK])
        tokenizer.train_from_iterator(texts, trainer=trainer)
        return cls(tokenizer)

    @classmethod
    def load(cls, path: str | Path):
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"tokenizer file {path} not found (it is saved next to "
                                    "each checkpoint as tokenizer.json)")
        return cls(Tokenizer.from_file(str(path)))

    def save(self, path: str | Path) -> None:
        self.tokenizer.save(str(path))

    @property
    def vocab_size(self) -> int:
        return self.tokenizer.get_vocab_size()

    def __call__(self, texts: list[str], max_words: int) -> torch.Tensor:
        ids = torch.zeros(len(texts), max_words, dtype=torch.long)
        for row, encoding in enumerate(self.tokenizer.encode_batch(texts)):
            tokens = encoding.ids[:max_words]
            ids[row, : len(tokens)] = torch.tensor(tokens, dtype=torch.long)
        return ids
