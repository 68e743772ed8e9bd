"""The words a fresh training run's word tokenizer knows, without a pass over the tars.

Two sources:

- **word counts of the training shards** (:func:`shard_word_counts`): prep writes each
  shard's word counts into its stats file (``words``, :mod:`mmssl.shard_format`), so the
  vocabulary of a dataset is the merge of one small file per shard, whatever the size of
  its videos. A shard whose stats file is missing, unreadable or older than the field is
  counted and named in one warning, and its JSON members are read instead
  (:func:`mmssl.data.shards.shard_metas`: a shard that cannot be read is skipped and
  counted there). The vocabulary is then the ``size`` most frequent words, ties broken by
  the word — exactly what ``tokenizers``' ``WordLevelTrainer`` makes from the narrations
  themselves.
- **a fixed vocabulary file** (:func:`read_vocabulary_file`, ``model.vocabulary``): one word
  per line, or a word2vec / GloVe text file (its words, in file order; a word2vec header
  line ``<count> <dim>`` is skipped).
"""

from __future__ import annotations

import json
import warnings
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path

from mmssl.data.shard_urls import read_location
from mmssl.data.shards import SkipCounter, read_metas, shard_metas, shard_paths
from mmssl.shard_format import normalized, stats_location, words_of

NAMED_SHARDS = 3  # shards named in the warning about missing word counts


def shard_word_counts(directories: Iterable[str], skip: SkipCounter | None = None
                      ) -> Counter[str]:
    """Word counts of every shard of the prepared ``directories``, from their stats files
    (JSON members for a shard without counts; see the module docstring)."""
    skip = skip if skip is not None else SkipCounter()
    counts: Counter[str] = Counter()
    without: list[str] = []
    for directory in directories:
        for path in shard_paths(directory):
            words, problem = stats_words(path)
            if words is None:
                without.append(f"{path} ({problem})")
                words = Counter(word for meta in shard_metas(path, skip)
                                for text in meta["texts"] for word in words_of(text["text"]))
            counts.update(words)
    if without:
        warnings.warn(f"vocabulary: {len(without)} shard(s) without word counts, their JSON "
                      f"members read instead: {'; '.join(without[:NAMED_SHARDS])}"
                      + (" ..." if len(without) > NAMED_SHARDS else ""), stacklevel=2)
    return counts


def stats_words(tar_path: str) -> tuple[Counter[str] | None, str]:
    """The ``words`` of a shard's stats file (read once, wherever it is), or None and why
    in a few words: the file is missing, is not JSON, or has no well-formed ``words``."""
    location = stats_location(tar_path)
    name = location.rpartition("/")[2]
    try:
        stats = json.loads(read_location(location))
    except OSError:
        return None, f"{name} missing"
    except ValueError:
        return None, f"{name} is not JSON"
    if isinstance(stats, dict) and "words" not in stats:
        return None, "written before word counts"
    words = stats.get("words") if isinstance(stats, dict) else None
    if not isinstance(words, dict) or not all(
            isinstance(w, str) and isinstance(n, int) and not isinstance(n, bool) and n >= 0
            for w, n in words.items()):
        return None, "bad words field"
    return Counter(words), ""


def most_frequent(counts: Counter[str], size: int, specials: list[str]) -> dict[str, int]:
    """word → id: ``specials`` first, then the most frequent words (count descending, then
    the word), ``size`` ids in all — WordLevelTrainer's order, min_frequency 1."""
    vocabulary = {token: index for index, token in enumerate(specials)}
    for word, _ in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
        if len(vocabulary) >= size:
            break
        vocabulary.setdefault(word, len(vocabulary))
    return vocabulary


def read_vocabulary_file(path: str | Path, size: int, specials: list[str]) -> dict[str, int]:
    """word → id from a fixed vocabulary file: ``specials`` first, then the file's words in
    order (normalised as narrations are, duplicates dropped), ``size`` ids at most."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"vocabulary file {path} not found (expected one word per "
                                "line, or a word2vec / GloVe text file)")
    vocabulary = {token: index for index, token in enumerate(specials)}
    for word in file_words(path):
        if len(vocabulary) >= size:
            break
        vocabulary.setdefault(normalized(word), len(vocabulary))
    return vocabulary


def file_words(path: Path) -> Iterator[str]:
    """The words of a vocabulary file, in order: a line's text before its vector (the
    vector's length is that of the first line with one; words may hold spaces)."""
    dim = None
    with open(path, encoding="utf-8", errors="replace") as lines:
        for number, line in enumerate(lines, start=1):
            parts = line.rstrip().split(" ")
            if number == 1 and len(parts) == 2 and all(p.isdigit() for p in parts):
                continue  # word2vec's "<count> <dim>" header
            if not parts[0] and len(parts) == 1:
                continue  # blank line
            if dim is None and len(parts) > 1:
                dim = _trailing_numbers(parts[1:])
            yield " ".join(parts[: len(parts) - dim]) if dim and len(parts) > dim else parts[0]


def _trailing_numbers(parts: list[str]) -> int:
    count = 0
    for part in reversed(parts):
        try:
            float(part)
        except ValueError:
            break
        count += 1
    return count


def narration_texts(shards_dirs: list[str]) -> Iterator[str]:
    """Every narration in the training shards, read from their JSON members: the full pass
    that word counts replace (kept for comparisons, ``benchmarks/vocabulary.py``)."""
    for directory in shards_dirs:
        for meta in read_metas(directory):
            for text in meta["texts"]:
                yield text["text"]
