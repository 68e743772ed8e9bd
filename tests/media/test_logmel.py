"""The log-mel front end, computed in batches on the model's side: torchaudio's mel
spectrogram and log, row by row the same in a batch as alone, and never in a checkpoint."""

import pytest
import torch
import torchaudio

from mmssl.config import TrainConfig
from mmssl.media.logmel import LogMel
from mmssl.methods.towers import build_towers


def reference(waveform, n_mels=40, window=400, hop=160):
    mel = torchaudio.transforms.MelSpectrogram(sample_rate=16000, n_fft=window,
                                               win_length=window, hop_length=hop,
                                               n_mels=n_mels, power=2.0)
    return torch.log(mel(waveform) + 1e-6)[:, None]


def test_logmel_is_torchaudios_mel_spectrogram_and_log():
    waveform = torch.randn(3, 16000, generator=torch.Generator().manual_seed(0))
    out = LogMel()(waveform)
    assert out.shape == (3, 1, 40, LogMel().num_frames(16000)) == (3, 1, 40, 101)
    torch.testing.assert_close(out, reference(waveform), rtol=1e-5, atol=1e-4)
    custom = LogMel(n_mels=24, window_ms=32.0, hop_ms=16.0)(waveform)
    torch.testing.assert_close(custom, reference(waveform, 24, 512, 256), rtol=1e-5,
                               atol=1e-4)


def test_each_row_is_its_own_whatever_the_batch_and_silence_is_the_floor():
    waveform = torch.randn(4, 8000, generator=torch.Generator().manual_seed(1))
    waveform[2] = 0
    batched, logmel = LogMel()(waveform), LogMel()
    for row in range(4):
        torch.testing.assert_close(batched[row], logmel(waveform[row : row + 1])[0])
    assert torch.allclose(batched[2], torch.log(torch.tensor(1e-6)))
    assert LogMel().double()(waveform.double()).dtype == torch.float64


def test_logmel_takes_batches_of_waveforms_only():
    with pytest.raises(ValueError, match="waveforms"):
        LogMel()(torch.randn(2, 1, 40, 101))


def test_towers_compute_the_runs_logmel_and_keep_it_out_of_checkpoints():
    config = TrainConfig()
    config.data.n_mels, config.data.hop_ms = 24, 20.0
    config.model.audio_encoder = "tiny_audio"
    towers = build_towers(config, 10, ("video", "audio"))
    waveform = torch.randn(2, 16000, generator=torch.Generator().manual_seed(2))
    expected = LogMel(n_mels=24, hop_ms=20.0)(waveform)
    assert torch.equal(towers.inputs("audio", waveform), expected)
    assert not any("mel" in name for name in towers.state_dict())
    assert list(towers) == ["video", "audio"]  # the front end is not a tower
