"""iter_segments: segments come out while the file is still being read, equal to cutting
each segment alone, and a segment past the end is an error for that segment only."""

import io

import numpy as np
from test_encode_decode import SOURCE_RATE, gray_frames, sine

from mmssl.media import MediaError, VideoEncoding, cut_segments, mp4_bytes
from mmssl.media.decode import iter_segments

SECONDS = 20  # gray levels repeat every 32 frames; only equality with cut_segments matters


def long_clip(noise: bool = False) -> bytes:
    """20 s at 10 fps (with ``noise``, frames that do not compress: ~1 MB of media data)."""
    frames = np.concatenate([gray_frames()] * 7)[: SECONDS * 10]
    if noise:
        grain = np.random.default_rng(0).integers(0, 64, frames.shape, dtype=np.uint8)
        frames = frames // 2 + grain
    return mp4_bytes(frames, VideoEncoding(fps=10.0, gop=10), sine(SECONDS), SOURCE_RATE)


def test_early_segments_come_out_before_the_file_is_read():
    data = long_clip(noise=True)
    source = io.BytesIO(data)
    position_when_yielded = {}
    for index, clip in iter_segments(source, [(15.0, 16.0), (1.0, 2.0)], fps=5.0):
        assert not isinstance(clip, MediaError)
        position_when_yielded[index] = source.tell()
    assert list(position_when_yielded) == [1, 0]  # in the order the file reaches their ends
    assert position_when_yielded[1] < 0.3 * len(data)
    assert position_when_yielded[0] > 0.7 * len(data)


def test_each_segment_equals_cutting_it_alone():
    data = long_clip()
    spans = [(0.0, 3.0), (2.5, 4.0), (9.9, 12.2), (18.0, 25.0)]
    together = dict(iter_segments(data, spans, fps=8.0, short_side=24))
    for index, span in enumerate(spans):
        alone = cut_segments(data, [span], fps=8.0, short_side=24)[0]
        np.testing.assert_array_equal(together[index].frames, alone.frames)
        np.testing.assert_array_equal(together[index].audio, alone.audio)
        assert (together[index].start, together[index].end) == (alone.start, alone.end)
    assert together[3].end == SECONDS  # ran past the last frame: ends where the frames end


def test_a_segment_past_the_end_fails_alone():
    outcomes = dict(iter_segments(long_clip(), [(1.0, 2.0), (30.0, 31.0)], fps=5.0))
    assert len(outcomes[0].frames) == 5
    assert isinstance(outcomes[1], MediaError)
    assert outcomes[1].reason == "segment_out_of_range"
