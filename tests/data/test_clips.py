"""Cutting clips out of a shard sample: frames copied straight into their place in a batch
equal the frames cut the plain way (from an mp4 or from decoded frames), frames of another
size than the crop box was drawn for are refused, one pass over a segment's windows equals
a seek per window (frames and sound), and audio is the waveform."""

import random

import numpy as np
import pytest
import torch

from mmssl.api.raw_media import DecodedReader
from mmssl.data.augment import CropBox, center_crop_box, cover_crop_box, crop_to_size
from mmssl.data.clips import ClipCutter, OpenSample
from mmssl.media import ClipReader, MediaError, VideoEncoding, mp4_bytes
from mmssl.media.clip import Clip

FPS = 8.0


@pytest.fixture(scope="module")
def sample():
    frames = np.random.default_rng(0).integers(0, 255, (40, 60, 80, 3), dtype=np.uint8)
    audio = np.random.default_rng(1).standard_normal((1, 80000)).astype(np.float32) * 0.1
    media = mp4_bytes(frames, VideoEncoding(fps=FPS), audio, seekable_audio=True)
    meta = {"fps": FPS, "num_frames": 40, "width": 80, "height": 60, "has_audio": True}
    with ClipReader(media, seekable_audio=True) as reader:
        yield OpenSample(reader, meta, "test")


def reference(sample, cutter, start, box):
    """The clip cut the plain way: every frame decoded, stacked, then cropped."""
    first = int(round(start * FPS))
    frames = torch.from_numpy(sample.reader.frames(first, cutter.clip_frames, FPS))
    return crop_to_size(frames.permute(3, 0, 1, 2), box, cutter.crop_size)


@pytest.mark.parametrize("crop", [(60, 60), (40, 50)])  # a plain cut; a resampled box
def test_a_clip_decoded_into_its_batch_row_equals_the_plain_cut(sample, crop):
    cutter = ClipCutter(8, crop)
    box = cover_crop_box(60, 80, crop, random.Random(3))
    batch = torch.zeros(2, 3, 8, *crop, dtype=torch.uint8)
    out = cutter.video(sample, 1.5, box, out=batch[1].numpy())
    assert out.data_ptr() == batch[1].data_ptr()
    assert torch.equal(batch[1], reference(sample, cutter, 1.5, box))
    assert torch.equal(cutter.video(sample, 4.9, box), reference(sample, cutter, 4.9, box))


def test_a_decoded_span_is_cut_like_its_mp4(sample):
    # Raw media embedded without re-encoding reads clips from decoded frames.
    cutter = ClipCutter(8, (60, 60))
    box = cover_crop_box(60, 80, (60, 60), random.Random(5))
    frames = sample.reader.frames(0, 40, FPS)
    decoded = OpenSample(DecodedReader(Clip(0.0, 5.0, frames, None)), sample.meta, "span")
    for start in (0.0, 2.2, 4.9):  # the last runs past the end: its last frame repeats
        assert torch.equal(cutter.video(decoded, start, box), cutter.video(sample, start, box))


def test_frames_of_another_size_than_the_box_was_drawn_for_are_refused(sample):
    cutter = ClipCutter(8, (40, 40))
    # A plain cut (the box is the output size) drawn for 48×64 frames, not 60×80.
    box = CropBox(top=0, left=12, height=40, width=40, frame_height=48, frame_width=64)
    with pytest.raises(ValueError, match="drawn for 48×64 frames cannot cut 60×80"):
        cutter.video(sample, 1.0, box, out=np.zeros((3, 8, 40, 40), np.uint8))
    with pytest.raises(MediaError, match="frame_size_mismatch"):
        cutter.checked_video(sample, 1.0, box)


def test_one_pass_over_a_segments_windows_equals_a_seek_per_window(sample):
    cutter = ClipCutter(8, (48, 48))
    starts = [0.0, 0.6, 1.9, 3.4, 4.5]  # overlapping; the last runs past the end
    box = center_crop_box(60, 80, (48, 48))
    windows = cutter.video_windows(sample, starts)
    assert windows.shape == (5, 3, 8, 48, 48)
    for row, start in enumerate(starts):
        assert torch.equal(windows[row], reference(sample, cutter, start, box)), start


def test_audio_is_the_clips_waveform_or_silence(sample):
    cutter = ClipCutter(8, (48, 48))
    waveform, has_audio = cutter.audio(sample, 1.0)
    assert has_audio and waveform.shape == (16000,) and waveform.dtype == torch.float32
    assert torch.equal(waveform, torch.from_numpy(sample.reader.audio_window(1.0, 16000)))
    silent = OpenSample(sample.reader, {**sample.meta, "has_audio": False}, "test")
    waveform, has_audio = cutter.audio(silent, 1.0)
    assert not has_audio and not waveform.any() and waveform.shape == (16000,)


@pytest.mark.parametrize("starts", [[0.0, 0.6, 1.9, 3.4, 4.5],  # one stretch of track
                                    [0.0, 4.9]])  # far apart: a window each
def test_one_pass_over_a_segments_sound_equals_a_window_each(sample, starts):
    cutter = ClipCutter(8, (48, 48))
    windows = cutter.audio_windows(sample, starts)
    assert windows.shape == (len(starts), 16000)
    for row, start in enumerate(starts):
        assert torch.equal(windows[row], cutter.audio(sample, start)[0]), start
