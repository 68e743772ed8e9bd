"""write_mp4 / probe / cut_segments / decode_all on small files written by the tests.

Video frames are flat gray with level ``8 * index``, so the decoded brightness of any output
frame says which source frame it came from; audio is a sine whose frequency is read back
from the FFT peak.
"""

import io

import av
import numpy as np
import pytest

from mmssl.media import (
    AUDIO_RATE,
    MediaError,
    VideoEncoding,
    cut_segments,
    decode_all,
    decode_audio,
    mp4_bytes,
    probe,
    scaled_size,
    write_mp4,
)

FPS = 10.0
FRAMES = 30  # 3 s at 10 fps; the last level is 8 * 29 = 232
HEIGHT, WIDTH = 48, 80
SOURCE_RATE = 22050
TONE_HZ = 440.0
LEVEL_TOLERANCE = 4  # flat gray through yuv420p + H.264 + rgb24 (and AREA resizing)


def gray_frames(count: int = FRAMES, height: int = HEIGHT, width: int = WIDTH) -> np.ndarray:
    levels = (8 * np.arange(count)).astype(np.uint8)
    return np.broadcast_to(levels[:, None, None, None], (count, height, width, 3)).copy()


def sine(seconds: float, rate: int = SOURCE_RATE, channels: int = 2, hz: float = TONE_HZ,
         onset: float = 0.0) -> np.ndarray:
    """(channels, N) float32 sine at ``hz``, silent before ``onset`` seconds."""
    time = np.arange(int(round(seconds * rate))) / rate
    wave = np.where(time >= onset, 0.5 * np.sin(2 * np.pi * hz * time), 0.0)
    return np.repeat(wave[None], channels, axis=0).astype(np.float32)


def decoded_levels(frames: np.ndarray) -> np.ndarray:
    return frames.reshape(len(frames), -1).mean(axis=1)


def source_index(time: float) -> int:
    """The source frame on screen at ``time``: the last one starting at or before it."""
    return int(np.floor(time * FPS + 1e-6))


def dominant_hz(audio: np.ndarray, rate: int = AUDIO_RATE) -> float:
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(len(audio))))
    return float(np.fft.rfftfreq(len(audio), 1.0 / rate)[np.argmax(spectrum)])


@pytest.fixture(scope="module")
def av_bytes() -> bytes:
    """3 s of numbered gray frames at 10 fps plus a 22.05 kHz stereo 440 Hz sine."""
    return mp4_bytes(gray_frames(), VideoEncoding(fps=FPS), sine(3.0), SOURCE_RATE)


@pytest.fixture(scope="module")
def av_file(tmp_path_factory, av_bytes) -> str:
    path = tmp_path_factory.mktemp("media") / "clip.mp4"
    path.write_bytes(av_bytes)
    return str(path)


# --- write_mp4 round trip ---------------------------------------------------------------


def test_round_trip_with_audio(tmp_path):
    path = tmp_path / "both.mp4"
    write_mp4(path, gray_frames(), VideoEncoding(fps=FPS), sine(3.0), SOURCE_RATE)

    info = probe(path)
    assert info.has_video and info.has_audio
    assert (info.width, info.height) == (WIDTH, HEIGHT)
    assert info.fps == pytest.approx(FPS)
    assert info.duration == pytest.approx(3.0, abs=0.1)
    assert info.audio_rate == SOURCE_RATE and info.audio_channels == 2
    with av.open(str(path)) as container:
        assert container.streams.video[0].codec_context.name == "h264"
        assert container.streams.audio[0].codec_context.name == "aac"

    frames, audio = decode_all(path)
    assert frames.shape == (FRAMES, HEIGHT, WIDTH, 3) and frames.dtype == np.uint8
    np.testing.assert_allclose(decoded_levels(frames), 8 * np.arange(FRAMES),
                               atol=LEVEL_TOLERANCE)
    assert audio.dtype == np.float32 and audio.ndim == 1
    # AAC pads the last codec frame (1024 samples at 22.05 kHz = 743 at 16 kHz).
    assert 3 * AUDIO_RATE <= len(audio) <= 3 * AUDIO_RATE + 743


def test_round_trip_without_audio(tmp_path):
    path = tmp_path / "video_only.mp4"
    write_mp4(path, gray_frames(), VideoEncoding(fps=FPS))
    info = probe(path)
    assert info.has_video and not info.has_audio
    assert info.audio_rate == 0 and info.audio_channels == 0
    frames, audio = decode_all(path)
    assert len(frames) == FRAMES and audio is None
    clip = cut_segments(path, [(0.5, 1.5)], fps=FPS)[0]
    assert clip.audio is None and len(clip.frames) == 10


def test_audio_only_file(tmp_path):
    path = tmp_path / "audio_only.mp4"
    write_mp4(path, None, VideoEncoding(fps=FPS), sine(2.0, channels=1), SOURCE_RATE)
    info = probe(path)
    assert info.has_audio and not info.has_video
    assert info.audio_channels == 1
    frames, audio = decode_all(path)
    assert frames is None
    assert 2 * AUDIO_RATE <= len(audio) <= 2 * AUDIO_RATE + 743
    assert dominant_hz(audio[: 2 * AUDIO_RATE]) == pytest.approx(TONE_HZ, abs=2.0)
    with pytest.raises(MediaError) as caught:
        cut_segments(path, [(0.0, 1.0)], fps=FPS)
    assert caught.value.reason == "no_video_stream"


