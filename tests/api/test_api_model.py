"""The Python API on an untrained checkpoint: what a model says about itself, text through
the checkpoint's own tokenizer and tower, scores as the method scores, arrays taking the
file path, and clear errors for what cannot be embedded."""

import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch

import mmssl
from mmssl.api.embeddings import Embeddings, similarity
from mmssl.checkpoint import PREP_NAME, load_checkpoint
from mmssl.media import VideoEncoding, decode_all, write_mp4
from mmssl.media.decode import decode_audio


@pytest.fixture(scope="module")
def model(fresh_checkpoint):
    return mmssl.load(fresh_checkpoint, windows=2, batch_size=4)


def test_the_model_names_its_towers_spaces_and_comparable_pairs(model):
    assert model.modalities == ("video", "audio", "text")
    assert model.spaces == {"va": ("video", "audio"), "vt": ("video", "text"),
                            "at": ("audio", "text")}
    assert model.comparable == ["video↔audio (va)", "video↔text (vt)", "audio↔text (at)",
                                "text↔video+audio (vt+at)"]
    assert model.prep.fps == 8.0 and model.prep.short_side == 48
    assert "mmv" in repr(model) and "8 fps" in repr(model)


def test_text_goes_through_the_checkpoint_s_tokenizer_and_tower(model, fresh_checkpoint):
    sentences = ["whisk the eggs", "a big red square moves left", "fry the onion"]
    text = model.embed_text(sentences)
    method, config, tokenizer = load_checkpoint(fresh_checkpoint)
    with torch.no_grad():
        ids = tokenizer(sentences, config.data.max_words)
        expected = method.embed("text", ids)
        backbone = method.towers.encode("text", ids)
    assert text.keys == sentences and set(text.spaces) == {"vt", "at"}
    torch.testing.assert_close(text["vt"], expected["vt"])
    torch.testing.assert_close(model.embed_text(sentences, level="backbone")["features"],
                               backbone)
    with pytest.raises(ValueError, match="level must be one of"):
        model.embed_text(sentences, level="pixels")


def test_scores_are_dot_products_in_the_space_two_modalities_share():
    torch.manual_seed(0)
    text = Embeddings("text", ["a", "b"], {"vt": torch.randn(2, 4), "at": torch.randn(2, 4)})
    video = Embeddings("video", ["x", "y", "z"], {"vt": torch.randn(3, 4),
                                                  "va": torch.randn(3, 4)})
    audio = Embeddings("audio", ["x", "y", "z"], {"at": torch.randn(3, 4),
                                                  "va": torch.randn(3, 4)},
                       has_audio=torch.tensor([True, False, True]))
    torch.testing.assert_close(similarity(text, video), text["vt"] @ video["vt"].T)
    torch.testing.assert_close(similarity(video, audio), video["va"] @ audio["va"].T)
    silent = audio["at"] * torch.tensor([1.0, 0.0, 1.0])[:, None]  # no sound scores zero
    torch.testing.assert_close(similarity(text, (video, audio)),
                               text["vt"] @ video["vt"].T + text["at"] @ silent.T)
    with pytest.raises(ValueError, match="no single space"):
        similarity(video, video)
    torch.testing.assert_close(similarity(video, video, space="va"), video["va"] @ video["va"].T)


def test_a_raw_span_gets_one_row_keyed_by_its_times(model, youcook_segments):
    segment = youcook_segments[0]
    video = model.embed_video(segment["path"], segment["start"], segment["end"])
    audio = model.embed_audio(segment["path"], segment["start"], segment["end"])
    assert video.keys == [f"{segment['video_id']}@{segment['start']:.2f}-{segment['end']:.2f}"]
    assert video["vt"].shape == (1, 128) and audio["at"].shape == (1, 128)
    assert torch.allclose(video["vt"].norm(dim=1), torch.ones(1))  # as the method scores
    whole = model.embed_video(segment["path"])
    assert whole.keys[0].startswith(f"{segment['video_id']}@0.00-")


