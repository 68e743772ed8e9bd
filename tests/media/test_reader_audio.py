"""A shard sample's audio windows are the whole track's samples, whatever the reader read
before: AAC frames overlap, so a window decoded after a seek must not carry the decoder's
state from elsewhere in the file (it did, up to 0.07 off), nor start on the silent frame a
flushed decoder gives first."""

import json

import numpy as np

from mmssl.data.shards import SkipCounter, raw_samples, shard_paths
from mmssl.media import ClipReader
from mmssl.media.audio import decode_audio

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
