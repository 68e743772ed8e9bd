"""Released word vocabularies as mmssl tokenizers.

MIL-NCE's loaders (and AVLnet's) turn a sentence into ids the same way::

    words = re.findall(r"[\\w']+", sentence)            # no lower-casing in their loaders
    ids   = [dictionary[w] for w in words if w in dictionary][:max_words], 0-padded

with ``dictionary[word] = i + 1`` for the i-th entry of the released word list
(``s3d_dict.npy``; a word listed twice keeps its last position): unknown words are
*dropped*, not mapped to an unknown token. :func:`dictionary_tokenizer` builds the same
mapping as a :class:`~mmssl.data.tokenizer.WordTokenizer`: a ``tokenizers`` word-level
model whose unknown token is the padding id 0 (which the tokenizer drops before
truncating) behind a pre-tokenizer that keeps the matches of the same pattern.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from tokenizers import Regex, Tokenizer, pre_tokenizers
from tokenizers.models import WordLevel

from mmssl.data.tokenizer import PAD, WordTokenizer

WORD_PATTERN = r"[\w']+"


def read_word_list(path: str | Path) -> list[str]:
    """The words of a released ``.npy`` word list (a 1-D array of strings, read without
    pickle), or an error naming the file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"word list {path} not found (MIL-NCE's s3d_dict.npy)")
    try:
        words = np.load(path, allow_pickle=False)
    except ValueError as error:
        raise ValueError(f"{path}: not a plain array of strings ({error})") from None
    if words.ndim != 1 or words.dtype.kind not in "US":
        raise ValueError(f"{path}: expected a 1-D array of words, got {words.dtype} "
                         f"{words.shape}")
    return [str(word.decode() if isinstance(word, bytes) else word) for word in words]


def dictionary_tokenizer(words: list[str], size: int | None = None) -> WordTokenizer:
    """A tokenizer with id i + 1 for ``words[i]`` and id 0 for padding and unknown words.

    ``size``: the number of embedding rows the ids index (the released embedding's); ids
    no word holds (a word listed twice, rows past the list) get placeholder tokens that
    the pattern can never produce, so that ``vocab_size == size``. A list too long for
    ``size`` rows is an error.
    """
    vocabulary = {PAD: 0}
    for index, word in enumerate(words, start=1):
        vocabulary[word] = index
    rows = len(words) + 1 if size is None else size
    if len(words) + 1 > rows:
        raise ValueError(f"{len(words)} words need {len(words) + 1} embedding rows, the "
                         f"released embedding has {rows}")
    taken = set(vocabulary.values())
    for index in range(rows):
        if index not in taken:
            vocabulary[f"[unused {index}]"] = index  # a space: never one match of the pattern
    tokenizer = Tokenizer(WordLevel(vocabulary, unk_token=PAD))
    tokenizer.pre_tokenizer = pre_tokenizers.Split(Regex(WORD_PATTERN), behavior="removed",
                                                   invert=True)
    return WordTokenizer(tokenizer)


def read_vectors_file(path: str | Path) -> tuple[list[str], torch.Tensor]:
    """Every word of a word2vec/GloVe *text* file, as written (case kept: AVLnet looks words
    up as they appear), and their vectors (V, d); the first entry of a word listed twice
    wins. Errors name the file and line."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"word vectors file {path} not found (a word2vec or GloVe "
                                "text file)")
    words, rows, seen, dim = [], [], set(), None
    with open(path, encoding="utf-8", errors="replace") as lines:
        for number, line in enumerate(lines, start=1):
            parts = line.rstrip().split(" ")
            if number == 1 and len(parts) == 2 and all(p.isdigit() for p in parts):
                dim = int(parts[1])  # word2vec's "<count> <dim>" header
                continue
            if len(parts) < 2:
                continue
            dim = dim or len(parts) - 1
            if len(parts) != dim + 1:
                raise ValueError(f"{path}: line {number}: expected a word and {dim} values, "
                                 f"got {len(parts)} fields")
            if parts[0] in seen:
                continue
            try:
                rows.append([float(value) for value in parts[1:]])
            except ValueError as error:
                raise ValueError(f"{path}: line {number}: {error}") from None
            words.append(parts[0])
            seen.add(parts[0])
    if not words:
        raise ValueError(f"{path}: no word vectors")
    return words, torch.tensor(rows)
