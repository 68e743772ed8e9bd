"""A segment's sound and frames do not depend on what else is cut with it: alone, in a run
with its neighbours, in runs either side of a seek, or with every other segment, its audio
is the slice of the whole track decoded once (:func:`decode_audio`), sample for sample,
and its frames are those of a pass from the start of the file.

The sources are real encodes whose AAC codes noisy bands as noise substitution: the
decoder fills them from a random generator that advances with every band it decodes, so
a decoder started after a seek gives other samples there for the rest of the track."""

import av
import numpy as np
import pytest
from helpers import camera_like_video

from mmssl.media import AUDIO_RATE
from mmssl.media.audio import decode_audio, slice_audio
from mmssl.media.clip import Segment
from mmssl.media.cutter import SEEK_GAP_SECONDS, index_keyframes, plan_runs
from mmssl.media.decode import iter_segments

FPS, SHORT_SIDE = 8.0, 32
# Keyframes every 4 s: (1, 3) and (3.2, 4) share one; (9.5, 11) and (13, 17) are less than
# SEEK_GAP_SECONDS apart but a keyframe (12 s) lies between them; (22.5, 23.5) decodes on
# from (20.5, 22).
SPANS = [(13.0, 17.0), (1.0, 3.0), (20.5, 22.0), (3.2, 4.0), (9.5, 11.0), (22.5, 23.5)]
GROUPINGS = {
    "alone": [[index] for index in range(len(SPANS))],
    "neighbours": [[1, 3], [4, 0], [2, 5]],
    "across gaps": [[1, 4], [3, 0, 5], [2]],
}


@pytest.fixture(scope="module")
def hissing(tmp_path_factory):
    """24 s, long GOPs with B-frames, a tone with hiss in 96-kb/s AAC (noise substitution
    in most frames), in mp4 and Matroska."""
    root = tmp_path_factory.mktemp("hiss")
    return {kind: camera_like_video(root / f"hiss.{kind}", kind, gop=100, hiss=0.1,
                                    audio_bitrate=96000)
            for kind in ("mp4", "matroska")}


def whole_track(source) -> tuple[np.ndarray, float]:
    """The whole audio track decoded once, and the time of its first sample."""
    with av.open(str(source)) as container:
        stream = container.streams.audio[0]
        origin = float((stream.start_time or 0) * stream.time_base)
    return decode_audio(source, AUDIO_RATE), origin


def cut(source, spans, seek: bool = True) -> dict:
    return dict(iter_segments(source, spans, FPS, SHORT_SIDE, seek=seek))


def assert_sound_is_the_whole_tracks(source, clips: dict, spans) -> None:
    track, origin = whole_track(source)
    for index, clip in clips.items():
        assert clip.start == spans[index][0]
        np.testing.assert_array_equal(
            clip.audio, slice_audio(track, origin, clip.start, clip.end, AUDIO_RATE),
            err_msg=f"segment {spans[index]}")


def test_the_spans_make_runs_joined_and_split_by_seeks(hissing):
    with av.open(str(hissing["mp4"])) as container:
        keyframes = index_keyframes(container.streams.video[0])
    segments = [Segment(*span) for span in SPANS]
    assert list(keyframes[:4]) == pytest.approx([0, 4, 8, 12], abs=0.2)
    assert plan_runs(segments, keyframes) == [[1, 3], [4], [0], [2, 5]]
    # Without an index, (13, 17) decodes on from (9.5, 11): under SEEK_GAP_SECONDS apart.
    assert 13.0 - 11.0 < SEEK_GAP_SECONDS
    assert plan_runs(segments) == [[1, 3], [4, 0], [2, 5]]


@pytest.mark.parametrize("kind", ["mp4", "matroska"])
@pytest.mark.parametrize("grouping", list(GROUPINGS))
def test_a_segment_is_the_same_whatever_it_is_cut_with(hissing, kind, grouping):
    source = hissing[kind]
    everything = cut(source, SPANS)
    from_the_start = cut(source, SPANS, seek=False)
    assert_sound_is_the_whole_tracks(source, from_the_start, SPANS)
    for group in GROUPINGS[grouping]:
        spans = [SPANS[index] for index in group]
        clips = cut(source, spans)
        assert_sound_is_the_whole_tracks(source, clips, spans)
        for position, index in enumerate(group):
            for other in (everything[index], from_the_start[index]):
                np.testing.assert_array_equal(clips[position].frames, other.frames)
                np.testing.assert_array_equal(clips[position].audio, other.audio)


def test_youcook2_steps_cut_alone_or_together(tiny_world):
    """The synthetic world's videos (22.05-kHz mono AAC at 48 kb/s): a step cut alone gave
    other sound from 10.24 s on than the same step cut after an earlier one."""
    videos = sorted((tiny_world / "youcook2" / "videos").glob("*/*/*.mp4"))
    assert videos
    steps = [(2.0, 7.0), (9.0, 13.0)]
    for video in videos:
        assert_sound_is_the_whole_tracks(video, cut(video, steps), steps)
        alone = cut(video, steps[1:])
        assert_sound_is_the_whole_tracks(video, {1: alone[0]}, steps)
