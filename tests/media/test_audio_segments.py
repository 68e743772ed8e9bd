"""Audio-only sources: cut_audio_segments, and convert_video keeping them only for the
datasets that expect them."""

import numpy as np
import pytest

from mmssl.config import PrepConfig
from mmssl.media import MediaError, VideoEncoding, decode_audio, probe, write_mp4
from mmssl.media.decode import cut_audio_segments
from mmssl.prep.convert import convert_video
from mmssl.prep.tasks import SegmentSpec, VideoTask
from mmssl.shard_format import decode_meta

RATE = 22050


@pytest.fixture(scope="module")
def audio_only(tmp_path_factory):
    """3 s of a 440 Hz tone, AAC in mp4 with no video stream."""
    path = tmp_path_factory.mktemp("audio") / "tone.mp4"
    tone = 0.5 * np.sin(2 * np.pi * 440 * np.arange(3 * RATE) / RATE)
    write_mp4(path, None, VideoEncoding(fps=8.0), tone[None].astype(np.float32), RATE)
    return str(path)


def test_cut_audio_segments_clamps_to_the_track(audio_only):
    first, last = cut_audio_segments(audio_only, [(0.5, 1.5), (2.0, 9.0)])
    assert first.frames is None and len(first.audio) == 16000
    assert 2.9 < last.end < 3.1 and len(last.audio) == round((last.end - 2.0) * 16000)
    assert np.abs(first.audio).max() > 0.3
    with pytest.raises(MediaError, match="segment_out_of_range"):
        cut_audio_segments(audio_only, [(5.0, 6.0)])


def test_16_bit_pcm_at_the_target_rate_is_scaled(tmp_path):
    """A mono 16 kHz 16-bit WAV decodes to [-1, 1] like any other source (its integer
    samples were once taken as they were, 16384 for a half-scale tone)."""
    import wave

    tone = 0.5 * np.sin(2 * np.pi * 440 * np.arange(16000) / 16000)
    path = tmp_path / "tone.wav"
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(16000)
        handle.writeframes((tone * 32767).round().astype("<i2").tobytes())
    np.testing.assert_allclose(decode_audio(path), tone, atol=1e-3)
    np.testing.assert_allclose(cut_audio_segments(path, [(0.25, 0.5)])[0].audio,
                               tone[4000:8000], atol=1e-3)


def test_no_audio_either_is_no_video_stream(tmp_path):
    path = tmp_path / "silent_video.mp4"
    write_mp4(path, np.zeros((8, 16, 16, 3), np.uint8), VideoEncoding(fps=8.0))
    with pytest.raises(MediaError, match="no audio stream either") as caught:
        cut_audio_segments(path, [(0.0, 1.0)])
    assert caught.value.reason == "no_video_stream"


@pytest.mark.parametrize("dataset", ["audioset", "howto100m"])
def test_convert_keeps_audio_only_sources_only_where_expected(audio_only, dataset):
    task = VideoTask(dataset, "tone", audio_only, (SegmentSpec(0.0, 2.0, (), {}),))
    converted = convert_video(task, PrepConfig())
    samples, failures = converted.samples, converted.failures
    if dataset == "howto100m":  # a video dataset: unchanged, a counted failure
        assert samples == [] and [f.reason for f in failures] == ["no_video_stream"]
        return
    assert failures == []
    (sample,) = samples
    meta = decode_meta(sample["json"])
    assert (meta["has_video"], meta["has_audio"], meta["num_frames"]) == (False, True, 0)
    assert not probe(sample["mp4"]).has_video
    assert len(decode_audio(sample["mp4"])) >= 2 * 16000
