"""Pretrained word vectors from a local word2vec or GloVe *text* file.

Formats (one word a line, values separated by single spaces):

- GloVe: ``word v_1 ... v_d``.
- word2vec text (``save_word2vec_format(binary=False)``): the same lines after a header
  line ``<count> <d>``.

Only the words of the given vocabulary are kept, so a multi-gigabyte file costs one pass
and a vocabulary-sized matrix. Matching is on the lower-cased word (our tokenizer
lower-cases); an exact lower-case entry wins over a cased one (``the`` over ``The``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch


@dataclass
class WordVectors:
    """``vectors`` (V, d) for vocabulary ids; ``found`` (V,) marks the rows the file gave."""

    vectors: torch.Tensor
    found: torch.Tensor
    path: str

    def coverage(self, special_ids=(0, 1)) -> dict:
        """How many vocabulary words (special tokens excluded) the file covered."""
        words = torch.ones_like(self.found)
        words[list(special_ids)] = False
        covered = int((self.found & words).sum())
        total = int(words.sum())
        return {"path": self.path, "words": total, "found": covered,
                "coverage": covered / total if total else 0.0}


def read_word_vectors(path: str | Path, vocabulary: dict[str, int], dim: int) -> WordVectors:
    """Vectors for the ``vocabulary`` (word → id, ids < len(vocabulary)) from ``path``.

    Raises ``FileNotFoundError`` naming the file, and ``ValueError`` naming the file and
    line for a vector of the wrong length or a value that is not a number.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"word vectors file {path} not found (expected a GloVe or "
                                f"word2vec text file with {dim}-d vectors)")
    size = max(vocabulary.values(), default=-1) + 1
    vectors = torch.zeros(size, dim)
    found = torch.zeros(size, dtype=torch.bool)
    exact = torch.zeros(size, dtype=torch.bool)
    first_vector = True  # its length sets the file's dimension (later words may hold spaces)
    with open(path, encoding="utf-8", errors="replace") as lines:
        for number, line in enumerate(lines, start=1):
            parts = line.rstrip().split(" ")
            if number == 1 and _is_word2vec_header(parts):
                _check_header_dim(parts, dim, path)
                continue
            if len(parts) < 2:
                continue  # blank line
            if len(parts) <= dim or (first_vector and len(parts) != dim + 1):
                raise ValueError(f"{path}: line {number}: expected a word and {dim} values "
                                 f"(the encoder's word_dim), got {len(parts)} fields")
            first_vector = False
            word, values = " ".join(parts[:-dim]), parts[-dim:]
            index = vocabulary.get(word.lower())
            if index is None or exact[index] or (found[index] and word != word.lower()):
                continue
            vectors[index] = _parse(values, path, number)
            found[index] = True
            exact[index] = word == word.lower()
    return WordVectors(vectors, found, str(path))


def _is_word2vec_header(parts: list[str]) -> bool:
    return len(parts) == 2 and all(part.isdigit() for part in parts)


def _check_header_dim(parts: list[str], dim: int, path: Path) -> None:
    if int(parts[1]) != dim:
        raise ValueError(f"{path}: header says {parts[1]}-d vectors, the encoder's word_dim "
                         f"is {dim}")


def _parse(values: list[str], path: Path, number: int) -> torch.Tensor:
    try:
        return torch.tensor([float(value) for value in values])
    except ValueError as error:
        raise ValueError(f"{path}: line {number}: {error}") from None
