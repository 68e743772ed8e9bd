"""Every registered video and audio encoder: forward/backward on tiny inputs with the right
output shape, the same values and gradients with gradient checkpointing, and its weights
back from a local file.

Real-size encoders run here too, on the smallest inputs their strides allow (4×16×16
clips, 8×32×32 for S3D, and 40×32 log-mels); speed belongs to ``benchmarks/encoders.py``.
"""

import pytest
import torch
from safetensors.torch import save_file

from mmssl.models import AUDIO_ENCODERS, VIDEO_ENCODERS
from mmssl.models.weights import load_encoder_weights

VIDEO_INPUT = (2, 3, 4, 16, 16)
S3D_INPUT = (2, 3, 8, 32, 32)  # S3D downsamples by 8 in time and 32 in space
AUDIO_INPUT = (2, 1, 40, 32)
CASES = ([("video", name) for name in VIDEO_ENCODERS.list()]
         + [("audio", name) for name in AUDIO_ENCODERS.list()])

pytestmark = pytest.mark.usefixtures("one_thread")


# Encoders that need a local model directory: the fixture that provides one.
DIRECTORY_FIXTURES = {"clip_video": "tiny_clip_dir"}
CLIP_INPUT = (2, 3, 4, 32, 32)  # the tiny CLIP's 32×32 images


def build(modality, name, request=None):
    registry = VIDEO_ENCODERS if modality == "video" else AUDIO_ENCODERS
    torch.manual_seed(0)
    if name in DIRECTORY_FIXTURES:
        return registry.build(name, path=str(request.getfixturevalue(DIRECTORY_FIXTURES[name])))
    return registry.build(name)


def input_shape(modality, name):
    if modality == "audio":
        return AUDIO_INPUT
    return CLIP_INPUT if name == "clip_video" else S3D_INPUT if "s3d" in name else VIDEO_INPUT


def forward_backward(encoder, x, seed=1):
    """Train-mode output and every parameter's gradient, with the RNG fixed (dropout,
    stochastic depth)."""
    encoder.zero_grad(set_to_none=True)
    torch.manual_seed(seed)
    out = encoder(x)
    (out * torch.linspace(-1, 1, out.shape[1])).sum().backward()
    grads = {name: p.grad.clone() for name, p in encoder.named_parameters()
             if p.grad is not None}
    return out.detach(), grads


def supports_checkpointing(encoder):
    return hasattr(encoder, "gradient_checkpointing")


@pytest.mark.parametrize(("modality", "name"), CASES)
def test_forward_backward_checkpointing_and_weights_round_trip(modality, name, tmp_path,
                                                               request):
    encoder = build(modality, name, request).train()
    shape = input_shape(modality, name)
    x = torch.randn(shape, generator=torch.Generator().manual_seed(2))
    out, grads = forward_backward(encoder, x)
    assert out.shape == (x.shape[0], encoder.out_dim)
    assert torch.isfinite(out).all()
    missing = [n for n, p in encoder.named_parameters() if p.requires_grad and n not in grads]
    assert not missing, f"{name}: parameters without a gradient: {missing[:5]}"
    assert all(torch.isfinite(g).all() for g in grads.values())

    if supports_checkpointing(encoder):
        encoder.gradient_checkpointing = True
        out_ckpt, grads_ckpt = forward_backward(encoder, x)
        encoder.gradient_checkpointing = False
        torch.testing.assert_close(out_ckpt, out, rtol=1e-4, atol=1e-5)
        assert grads_ckpt.keys() == grads.keys()
        for key in grads:
            torch.testing.assert_close(grads_ckpt[key], grads[key], rtol=1e-3, atol=1e-5,
                                       msg=lambda m, key=key: f"{name} {key}: {m}")
    else:
        assert name in ("tiny3d", "tiny_audio")  # the two original tiny encoders only

    encoder.eval()
    with torch.no_grad():
        before = encoder(x)
    path = tmp_path / f"{name}.safetensors"
    save_file({k: v.contiguous() for k, v in encoder.state_dict().items()}, str(path))
    with torch.no_grad():
        for tensor in encoder.state_dict().values():
            if tensor.is_floating_point():
                tensor.zero_()
    assert load_encoder_weights(encoder, path, modality) == []
    with torch.no_grad():
        torch.testing.assert_close(encoder(x), before)
