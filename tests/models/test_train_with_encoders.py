"""A few training steps on the tiny synthetic shards with non-default encoders chosen in
the config: the run's tokenizer is the HF directory's, pretrained word vectors and
weights files start the towers, and the checkpoint loads back for evaluation."""

import pytest
import torch

from mmssl.checkpoint import load_checkpoint
from mmssl.config import TrainConfig, load_config
from mmssl.data.tokenizer import SubwordTokenizer, WordTokenizer
from mmssl.methods.towers import build_encoder
from mmssl.train import narration_texts, train

pytestmark = [pytest.mark.usefixtures("one_thread"), pytest.mark.slow]


def tiny_config(shards, out, **model) -> TrainConfig:
    overrides = {"data.shards": shards, "output_dir": out, "data.batch_size": 4,
                 "data.num_workers": 0, "data.shuffle_buffer": 4, "data.clips_per_sample": 2,
                 "optim.max_steps": 2, "optim.warmup_steps": 1, "log_every": 1,
                 "checkpoint_every": 0, "tensorboard": False, "threads": 1,
                 **{f"model.{key}": value for key, value in model.items()}}
    return load_config(TrainConfig, None, [f"--{k}={v}" for k, v in overrides.items()])


def test_mmv_with_s3d_davenet_and_a_huggingface_text_encoder(tiny_shards, tiny_bert_dir,
                                                             tmp_path):
    out = tmp_path / "run"
    config = tiny_config(tiny_shards["howto100m"], out, video_encoder="s3d_tiny",
                         audio_encoder="davenet_tiny", text_encoder="hf",
                         hf_text_dir=str(tiny_bert_dir), gradient_checkpointing=True)
    method, _, tokenizer = load_checkpoint(train(config, progress=False))
    assert isinstance(tokenizer, SubwordTokenizer)
    assert type(method.towers["video"].features[5]).__name__ == "SepInceptionBlock3D"
    text = method.embed("text", tokenizer(["cut the onion"], 8))
    assert text["vt"].shape == (1, config.model.vat_dim) and torch.isfinite(text["vt"]).all()


def test_word_vectors_and_a_weights_file_start_the_run(tiny_shards, tmp_path):
    start = TrainConfig()
    start.model.video_encoder = "r3d_tiny"
    torch.manual_seed(5)
    video = build_encoder(start, "video")
    torch.save(video.state_dict(), tmp_path / "video.pt")
    first, second = next(narration_texts([str(tiny_shards["howto100m"])])).lower().split()[:2]
    vectors = tmp_path / "vectors.txt"
    vectors.write_text(f"2 4\n{first} 1 0 0 0\n{second} 0 1 0 0\n")  # word2vec text format
    out = tmp_path / "run"
    config = tiny_config(tiny_shards["howto100m"], out, video_encoder="r3d_tiny",
                         video_weights=str(tmp_path / "video.pt"), word_vectors=str(vectors),
                         word_dim=4)
    config.optim.max_steps = 0  # the saved model is exactly the initialisation
    method, _, tokenizer = load_checkpoint(train(config, progress=False))
    assert isinstance(tokenizer, WordTokenizer)
    for key, value in video.state_dict().items():
        assert torch.equal(method.towers["video"].state_dict()[key], value), key
    text = method.towers["text"]
    word = torch.tensor([[tokenizer.vocabulary()[first]]])
    torch.testing.assert_close(text.word_embeddings(word)[0, 0], torch.tensor([1.0, 0, 0, 0]))
    assert text.from_file.sum() == (2 if first != second else 1)
