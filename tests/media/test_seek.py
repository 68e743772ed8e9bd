"""Decoding only what the segments need: runs of nearby segments, a seek to the keyframe
before each run, a stop after its last segment; the same frames as a pass from the start of
the file, on real long-GOP encodes with B-frames, also when the index lies about keyframes."""

import io
import struct

import numpy as np
import pytest
from helpers import camera_like_video
from test_encode_decode import SOURCE_RATE, sine

from mmssl.media import MediaError, VideoEncoding, mp4_bytes
from mmssl.media.clip import Segment
from mmssl.media.cutter import SEEK_GAP_SECONDS, plan_runs
from mmssl.media.decode import iter_segments
from mmssl.media.frames import YUV420, frame_size

SPARSE = [(1.0, 3.0), (9.5, 11.0), (15.0, 15.5), (20.0, 22.0), (2.0, 4.0)]


@pytest.fixture(scope="module")
def long_gop(tmp_path_factory):
    """24 s, keyframes every 4 s, 3 B-frames, in mp4 (header first) and in Matroska."""
    root = tmp_path_factory.mktemp("seek")
    return {kind: camera_like_video(root / f"clip.{kind}", kind, gop=100)
            for kind in ("mp4", "matroska")}


class CountingReader(io.BytesIO):
    """A file object that counts the bytes read from it."""

    def __init__(self, data: bytes):
        super().__init__(data)
        self.bytes_read = 0

    def read(self, size=-1):
        chunk = super().read(size)
        self.bytes_read += len(chunk)
        return chunk

    def readinto(self, buffer):
        count = super().readinto(buffer)
        self.bytes_read += count
        return count


def test_runs_join_segments_when_decoding_on_is_cheaper():
    segments = [Segment(s, e) for s, e in [(0, 2), (30, 32), (3, 4), (13, 14), (14.5, 15)]]
    keyframes = np.array([0.0, 10.0, 20.0, 30.0])
    # (3, 4): its keyframe (0) is behind the end of (0, 2), decode on; (13, 14) needs the
    # keyframe at 10, after 4: seek; (14.5, 15) decodes on; (30, 32) seeks.
    assert plan_runs(segments, keyframes) == [[0, 2], [3, 4], [1]]
    # Without an index, gaps up to SEEK_GAP_SECONDS are decoded through.
    assert plan_runs(segments) == [[0, 2], [3, 4], [1]]
    assert SEEK_GAP_SECONDS < 9
    assert plan_runs(segments, gap=np.inf) == [[0, 2, 3, 4, 1]]


@pytest.mark.parametrize("kind", ["mp4", "matroska"])
def test_seeking_gives_the_frames_of_a_pass_from_the_start(long_gop, kind):
    sought = dict(iter_segments(long_gop[kind], SPARSE, fps=8.0, short_side=32))
    whole = dict(iter_segments(long_gop[kind], SPARSE, fps=8.0, short_side=32, seek=False))
    assert sorted(sought) == sorted(whole) == list(range(len(SPARSE)))
    for index, (start, end) in enumerate(SPARSE):
        assert len(sought[index].frames) == round((end - start) * 8)
        np.testing.assert_array_equal(sought[index].frames, whole[index].frames)
        np.testing.assert_array_equal(sought[index].audio, whole[index].audio)
        # The frame shown at each output time: brightness steps by 8 each second.
        levels = sought[index].frames.reshape(len(sought[index].frames), -1).mean(axis=1)
        seconds = np.floor(start + np.arange(len(levels)) / 8 + 1e-6)
        assert np.all(np.abs(levels - (20 + 8 * seconds + 5.5)) < 4)


@pytest.fixture(scope="module")
def heavy_video() -> dict[str, bytes]:
    """24 s of noise, which the video's bytes are nearly all of, keyframes every 4 s,
    3 B-frames: without sound, and with a sine."""
    frames = np.random.default_rng(0).integers(0, 256, (240, 64, 96, 3), dtype=np.uint8)
    encoding = VideoEncoding(fps=10.0, gop=40, bframes=3)
    return {"silent": mp4_bytes(frames, encoding),
            "sound": mp4_bytes(frames, encoding, sine(24.0), SOURCE_RATE)}


def test_only_the_needed_part_of_the_file_is_read(heavy_video):
    """The video from the keyframe before the segment on (seen in the bytes of a file
    without sound); the sound from the start of its track, by a second reader (see
    :mod:`mmssl.media.cutter`); nothing after the segment's end."""
    reads = {}
    for kind, data in heavy_video.items():
        for segment in ((13.0, 14.0), (21.0, 22.0)):
            for seek in (True, False):
                source = CountingReader(data)
                outcomes = dict(iter_segments(source, [segment], fps=8.0, short_side=32,
                                              seek=seek))
                assert not isinstance(outcomes[0], MediaError)
                reads[kind, segment, seek] = source.bytes_read / len(data)
    # The header and stream probing, then from the keyframe at 12 s (20 s) to just past
    # the segment's end.
    early, late = (13.0, 14.0), (21.0, 22.0)
    assert reads["silent", early, True] < 0.3 and reads["silent", late, True] < 0.3
    assert reads["silent", early, False] > 0.55 and reads["silent", late, False] > 0.9
    # With sound, the same for the video's reader, and the sound's up to the segment's end.
    for segment in (early, late):
        assert reads["sound", segment, True] < reads["sound", segment, False] - 0.3
    assert reads["sound", early, True] < reads["sound", late, True] - 0.2


def test_a_seek_that_lands_late_decodes_the_run_from_the_start(long_gop, tmp_path):
    """An index that calls a frame 2 s after a keyframe one (a broken download or muxer):
    the seek lands there, the decoder cannot start before the next real keyframe, and the
    run is decoded again from the start of the file."""
    data = bytearray(long_gop["mp4"].read_bytes())
    table = data.find(b"stss")  # sync samples: count, then 1-based frame numbers
    count = struct.unpack(">I", data[table + 8 : table + 12])[0]
    keyframes = struct.unpack(f">{count}I", data[table + 12 : table + 12 + 4 * count])
    struct.pack_into(">I", data, table + 12 + 4 * 3, keyframes[3] + 50)  # 12 s -> 14 s
    broken = tmp_path / "lying_index.mp4"
    broken.write_bytes(bytes(data))
    wanted = [(14.6, 15.5), (16.0, 17.0)]
    sought = dict(iter_segments(broken, wanted, fps=8.0, short_side=32))
    whole = dict(iter_segments(long_gop["mp4"], wanted, fps=8.0, short_side=32, seek=False))
    for index in range(len(wanted)):
        np.testing.assert_array_equal(sought[index].frames, whole[index].frames)


def test_yuv420p_frames_are_the_rgb_frames_converted_once(long_gop):
    rgb = dict(iter_segments(long_gop["mp4"], SPARSE[:2], fps=8.0, short_side=32))
    yuv = dict(iter_segments(long_gop["mp4"], SPARSE[:2], fps=8.0, short_side=32,
                             pixel_format=YUV420))
    for index in range(2):
        assert yuv[index].pixel_format == YUV420 and rgb[index].pixel_format == "rgb24"
        assert frame_size(yuv[index].frames, YUV420) == rgb[index].frames.shape[1:3]
        luma = yuv[index].frames[:, :32].astype(float)
        # BT.601 luma of the RGB frames, on the limited range H.264 stores.
        red, green, blue = np.moveaxis(rgb[index].frames.astype(float), -1, 0)
        expected = 16 + (65.481 * red + 128.553 * green + 24.966 * blue) / 255
        assert np.abs(luma - expected).mean() < 2.0
