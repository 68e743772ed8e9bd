"""torchvision state dicts (what its Kinetics / ImageNet downloads contain) load into our
encoders: same parameter names and shapes, and the same features as torchvision's own
network without its classifier."""

import pytest
import torch
from torch import nn
from torchvision.models import resnet18, resnet50
from torchvision.models.video import mc3_18, r2plus1d_18, s3d, swin3d_t

from mmssl.models import AUDIO_ENCODERS, VIDEO_ENCODERS
from mmssl.models.weights import load_encoder_weights

HEADS = ("fc.", "head.", "classifier.")


@pytest.mark.parametrize(("ours", "theirs"), [
    ("r2plus1d_18", r2plus1d_18), ("s3d", s3d), ("swin3d_t", swin3d_t),
    ("tsm_resnet50", resnet50),
])
def test_same_parameter_names_and_shapes(ours, theirs, tmp_path):
    reference = {k: v.shape for k, v in theirs().state_dict().items()
                 if not k.startswith(HEADS)}
    encoder = VIDEO_ENCODERS.build(ours)
    target = getattr(encoder, "backbone", None) or encoder.features
    prefix = "" if hasattr(encoder, "backbone") else "features."
    mine = {prefix + k: v.shape for k, v in target.state_dict().items()}
    assert mine == reference

pytestmark = pytest.mark.usefixtures("one_thread")


def test_mc3_features_equal_torchvision(tmp_path):
    torch.manual_seed(0)
    network = mc3_18().eval()
    torch.save(network.state_dict(), tmp_path / "mc3_18-a90a0ba3.pth")
    encoder = VIDEO_ENCODERS.build("mc3_18")
    ignored = load_encoder_weights(encoder, tmp_path / "mc3_18-a90a0ba3.pth", "video")
    assert ignored == ["fc.bias", "fc.weight"]
    network.fc = nn.Identity()
    clip = torch.randn(2, 3, 4, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(encoder.eval()(clip), network(clip), rtol=1e-4, atol=1e-5)


def test_imagenet_resnet_starts_the_audio_resnet(tmp_path):
    """RGB first-layer kernels summed over colour: a grey image through torchvision's
    network equals the one-channel spectrogram through ours (input BatchNorm at its
    initial identity, up to its eps)."""
    torch.manual_seed(0)
    network = resnet18().eval()
    torch.save({"state_dict": network.state_dict()}, tmp_path / "resnet18.pth")
    encoder = AUDIO_ENCODERS.build("audio_resnet18")
    assert load_encoder_weights(encoder, tmp_path / "resnet18.pth", "audio") == [
        "fc.bias", "fc.weight"]
    network.fc = nn.Identity()
    mel = torch.randn(2, 1, 40, 64)
    with torch.no_grad():
        torch.testing.assert_close(encoder.eval()(mel), network(mel.expand(-1, 3, -1, -1)),
                                   rtol=1e-3, atol=1e-4)


def test_missing_file_and_wrong_weights_are_named(tmp_path):
    encoder = VIDEO_ENCODERS.build("r3d_tiny")
    with pytest.raises(FileNotFoundError, match=r"video encoder weights file .*r3d_18\.pth"):
        load_encoder_weights(encoder, tmp_path / "r3d_18.pth", "video")
    with pytest.raises(FileNotFoundError, match="model.safetensors"):
        load_encoder_weights(encoder, tmp_path, "video")
    torch.save(VIDEO_ENCODERS.build("mc3_tiny").state_dict(), tmp_path / "mc3.pt")
    with pytest.raises(ValueError, match=r"mc3\.pt: .* has shape"):
        load_encoder_weights(encoder, tmp_path / "mc3.pt", "video")
    torch.save({"stem.0.weight": torch.zeros(1)}, tmp_path / "partial.pt")
    with pytest.raises(ValueError, match=r"partial\.pt: \d+ weights .* are missing"):
        load_encoder_weights(encoder, tmp_path / "partial.pt", "video")