def test_write_mp4_rejects_bad_input(tmp_path):
    with pytest.raises(ValueError):
        write_mp4(tmp_path / "odd.mp4", gray_frames(height=47), VideoEncoding(fps=FPS))
    with pytest.raises(ValueError):
        write_mp4(tmp_path / "none.mp4", None, VideoEncoding(fps=FPS))


def test_decode_all_on_bytes_matches_file(av_bytes, av_file):
    from_bytes = decode_all(av_bytes)
    from_file = decode_all(av_file)
    np.testing.assert_array_equal(from_bytes[0], from_file[0])
    np.testing.assert_array_equal(from_bytes[1], from_file[1])
    assert from_bytes[0].shape == (FRAMES, HEIGHT, WIDTH, 3)
    assert probe(io.BytesIO(av_bytes)).has_audio


def test_file_object_source_serves_one_read(av_bytes):
    clip = cut_segments(io.BytesIO(av_bytes), [(0.0, 1.0)], fps=FPS)[0]
    assert len(clip.frames) == 10 and len(clip.audio) == AUDIO_RATE


def test_decode_all_on_file_object(av_bytes):
    frames, audio = decode_all(io.BytesIO(av_bytes))
    assert frames.shape == (FRAMES, HEIGHT, WIDTH, 3)
    assert 3 * AUDIO_RATE <= len(audio) <= 3 * AUDIO_RATE + 743


# --- cut_segments: frame rate, size, timing -----------------------------------------------


@pytest.mark.parametrize("bframes", [0, 2])
@pytest.mark.parametrize(
    "start, end, fps",
    [(0.5, 2.3, 4.0), (0.0, 3.0, 4.0), (1.0, 2.0, 15.0), (0.25, 1.85, 25.0), (1.3, 2.9, 10.0)],
)
def test_cut_segments_picks_frames_shown_at_each_output_time(start, end, fps, bframes):
    data = mp4_bytes(gray_frames(), VideoEncoding(fps=FPS, bframes=bframes))
    clip = cut_segments(data, [(start, end)], fps=fps)[0]

    count = round((end - start) * fps)
    assert clip.frames.shape == (count, HEIGHT, WIDTH, 3)
    times = start + np.arange(count) / fps
    expected = [8 * source_index(t) for t in times]
    np.testing.assert_allclose(decoded_levels(clip.frames), expected, atol=LEVEL_TOLERANCE)


def test_one_pass_serves_many_segments_like_separate_calls(av_bytes):
    segments = [(0.0, 1.0), (0.5, 2.0), (2.0, 3.0), (0.5, 2.0)]
    together = cut_segments(av_bytes, segments, fps=8.0)
    for segment, clip in zip(segments, together, strict=True):
        alone = cut_segments(av_bytes, [segment], fps=8.0)[0]
        np.testing.assert_array_equal(clip.frames, alone.frames)
        np.testing.assert_array_equal(clip.audio, alone.audio)
    np.testing.assert_array_equal(together[1].frames, together[3].frames)


@pytest.mark.parametrize(
    "height, width, short_side",
    [(48, 80, 32), (80, 48, 32), (48, 80, 24), (96, 128, 40), (48, 64, 48)],
)
def test_short_side_resize_gives_even_sizes(height, width, short_side):
    data = mp4_bytes(gray_frames(count=8, height=height, width=width), VideoEncoding(fps=FPS))
    clip = cut_segments(data, [(0.0, 0.8)], fps=FPS, short_side=short_side)[0]
    out_height, out_width = clip.frames.shape[1:3]
    assert out_height % 2 == 0 and out_width % 2 == 0
    assert min(out_height, out_width) == short_side
    long_side = max(height, width) * short_side / min(height, width)
    assert abs(max(out_height, out_width) - long_side) <= 1.0
    assert (out_width, out_height) == scaled_size(width, height, short_side)
    # Resizing a flat image must not change its level (frames are still the right ones).
    np.testing.assert_allclose(decoded_levels(clip.frames), 8 * np.arange(8),
                               atol=LEVEL_TOLERANCE)


def test_scaled_size_rounds_odd_targets_to_even():
    assert scaled_size(81, 47, None) == (80, 46)
    width, height = scaled_size(80, 48, 27)
    assert width % 2 == 0 and height % 2 == 0 and abs(height - 27) == 1


# --- cut_segments: audio ------------------------------------------------------------------


