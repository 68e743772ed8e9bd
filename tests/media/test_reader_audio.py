"""A shard sample's audio windows are the whole track's samples, whatever the reader read
before: AAC frames overlap, so a window decoded after a seek must not carry the decoder's
state from elsewhere in the file (it did, up to 0.07 off), nor start on the silent frame a
flushed decoder gives first. Shards encode their AAC without perceptual noise substitution,
so a seek to one frame before a window gives it exactly; a track with PNS (FFmpeg's
default, real downloads) does not, and is decoded from its start."""

import io
import json

import numpy as np
import pytest

from mmssl.data.shards import ShardSample, SkipCounter, raw_samples, shard_paths
from mmssl.media import ClipReader, VideoEncoding, write_mp4
from mmssl.media.audio import decode_audio
from mmssl.shard_format import decode_meta

STARTS = [2.5, 0.0, 1.7, 0.1, 3.1, 0.3, 2.5, 0.25]  # near the start, repeated, backwards
COUNT = 8000  # half a second at 16 kHz


def test_windows_equal_the_whole_track_in_any_order(tiny_shards):
    skip = SkipCounter(strict=True)
    checked = 0
    for raw in raw_samples(shard_paths(str(tiny_shards["youcook2"])), skip):
        whole = decode_audio(raw["mp4"])
        fps = json.loads(raw["json"])["fps"]
        with ClipReader(raw["mp4"]) as reader:
            for index, start in enumerate(STARTS):
                if index % 2:  # video decoded in between moves the demuxer elsewhere
                    reader.frames(int(2.0 * fps), 4, fps)
                first = int(round(start * 16000))
                expected = np.zeros(COUNT, np.float32)
                piece = whole[first : first + COUNT]
                expected[: len(piece)] = piece
                np.testing.assert_array_equal(reader.audio_window(start, COUNT), expected)
                checked += 1
    assert checked >= 4 * len(STARTS) and whole.any()


def expected_window(whole: np.ndarray, start: float, count: int) -> np.ndarray:
    first = int(round(start * 16000))
    expected = np.zeros(count, np.float32)
    piece = whole[first : first + count]
    expected[: len(piece)] = piece
    return expected


def test_shard_audio_is_read_after_a_seek_and_exact(tiny_shards):
    """Every window, from the first samples (whose pre-roll is the encoder's priming frame)
    to past the end, is read after a seek and equals the whole track's slice."""
    checked = 0
    for raw in raw_samples(shard_paths(str(tiny_shards["howto100m"])), SkipCounter(strict=True)):
        meta = decode_meta(raw["json"])
        if not meta["has_audio"]:
            continue
        assert meta["audio_seekable"] is True
        whole = decode_audio(raw["mp4"])
        seconds = len(whole) / 16000
        starts = [0.0, 0.001, 0.03, 0.064, 0.0641, 0.2, seconds / 2, seconds - 0.1,
                  seconds + 0.5, 0.05]
        with ShardSample(raw["mp4"], meta, "here").open_reader() as reader:
            for index, start in enumerate(starts):
                if index % 2:  # video decoded in between moves the demuxer elsewhere
                    reader.frames(int(1.0 * meta["fps"]), 4, meta["fps"])
                first = int(round(start * 16000))
                seeked = reader._seeked(first, COUNT)  # the path taken, not a fallback
                assert seeked is not None, start
                expected = expected_window(whole, start, COUNT)
                np.testing.assert_array_equal(seeked, expected[: len(seeked)])
                np.testing.assert_array_equal(reader.audio_window(start, COUNT), expected)
                checked += 1
    assert checked >= 2 * len(starts)


def hissy_track(seconds: float = 6.0) -> np.ndarray:
    """A tone under bursts of noise, (1, N) float32 at 16 kHz: noise-like bands that an
    AAC encoder codes by noise substitution when allowed."""
    rng = np.random.default_rng(0)
    time = np.arange(int(seconds * 16000)) / 16000
    tone = 0.3 * np.sin(2 * np.pi * 220 * time)
    bursts = 0.2 * rng.standard_normal(len(time)) * (np.sin(2 * np.pi * 0.7 * time) > 0)
    return np.clip(tone + bursts, -1, 1).astype(np.float32)[None]


@pytest.mark.parametrize("seekable", [True, False])
def test_noise_substitution_is_what_forbids_the_seek(seekable):
    """The same sound encoded both ways: without PNS every seeked window is exact; with it
    seeked windows are not (so such a track is read from its start, and still exact)."""
    buffer = io.BytesIO()
    write_mp4(buffer, None, VideoEncoding(fps=8), hissy_track(), 16000, seekable_audio=seekable)
    data = buffer.getvalue()
    whole = decode_audio(data)
    starts = [0.5, 1.3, 2.0, 3.7, 4.1]
    with ClipReader(data, seekable_audio=seekable) as reader:
        exact = [np.array_equal(reader._seeked(int(s * 16000), COUNT),
                                expected_window(whole, s, COUNT)) for s in starts]
        for start in starts:
            np.testing.assert_array_equal(reader.audio_window(start, COUNT),
                                          expected_window(whole, start, COUNT))
    assert all(exact) if seekable else not any(exact)
