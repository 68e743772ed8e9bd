"""ResDavenet (AVLnet's audio network): the mean over time, masked to the real length at
evaluation as AVLnet's Net.forward does; the unused input BatchNorm stays frozen."""

import pytest
import torch

from mmssl.models import AUDIO_ENCODERS

pytestmark = pytest.mark.usefixtures("one_thread")


def test_masked_mean_over_the_real_output_frames():
    torch.manual_seed(0)
    encoder = AUDIO_ENCODERS.build("resdavenet_tiny", width=4).eval()
    mel = torch.randn(3, 1, 40, 160)
    lengths = torch.tensor([160, 64, 3])
    with torch.no_grad():
        frames = encoder.layer4(encoder.layer3(encoder.layer2(encoder.layer1(
            encoder.stem(mel))))).squeeze(2)  # (B, C, T')
        ratio = round(160 / frames.shape[2])
        expected = torch.stack([frames[i, :, :max(1, int(n) // ratio)].mean(1)
                                for i, n in enumerate(lengths)])
        torch.testing.assert_close(encoder(mel, lengths), expected)
        torch.testing.assert_close(encoder(mel), frames.mean(2))  # training: every frame
    assert ratio == 16 and not encoder.batchnorm1.weight.requires_grad


def test_the_released_widths():
    encoder = AUDIO_ENCODERS.build("resdavenet")
    assert encoder.out_dim == 1024 and encoder.conv1.weight.shape == (128, 1, 40, 1)
    assert [encoder.layer4[0].conv1.weight.shape[0], len(encoder.layer1)] == [1024, 2]
