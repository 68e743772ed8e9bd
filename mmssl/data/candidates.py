"""Choosing MIL-NCE's candidate narrations and the clip that goes with them.

Two rules pick the K candidates around an anchor narration (``DataConfig.candidates``):

- ``reference`` — MIL-NCE's loader (``_find_nearest_candidates`` of its
  ``video_loader.py``): grow a window from the anchor towards the neighbour that keeps the
  span ``ends[last] − starts[first]`` shortest, the *right* one on an exact tie; at the
  first narration the window becomes the video's first K, at the last one its last K; then
  take the K indices from the window's start, clamped into the video — so a video with
  fewer than K narrations *repeats* its edge narrations (each copy counts in MIL-NCE's sums);
- ``masked`` — mmssl's own: the same growth, the *left* neighbour on an exact tie, and a
  video with fewer than K narrations gives fewer candidates, the rest masked out.

Both give the anchor first (K = 1 methods read it alone). Neither draws a random number,
so the rule does not change a stream's draws (its resume plans replay the same way).
"""

from __future__ import annotations

import random

CANDIDATE_RULES = ("reference", "masked")


def candidate_rule(rule: str, method: str) -> str:
    """``rule`` (``DataConfig.candidates``), or when empty the method's own: ``reference``
    for ``milnce``, ``masked`` for every other. An unknown rule is an error."""
    rule = rule or ("reference" if method == "milnce" else "masked")
    if rule not in CANDIDATE_RULES:
        raise ValueError(f"data.candidates: unknown rule {rule!r}; known: {CANDIDATE_RULES}")
    return rule


def candidates(starts: list[float], ends: list[float], anchor: int, k: int,
               rule: str) -> list[int]:
    """The candidate narrations' indices under ``rule`` (see the module docstring), the
    anchor first: K of them for ``reference`` (repeats allowed), up to K for ``masked``."""
    if rule == "reference":
        chosen = reference_candidates(starts, ends, anchor, k)
        chosen.remove(anchor)
    else:
        first, last = candidate_window(starts, ends, anchor, k)
        chosen = [i for i in range(first, last + 1) if i != anchor]
    return [anchor, *chosen]


def reference_candidates(starts: list[float], ends: list[float], anchor: int,
                         k: int) -> list[int]:
    """MIL-NCE's K candidate indices, in the window's order, clamped into
    ``[0, len(starts) − 1]`` (see the module docstring)."""
    first = last = anchor
    count = len(starts)
    while last - first + 1 < k:
        if first == 0:
            break  # the video's first K
        if last == count - 1:
            first -= k - (last - first + 1)  # the video's last K (maybe below 0: clamped)
            break
        if ends[last] - starts[first - 1] < ends[last + 1] - starts[first]:
            first -= 1
        else:
            last += 1
    return [min(max(first + i, 0), count - 1) for i in range(k)]


def candidate_window(starts: list[float], ends: list[float], anchor: int,
                     k: int) -> tuple[int, int]:
    """Inclusive index range of ``k`` consecutive narrations containing ``anchor``
    (the ``masked`` rule).

    Starting from the anchor, repeatedly add the neighbour (left or right) that keeps the
    total span ``ends[last] - starts[first]`` shortest — the left one on a tie — until ``k``
    are taken or the video has no more. Narrations are sorted by start.
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
