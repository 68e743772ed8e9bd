"""Video backends are chosen by name from one registry; PyAV's picks the frame shown at each
output time and fails with media errors; a backend offering frames only gets PyAV's sound of
the same span, clip for clip as PyAV's one pass cuts it.

The source is H.264 with B-frames where frame ``i`` is flat gray at level ``8 * i``, so the
brightness of an output frame names the source frame it came from.
"""

import numpy as np
import pytest

from mmssl.media import MediaError, VideoEncoding, write_mp4
from mmssl.media.backends import (
    DEFAULT_BACKEND,
    VIDEO_BACKENDS,
    PyAVBackend,
    VideoBackend,
    decode_segments,
)
from mmssl.registry import RegistryError

FPS = 10.0
FRAMES = 30  # 3 s; the last level is 8 * 29 = 232
OUT_FPS = 7.0  # not a divisor of FPS, so the picking rule matters
SEGMENTS = [(0.0, 1.5), (1.2, 3.0), (2.5, 4.0)]  # the last runs past the end (3.0 s)


def source_index(time: float) -> int:
    """The source frame on screen at ``time``: the last one starting at or before it."""
    return int(np.floor(time * FPS + 1e-6))


def picked(frames: np.ndarray) -> np.ndarray:
    """Source frame index of each output frame, read from its gray level."""
    return np.rint(frames.reshape(len(frames), -1).mean(axis=1) / 8).astype(int)


@pytest.fixture(scope="module")
def gray_mp4(tmp_path_factory) -> str:
    levels = (8 * np.arange(FRAMES)).astype(np.uint8)
    frames = np.broadcast_to(levels[:, None, None, None], (FRAMES, 48, 80, 3)).copy()
    path = tmp_path_factory.mktemp("backends") / "gray.mp4"
    write_mp4(path, frames, VideoEncoding(fps=FPS, gop=8, bframes=2))
    return str(path)


def expected_indices(start: float, end: float) -> list[int]:
    times = start + np.arange(int(round((end - start) * OUT_FPS))) / OUT_FPS
    return [source_index(t) for t in times if t < FRAMES / FPS - 1e-6]


def test_registry(gray_mp4):
    assert DEFAULT_BACKEND == "pyav"
    assert "pyav" in VIDEO_BACKENDS.list()
    with pytest.raises(RegistryError, match="'pyav' is already registered"):
        VIDEO_BACKENDS.register("pyav")(PyAVBackend)
    with pytest.raises(RegistryError, match="unknown video backend 'opencv'; known: .*pyav"):
        decode_segments(gray_mp4, SEGMENTS, OUT_FPS, 24, backend="opencv")


class FramesOnly(VideoBackend):
    """A backend with frames only (PyAV's, so the two paths can be compared exactly):
    :meth:`VideoBackend.clips` adds the sound."""

    def frames(self, source, segments, fps, short_side=None):
        return PyAVBackend().frames(source, segments, fps, short_side)


def test_frames_only_backend_clips_like_the_one_pass(tmp_path):
    """Frames then PyAV's audio of the frames' span (a segment's rounded frame count may
    end past it) equal PyAV's one pass; a segment past the end yields its error alone."""
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 255, (30, 48, 80, 3), dtype=np.uint8)
    sound = (0.3 * np.sin(np.arange(3 * 22050) * 0.05)).astype(np.float32)[None]
    path = tmp_path / "av.mp4"
    write_mp4(path, frames, VideoEncoding(fps=FPS, gop=8), sound, 22050)
    spans = [(0.0, 1.1), (1.2, 3.0), (2.5, 4.0), (5.0, 6.0)]
    ours = dict(FramesOnly().clips(str(path), spans, OUT_FPS, 24))
    theirs = dict(VIDEO_BACKENDS.build("pyav").clips(str(path), spans, OUT_FPS, 24))
    assert sorted(ours) == sorted(theirs) == [0, 1, 2, 3]
    assert ours[3].reason == theirs[3].reason == "segment_out_of_range"
    for index in range(3):
        assert (ours[index].start, ours[index].end) == (theirs[index].start, theirs[index].end)
        np.testing.assert_array_equal(ours[index].frames, theirs[index].frames)
        np.testing.assert_array_equal(ours[index].audio, theirs[index].audio)
    assert theirs[0].end > spans[0][1]  # 8 frames at 7 fps: the clip ends past 1.1 s


def test_pyav_picks_last_frame_at_or_before_each_time(gray_mp4):
    clips = decode_segments(gray_mp4, SEGMENTS, OUT_FPS, short_side=24)
    for (start, end), frames in zip(SEGMENTS, clips, strict=True):
        assert frames.shape[1:] == (24, 40, 3) and frames.dtype == np.uint8
        assert picked(frames).tolist() == expected_indices(start, end)


def test_errors_are_media_errors(gray_mp4, tmp_path):
    backend = "pyav"
    with pytest.raises(MediaError) as missing:
        decode_segments(tmp_path / "nope.mp4", [(0.0, 1.0)], OUT_FPS, 24, backend)
    assert missing.value.reason == "missing_file"
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 8)
    with pytest.raises(MediaError) as unreadable:
        decode_segments(corrupt, [(0.0, 1.0)], OUT_FPS, 24, backend)
    assert unreadable.value.reason in {"unreadable", "decode_error"}
    with pytest.raises(MediaError) as late:
        decode_segments(gray_mp4, [(5.0, 6.0)], OUT_FPS, 24, backend)
    assert late.value.reason == "segment_out_of_range"
