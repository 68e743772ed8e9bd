"""TSM's temporal shift against a per-frame loop, and what it changes in the encoders."""

import pytest
import torch

from mmssl.models import VIDEO_ENCODERS
from mmssl.models.temporal_shift import temporal_shift

pytestmark = pytest.mark.usefixtures("one_thread")


def naive_shift(x, frames, fold_div=8):
    clips = x.view(-1, frames, *x.shape[1:])
    out = torch.zeros_like(clips)
    fold = x.shape[1] // fold_div
    for b in range(clips.shape[0]):
        for t in range(frames):
            for c in range(x.shape[1]):
                if c < fold:
                    out[b, t, c] = clips[b, t + 1, c] if t + 1 < frames else 0
                elif c < 2 * fold:
                    out[b, t, c] = clips[b, t - 1, c] if t > 0 else 0
                else:
                    out[b, t, c] = clips[b, t, c]
    return out.view_as(x)


def test_matches_the_loop_and_rejects_a_bad_batch():
    x = torch.randn(2 * 5, 16, 3, 2)
    torch.testing.assert_close(temporal_shift(x, 5), naive_shift(x, 5), rtol=0, atol=0)
    with pytest.raises(ValueError, match="not a multiple of 4 frames"):
        temporal_shift(x, 4)


def test_tsm_sees_frame_order_and_framewise_does_not():
    """Reversing the frames keeps the set of frames: a frame-wise encoder with a temporal
    mean cannot tell; TSM mixes neighbouring frames inside the network, so it can."""
    clip = torch.randn(1, 3, 6, 32, 32)
    reversed_clip = clip.flip(2)
    for name, order_matters in (("framewise_tiny", False), ("tsm_tiny", True)):
        torch.manual_seed(0)
        encoder = VIDEO_ENCODERS.build(name).eval()
        with torch.no_grad():
            a, b = encoder(clip), encoder(reversed_clip)
        assert torch.allclose(a, b, atol=1e-5) != order_matters, name
