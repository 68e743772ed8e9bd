"""TinyAudioEncoder: shapes, gradients, and sensitivity to frequency position and glides."""

import torch

from mmssl.models import AUDIO_ENCODERS, TinyAudioEncoder


def tone(row, n_mels=40, frames=32):
    """(1, n_mels, frames) log-mel with one bright band at mel bin ``row``."""
    mel = torch.full((1, n_mels, frames), -4.0)
    mel[0, row] = 4.0
    return mel


def glide(n_mels=40, frames=32, low=8, high=30):
    """(1, n_mels, frames) log-mel with a band rising from bin ``low`` to bin ``high``."""
    mel = torch.full((1, n_mels, frames), -4.0)
    rows = torch.linspace(low, high, frames).round().long()
    mel[0, rows, torch.arange(frames)] = 4.0
    return mel


def relative_distance(a, b):
    return ((a - b).norm() / (0.5 * (a.norm() + b.norm()))).item()


def test_registered_and_output_shape():
    model = AUDIO_ENCODERS.build("tiny_audio", width=8, n_mels=40)
    assert isinstance(model, TinyAudioEncoder)
    out = model(torch.randn(2, 1, 40, 101))
    assert out.shape == (2, model.out_dim) and model.out_dim == 32
    assert torch.isfinite(out).all()


def test_other_mel_counts_and_lengths():
    model = TinyAudioEncoder(width=4, n_mels=23).eval()
    assert model(torch.randn(3, 1, 23, 17)).shape == (3, 16)
    assert model(torch.randn(1, 1, 23, 200)).shape == (1, 16)


def test_every_parameter_gets_a_gradient():
    torch.manual_seed(0)
    model = TinyAudioEncoder(width=8, n_mels=40).train()
    model(torch.randn(4, 1, 40, 50)).pow(2).sum().backward()
    for name, param in model.named_parameters():
        assert param.grad is not None, name
        assert torch.isfinite(param.grad).all(), name
        assert param.grad.abs().sum() > 0, name


def test_output_depends_on_frequency_position():
    """A tone moved by exactly the conv stack's total stride.

    The conv features are translation-equivariant in frequency, so pooling them over
    frequency could not see this shift (checked as a control); the encoder must.
    """
    torch.manual_seed(0)
    model = TinyAudioEncoder(width=8, n_mels=40).eval()
    stride = 2 ** len(model.features)
    tones = torch.stack([tone(12), tone(12 + stride)])
    with torch.no_grad():
        low, high = model(tones)
        pooled = model.features(model.input_norm(tones)).mean(dim=(2, 3))
    assert torch.allclose(pooled[0], pooled[1], atol=1e-5)
    assert relative_distance(low, high) > 0.05


def test_rising_and_falling_glides_differ():
    torch.manual_seed(0)
    model = TinyAudioEncoder(width=8, n_mels=40).eval()
    rising = glide()
    with torch.no_grad():
        up, down = model(torch.stack([rising, rising.flip(2)]))
    assert relative_distance(up, down) > 0.01