@pytest.mark.parametrize("start, end", [(0.5, 1.5), (0.0, 3.0), (1.25, 2.75)])
def test_audio_resampled_to_16k_mono_keeps_frequency_and_length(av_bytes, start, end):
    clip = cut_segments(av_bytes, [(start, end)], fps=4.0)[0]
    assert clip.audio.dtype == np.float32 and clip.audio.ndim == 1
    assert len(clip.audio) == round((end - start) * AUDIO_RATE)
    assert dominant_hz(clip.audio) == pytest.approx(TONE_HZ, abs=AUDIO_RATE / len(clip.audio) + 1)
    # Equal stereo channels of amplitude 0.5 downmix to one sine: 0.5 for a plain average,
    # 0.71 with FFmpeg's default -3 dB per channel; never silence or the raw sum (1.0).
    amplitude = float(np.sqrt(2 * np.mean(clip.audio**2)))
    assert 0.48 < amplitude < 0.73


def test_audio_is_aligned_with_segment_times():
    """A tone starting at 1.0 s starts halfway into the segment (0.5, 1.5)."""
    data = mp4_bytes(gray_frames(), VideoEncoding(fps=FPS, bframes=2),
                     sine(3.0, hz=1000.0, onset=1.0), SOURCE_RATE)
    audio = cut_segments(data, [(0.5, 1.5)], fps=FPS)[0].audio
    onset = np.argmax(np.abs(audio) > 0.1) / AUDIO_RATE
    assert onset == pytest.approx(0.5, abs=0.01)
    assert np.sqrt(np.mean(audio[: int(0.45 * AUDIO_RATE)] ** 2)) < 0.01
    assert np.sqrt(np.mean(audio[int(0.55 * AUDIO_RATE):] ** 2)) > 0.3


def test_decode_audio_resamples_whole_track(av_file):
    audio = decode_audio(av_file)
    assert 3 * AUDIO_RATE <= len(audio) <= 3 * AUDIO_RATE + 743
    assert dominant_hz(audio[: 3 * AUDIO_RATE]) == pytest.approx(TONE_HZ, abs=1.0)
    at_8k = decode_audio(av_file, audio_rate=8000)
    assert abs(len(at_8k) - len(audio) / 2) <= 2


# --- cut_segments: range and broken files -------------------------------------------------


def test_segment_past_the_end_raises(av_file):
    with pytest.raises(MediaError) as caught:
        cut_segments(av_file, [(0.0, 1.0), (5.0, 6.0)], fps=4.0)
    assert caught.value.reason == "segment_out_of_range"
    assert "clip.mp4" in str(caught.value)


def test_segment_running_past_the_end_keeps_only_real_frames(av_file):
    clip = cut_segments(av_file, [(2.5, 4.0)], fps=4.0)[0]
    # Output times 2.5 and 2.75 exist; 3.0 and later are past the last frame (2.9-3.0 s).
    np.testing.assert_allclose(decoded_levels(clip.frames), [8 * 25, 8 * 27],
                               atol=LEVEL_TOLERANCE)
    assert len(clip.audio) == round((clip.end - clip.start) * AUDIO_RATE)


def _broken_sources(av_bytes, tmp_path):
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(av_bytes[: len(av_bytes) // 2])
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(np.random.default_rng(0).integers(0, 256, 20000, np.uint8).tobytes())
    return {
        "truncated_file": truncated,
        "truncated_bytes": av_bytes[: len(av_bytes) // 2],
        "garbage_file": garbage,
        "garbage_bytes": b"this is not a video" * 100,
        "empty_bytes": b"",
    }


@pytest.mark.parametrize(
    "name", ["truncated_file", "truncated_bytes", "garbage_file", "garbage_bytes", "empty_bytes"]
)
@pytest.mark.parametrize("reader", ["probe", "decode_all", "decode_audio", "cut_segments"])
def test_broken_files_raise_media_error(av_bytes, tmp_path, name, reader):
    source = _broken_sources(av_bytes, tmp_path)[name]
    call = {
        "probe": probe,
        "decode_all": decode_all,
        "decode_audio": decode_audio,
        "cut_segments": lambda s: cut_segments(s, [(0.0, 1.0)], fps=4.0),
    }[reader]
    with pytest.raises(MediaError) as caught:
        call(source)
    assert caught.value.reason in ("unreadable", "decode_error")


def test_corrupted_payload_never_raises_other_exceptions(av_bytes):
    """Garbage written over parts of a valid file: each read succeeds or raises MediaError."""
    rng = np.random.default_rng(1)
    outcomes = set()
    for _ in range(12):
        damaged = bytearray(av_bytes)
        where = int(rng.integers(64, len(damaged) - 600))
        damaged[where : where + 512] = rng.integers(0, 256, 512, np.uint8).tobytes()
        for call in (decode_all, lambda s: cut_segments(s, [(0.0, 1.0), (1.5, 2.5)], 4.0, 32)):
            try:
                call(bytes(damaged))
                outcomes.add("ok")
            except MediaError as error:
                outcomes.add(error.reason)
    assert outcomes <= {"ok", "unreadable", "decode_error", "no_video_stream",
                        "segment_out_of_range"}


def test_missing_path_gives_missing_file(tmp_path):
    missing = tmp_path / "nowhere.mp4"
    for call in (probe, decode_all, lambda s: cut_segments(s, [(0.0, 1.0)], fps=4.0)):
        with pytest.raises(MediaError) as caught:
            call(missing)
        assert caught.value.reason == "missing_file"
        assert "nowhere.mp4" in str(caught.value)
