"""S3D-G's parts against their formulas: self-gating, TF "SAME" max-pooling,
space-to-depth, and the stems' strides (the whole network against MIL-NCE's released
names: tests/convert/test_milnce.py)."""

import math

import pytest
import torch

from mmssl.models import VIDEO_ENCODERS
from mmssl.models.s3dg import SelfGating, TFSamePool3d, space_to_depth

pytestmark = pytest.mark.usefixtures("one_thread")


def test_self_gating_scales_each_channel_by_a_sigmoid_of_its_mean():
    torch.manual_seed(0)
    gate = SelfGating(4)
    x = torch.randn(2, 4, 3, 5, 5)
    weights = torch.sigmoid(x.mean(dim=(2, 3, 4)) @ gate.fc.weight.T + gate.fc.bias)
    torch.testing.assert_close(gate(x), x * weights[:, :, None, None, None])


def tf_same_max_pool(x, kernel, stride):
    """TensorFlow's "SAME" max-pool, window by window: ceil(L/s) outputs per axis, padding
    max((out−1)·s + k − L, 0) split floor-half before (inputs are ≥ 0, as after a ReLU)."""
    sizes = x.shape[2:]
    outs = [math.ceil(n / s) for n, s in zip(sizes, stride, strict=True)]
    before = [max((o - 1) * s + k - n, 0) // 2
              for o, s, k, n in zip(outs, stride, kernel, sizes, strict=True)]
    out = torch.empty(*x.shape[:2], *outs)
    for t in range(outs[0]):
        for h in range(outs[1]):
            for w in range(outs[2]):
                lo = [i * s - b for i, s, b in zip((t, h, w), stride, before, strict=True)]
                window = x[:, :, max(lo[0], 0):lo[0] + kernel[0], max(lo[1], 0):lo[1] + kernel[1],
                           max(lo[2], 0):lo[2] + kernel[2]]
                out[:, :, t, h, w] = window.amax(dim=(2, 3, 4))
    return out


@pytest.mark.parametrize(("kernel", "stride", "shape"), [
    ((1, 3, 3), (1, 2, 2), (4, 6, 6)), ((3, 3, 3), (2, 2, 2), (4, 8, 8)),
    ((2, 2, 2), (2, 2, 2), (2, 4, 4)),
])
def test_tf_same_pool_equals_tensorflow_same_padding(kernel, stride, shape):
    x = torch.rand(2, 3, *shape, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(TFSamePool3d(kernel, stride)(x), tf_same_max_pool(x, kernel,
                                                                                 stride))


def test_space_to_depth_channel_order():
    x = torch.randn(2, 3, 4, 6, 8)
    y = space_to_depth(x)
    assert y.shape == (2, 24, 2, 3, 4)
    for dt in range(2):
        for dh in range(2):
            for dw in range(2):
                for c in range(3):
                    torch.testing.assert_close(y[:, (dt * 4 + dh * 2 + dw) * 3 + c],
                                               x[:, c, dt::2, dh::2, dw::2])
    with pytest.raises(ValueError, match="even number of frames"):
        space_to_depth(torch.zeros(1, 3, 3, 4, 4))


@pytest.mark.parametrize("name", ["s3dg", "s3dg_conv7"])
def test_both_stems_halve_time_and_space_once(name):
    """Either stem maps 8×32×32 to 4×16×16 (before maxpool_2a), so both networks end in
    1024 channels over 1×1×1 for that input."""
    encoder = VIDEO_ENCODERS.build(name).eval()
    with torch.no_grad():
        video = torch.rand(1, 3, 8, 32, 32)
        stem = (encoder.conv1(space_to_depth(video))[:, :, 1:, 1:, 1:] if name == "s3dg"
                else encoder.conv1(video))
        assert stem.shape == (1, 64, 4, 16, 16)
        assert encoder(video).shape == (1, 1024)
