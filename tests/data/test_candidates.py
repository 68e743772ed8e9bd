"""MIL-NCE candidate windows, clip placement and evaluation window starts."""

import random

import pytest

from mmssl.data.candidates import (
    candidate_rule,
    candidate_window,
    candidates,
    clip_start,
    reference_candidates,
    window_starts,
)


def span(starts, ends, window):
    first, last = window
    return ends[last] - starts[first]


def test_window_grows_towards_the_closer_neighbour():
    starts = [0.0, 10.0, 11.0, 12.0, 30.0]
    ends = [1.0, 10.5, 11.5, 12.5, 31.0]
    assert candidate_window(starts, ends, anchor=2, k=3) == (1, 3)
    assert candidate_window(starts, ends, anchor=3, k=2) == (2, 3)
    assert candidate_window(starts, ends, anchor=3, k=4) == (0, 3)  # 0 is closer than 4


def test_window_at_the_edges_and_short_videos():
    starts, ends = [0.0, 5.0, 9.0], [1.0, 6.0, 10.0]
    assert candidate_window(starts, ends, anchor=0, k=2) == (0, 1)
    assert candidate_window(starts, ends, anchor=2, k=2) == (1, 2)
    assert candidate_window(starts, ends, anchor=1, k=5) == (0, 2)  # fewer than K exist
    assert candidate_window(starts, ends, anchor=1, k=1) == (1, 1)


def test_each_greedy_step_takes_the_shorter_extension():
    rng = random.Random(0)
    for _ in range(200):
        count = rng.randint(1, 12)
        starts = sorted(rng.uniform(0, 100) for _ in range(count))
        ends = [s + rng.uniform(0.5, 4) for s in starts]
        anchor, k = rng.randrange(count), rng.randint(1, 6)
        first, last = candidate_window(starts, ends, anchor, k)
        assert first <= anchor <= last and last - first + 1 == min(k, count)
        if last - first + 1 >= 2 and 0 < first and last < count - 1:
            # the last extension was no worse than the alternative at that moment
            assert span(starts, ends, (first, last)) <= max(
                span(starts, ends, (first - 1, last - 1)),
                span(starts, ends, (first + 1, last + 1)),
            ) + 1e-9


def test_clip_start_inside_anchor_and_video():
    rng = random.Random(1)
    for _ in range(100):
        begin = clip_start(10.0, 14.0, 1.0, 40.0, rng)
        assert 10.0 <= begin <= 13.0
    assert clip_start(10.0, 10.5, 1.0, 40.0, rng) == pytest.approx(9.75)  # centred
    assert clip_start(0.0, 0.2, 1.0, 40.0, rng) == 0.0  # clamped at the start
    assert clip_start(39.8, 40.0, 1.0, 40.0, rng) == 39.0  # clamped at the end


def test_window_starts_follow_the_protocol():
    assert window_starts(10.0, 1.0, 10) == pytest.approx([i for i in range(10)])
    assert window_starts(0.5, 1.0, 4) == [0.0] * 4  # shorter than a clip
    assert window_starts(5.0, 1.0, 1) == [0.0]


def test_window_starts_keep_the_margin_clear_of_the_end():
    """MIL-NCE's eval_youcook.py: linspace(start, max(start, end - c - 0.4), W)."""
    assert window_starts(10.0, 3.2, 3, margin=0.4) == pytest.approx([0.0, 3.2, 6.4])
    assert window_starts(3.0, 3.2, 3, margin=0.4) == [0.0] * 3


def milnce_loader_candidates(starts, ends, ind, k):
    """MIL-NCE's video_loader.py, step by step: _find_nearest_candidates, then the K
    indices from its start, each clamped into the caption list."""
    start, end, n_candidate = ind, ind, 1
    while n_candidate < k:
        if start == 0:
            break
        if end == len(starts) - 1:
            start = start - (k - n_candidate)
            break
        if ends[end] - starts[start - 1] < ends[end + 1] - starts[start]:
            start -= 1
        else:
            end += 1
        n_candidate += 1
    return [max(0, min(len(starts) - 1, start + i)) for i in range(k)]


def test_reference_rule_extends_right_on_an_exact_tie():
    starts, ends = [0.0, 10.0, 20.0], [5.0, 15.0, 25.0]  # both extensions span 15 s
    assert reference_candidates(starts, ends, anchor=1, k=2) == [1, 2]
    assert candidates(starts, ends, 1, 2, "reference") == [1, 2]
    assert candidates(starts, ends, 1, 2, "masked") == [1, 0]  # mmssl's own goes left


def test_reference_rule_repeats_the_edges_of_a_short_video():
    starts, ends = [0.0, 5.0], [1.0, 6.0]
    assert candidates(starts, ends, 1, 4, "reference") == [1, 0, 0, 0]
    assert candidates(starts, ends, 0, 4, "reference") == [0, 1, 1, 1]
    assert candidates(starts, ends, 1, 4, "masked") == [1, 0]  # the other two masked


def test_reference_rule_equals_the_milnce_loader():
    rng = random.Random(2)
    for _ in range(500):
        count = rng.randint(1, 9)
        starts = sorted(float(rng.randint(0, 40)) for _ in range(count))  # integer: ties
        ends = [s + rng.randint(1, 4) for s in starts]
        anchor, k = rng.randrange(count), rng.randint(1, 6)
        expected = milnce_loader_candidates(starts, ends, anchor, k)
        assert reference_candidates(starts, ends, anchor, k) == expected
        chosen = candidates(starts, ends, anchor, k, "reference")
        assert chosen[0] == anchor and sorted(chosen) == sorted(expected)


def test_milnce_takes_the_reference_rule_unless_told_otherwise():
    assert candidate_rule("", "milnce") == "reference"
    assert candidate_rule("", "mmv") == candidate_rule("", "") == "masked"
    assert candidate_rule("masked", "milnce") == "masked"
    with pytest.raises(ValueError, match="unknown rule 'nearest'"):
        candidate_rule("nearest", "milnce")
