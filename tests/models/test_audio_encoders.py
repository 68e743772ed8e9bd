"""Audio encoders on log-mels of other sizes than the contract test's, and their errors."""

import pytest
import torch

from mmssl.models import AUDIO_ENCODERS
from mmssl.models.audio_transformer import sinusoidal_positions

pytestmark = pytest.mark.usefixtures("one_thread")


def test_any_clip_length_and_clear_errors_for_the_wrong_mel_count():
    torch.manual_seed(0)
    transformer = AUDIO_ENCODERS.build("audio_transformer_tiny", n_mels=40).eval()
    davenet = AUDIO_ENCODERS.build("davenet_tiny", n_mels=40).eval()
    resnet = AUDIO_ENCODERS.build("audio_resnet_tiny").eval()
    for frames in (9, 37, 301):
        mel = torch.randn(2, 1, 40, frames)
        for encoder in (transformer, davenet, resnet):
            assert encoder(mel).shape == (2, encoder.out_dim)
    with pytest.raises(ValueError, match="n_mels=36 is not a multiple of patch_mels=8"):
        AUDIO_ENCODERS.build("audio_transformer_tiny", n_mels=36)
    with pytest.raises(ValueError, match=r"DAVEnet built for 40 mels got input \(2, 1, 64, 50\)"):
        davenet(torch.randn(2, 1, 64, 50))


def test_sinusoidal_positions_follow_the_formula():
    table = sinusoidal_positions(5, 6)
    for p in range(5):
        for i in range(3):
            angle = p / 10000 ** (2 * i / 6)
            assert table[p, 2 * i].item() == pytest.approx(torch.sin(torch.tensor(angle)).item(),
                                                           abs=1e-6)
            assert table[p, 2 * i + 1].item() == pytest.approx(
                torch.cos(torch.tensor(angle)).item(), abs=1e-6)