def test_decoded_frames_and_waveforms_take_the_file_s_path(model, youcook_segments, tmp_path):
    """Frames decoded from a file, given back as an array, are written losslessly (H.264
    CRF 0) and prepared as the file is, so the two embeddings differ only by the RGB → YUV
    rounding of that extra step and the 16-bit WAV of the sound (decoded at 16 kHz, where
    the file's own sound is resampled in the same pass as it is encoded): far less than
    spans of different content differ."""
    segment = youcook_segments[0]
    frames, _ = decode_all(segment["path"])
    from_file = model.embed_video(segment["path"], 0.0, 4.0)
    from_frames = model.embed_video(frames, 0.0, 4.0, fps=16.0)
    other = model.embed_video(segment["path"], 8.0, 12.0)
    assert from_frames.keys == ["array@0.00-4.00"]
    near = float(from_frames["vt"] @ from_file["vt"].T)
    assert near > 0.99 and near > float(other["vt"] @ from_file["vt"].T)
    sound = decode_audio(segment["path"])
    from_wave = model.embed_audio(sound, 0.0, 4.0, rate=16000)
    file_sound = model.embed_audio(segment["path"], 0.0, 4.0)["at"]
    near = float(from_wave["at"] @ file_sound.T)  # log-mel magnifies quiet differences
    assert near > 0.95 and near > float(model.embed_audio(segment["path"], 8.0, 12.0)["at"]
                                        @ file_sound.T)
    with pytest.raises(ValueError, match="need their frame rate"):
        model.embed_video(frames, 0.0, 4.0)
    with pytest.raises(ValueError, match=r"uint8 \(T, H, W, 3\)"):
        model.embed_video(frames.astype(np.float32), 0.0, 4.0, fps=16.0)


def test_what_cannot_be_embedded_says_why(model, fresh_checkpoint, tmp_path, youcook_segments):
    silent = tmp_path / "silent.mp4"
    write_mp4(silent, np.zeros((16, 48, 64, 3), np.uint8), VideoEncoding(fps=8.0))
    with pytest.raises(ValueError, match="silent.mp4: no audio track"):
        model.embed_audio(silent)
    with pytest.raises(ValueError, match="segment_out_of_range"):
        model.embed_video(youcook_segments[0]["path"], 300.0, 304.0)
    with pytest.raises(ValueError, match="no sentence"):
        model.embed_text([])


def test_a_checkpoint_without_prep_settings_asks_for_them(fresh_checkpoint, tmp_path,
                                                          youcook_segments):
    old = shutil.copytree(fresh_checkpoint, tmp_path / "old")
    (old / PREP_NAME).unlink()  # as checkpoints were written before they recorded it
    model = mmssl.load(old, windows=2)
    assert model.prep is None and model.embed_text(["whisk"])["vt"].shape == (1, 128)
    with pytest.raises(ValueError, match=r"records no prep settings .*fps=8, short_side=48"):
        model.embed_video(youcook_segments[0]["path"], 0.0, 2.0)
    with pytest.raises(ValueError, match="give both fps and short_side"):
        mmssl.load(old, fps=8)
    given = mmssl.load(old, windows=2, fps=8, short_side=48)
    torch.testing.assert_close(
        given.embed_video(youcook_segments[0]["path"], 0.0, 2.0)["vt"],
        mmssl.load(fresh_checkpoint, windows=2).embed_video(youcook_segments[0]["path"],
                                                            0.0, 2.0)["vt"])


@pytest.mark.multiprocess
def test_import_mmssl_stays_cheap():
    """``import mmssl`` loads no torch; the API comes on first use of ``mmssl.load``."""
    code = ("import sys, mmssl; assert 'torch' not in sys.modules, 'torch at import'; "
            "mmssl.load; assert 'torch' in sys.modules and 'mmssl.api' in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=300)
