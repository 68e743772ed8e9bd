"""Encoders built from ``config.model`` and started from local files (mmssl.methods.towers)."""

import pytest
import torch
from safetensors.torch import save_file

from mmssl.config import TrainConfig
from mmssl.data.tokenizer import WordTokenizer
from mmssl.methods.towers import build_encoder, build_towers, load_pretrained
from mmssl.models import Tiny3DEncoder, TinyAudioEncoder, WordMaxPoolEncoder
from mmssl.registry import RegistryError

pytestmark = pytest.mark.usefixtures("one_thread")


def test_default_config_builds_the_original_tiny_encoders():
    towers = build_towers(TrainConfig(), 50, ("video", "audio", "text"))
    assert isinstance(towers["video"], Tiny3DEncoder)
    assert isinstance(towers["audio"], TinyAudioEncoder)
    assert isinstance(towers["text"], WordMaxPoolEncoder)
    assert towers["video"].out_dim == 128 and towers["text"].out_dim == 256
    assert not any(key.startswith("text.pretrained") for key in towers.state_dict())


def test_towers_normalise_uint8_video_with_the_model_settings():
    config = TrainConfig()
    config.model.video_mean, config.model.video_std = (0.1, 0.2, 0.3), (0.5, 0.25, 0.125)
    towers = build_towers(config, 50, ("video",))
    video = torch.randint(0, 256, (2, 3, 4, 6, 8), dtype=torch.uint8)
    expected = torch.stack([(video[:, c].double() / 255 - m) / s for c, (m, s) in
                            enumerate(zip((0.1, 0.2, 0.3), (0.5, 0.25, 0.125), strict=True))], 1)
    torch.testing.assert_close(towers.inputs("video", video), expected.float())
    assert torch.equal(towers.encode("video", video),
                       towers["video"](towers.inputs("video", video)))
    # the settings come from the config, not the weights: a checkpoint's keys are unchanged
    assert not any("video_mean" in key or "video_std" in key for key in towers.state_dict())
    config.model.video_mean, config.model.video_std = (0.0,) * 3, (1.0,) * 3  # MIL-NCE: [0, 1]
    unit = build_towers(config, 50, ("video",)).inputs("video", video)
    assert unit.min() >= 0 and unit.max() <= 1
    with pytest.raises(TypeError, match="uint8 frames"):
        towers.encode("video", video.float())


def test_names_widths_and_checkpointing_reach_the_encoder():
    config = TrainConfig()
    config.model.video_encoder, config.model.video_width = "r3d_tiny", 4
    config.model.audio_encoder, config.data.n_mels = "davenet_tiny", 24
    config.model.gradient_checkpointing = True
    video, audio = build_encoder(config, "video"), build_encoder(config, "audio")
    assert video.out_dim == 32 and video.gradient_checkpointing
    assert audio.n_mels == 24 and audio.gradient_checkpointing
    assert audio(torch.randn(2, 1, 24, 30)).shape == (2, audio.out_dim)
    config.model.video_encoder = "r3d_50"
    with pytest.raises(RegistryError, match="unknown video encoder 'r3d_50'; known: .*r3d_18"):
        build_encoder(config, "video")


def test_load_pretrained_from_a_checkpoint_a_file_and_word_vectors(tmp_path):
    config = TrainConfig()
    config.model.video_encoder, config.model.audio_encoder = "s3d_tiny", "audio_resnet_tiny"
    config.model.word_dim = 3
    tokenizer = WordTokenizer.train(["cut the onion", "whisk the eggs"])
    source = build_towers(config, tokenizer.vocab_size, ("video", "audio", "text"))
    # an mmssl checkpoint directory (method weights under towers.<modality>.)
    (tmp_path / "run").mkdir()
    save_file({f"towers.{k}": v.contiguous() for k, v in source.state_dict().items()},
              str(tmp_path / "run" / "model.safetensors"))
    torch.save(source["audio"].state_dict(), tmp_path / "audio.pt")
    (tmp_path / "glove.txt").write_text("onion 1 2 3\nthe 0 0 1\nbanana 5 5 5\n")
    config.model.video_weights = str(tmp_path / "run")
    config.model.audio_weights = str(tmp_path / "audio.pt")
    config.model.word_vectors = str(tmp_path / "glove.txt")

    towers = build_towers(config, tokenizer.vocab_size, ("video", "audio", "text"))
    report = load_pretrained(towers, config, tokenizer.vocabulary())
    for modality in ("video", "audio"):
        for key, value in source[modality].state_dict().items():
            assert torch.equal(towers[modality].state_dict()[key], value), key
    assert report["video_weights"]["ignored"] == [] and "audio_weights" in report
    vocabulary = tokenizer.vocabulary()
    words = len(vocabulary) - 2
    assert report["word_vectors"]["found"] == 2 and report["word_vectors"]["words"] == words
    text = towers["text"]
    assert text.frozen_word_vectors
    onion = torch.tensor([[vocabulary["onion"]]])
    torch.testing.assert_close(text.word_embeddings(onion)[0, 0], torch.tensor([1.0, 2.0, 3.0]))

    config.model.audio_weights = str(tmp_path / "nothing.pt")
    with pytest.raises(FileNotFoundError, match=r"audio encoder weights file .*nothing\.pt"):
        load_pretrained(towers, config, vocabulary)
