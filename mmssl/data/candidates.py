"""Choosing MIL-NCE's candidate narrations and the clip that goes with them."""

from __future__ import annotations

import random


def candidate_window(starts: list[float], ends: list[float], anchor: int,
                     k: int) -> tuple[int, int]:
    """Inclusive index range of ``k`` consecutive narrations containing ``anchor``.

    As in the MIL-NCE reference loader: starting from the anchor, repeatedly add the
    neighbour (left or right) that keeps the total span ``ends[last] - starts[first]``
    shortest, until ``k`` are taken or the video has no more. Narrations are sorted by start.
    """
    first = last = anchor
    count = len(starts)
    while last - first + 1 < k and last - first + 1 < count:
        if first == 0:
            last += 1
        elif last == count - 1:
            first -= 1
        elif ends[last + 1] - starts[first] < ends[last] - starts[first - 1]:
            last += 1
        else:
            first -= 1
    return first, last


def clip_start(start: float, end: float, clip_seconds: float, duration: float,
               rng: random.Random) -> float:
    """Start time of a ``clip_seconds`` clip around the anchor span [start, end].

    Uniform in [start, end - clip_seconds] when the anchor is longer than the clip,
    centred on it otherwise; always inside [0, duration - clip_seconds].
    """
    if end - start >= clip_seconds:
        begin = rng.uniform(start, end - clip_seconds)
    else:
        begin = (start + end - clip_seconds) / 2.0
    return min(max(begin, 0.0), max(duration - clip_seconds, 0.0))


def window_starts(duration: float, clip_seconds: float, windows: int,
                  margin: float = 0.0) -> list[float]:
    """``windows`` evenly spaced clip starts in a segment of ``duration`` seconds:
    ``linspace(0, max(0, duration - clip_seconds - margin), windows)``. ``margin`` 0 lets
    the last window end with the segment; MIL-NCE's ``eval_youcook.py`` keeps it 0.4 s
    clear of the end (``linspace(start, max(start, end - c - 0.4), W)``)."""
    last = max(0.0, duration - clip_seconds - margin)
    if windows == 1:
        return [0.0]
    return [last * i / (windows - 1) for i in range(windows)]
