"""The HuggingFace text encoder and its tokenizer, on a tiny BERT written to a local
directory with ``save_pretrained`` and a WordPiece tokenizer trained with ``tokenizers``."""

import pytest
import torch
from tokenizers import Tokenizer

from mmssl.config import TrainConfig
from mmssl.data.tokenizer import SubwordTokenizer, build_tokenizer, load_tokenizer
from mmssl.methods.towers import build_encoder
from mmssl.models import TEXT_ENCODERS
from mmssl.models.hf_text import HFTextEncoder

CORPUS = ["cut the onion into small pieces", "whisk the eggs with sugar",
          "fry the onion until golden", "a small red ball rolls left", "the whistle sounds"]


@pytest.fixture
def hf_dir(tiny_bert_dir):
    return tiny_bert_dir

pytestmark = pytest.mark.usefixtures("one_thread")


def test_tokenizer_shifts_ids_keeps_special_tokens_and_round_trips(hf_dir, tmp_path):
    tokenizer = SubwordTokenizer.from_directory(hf_dir)
    raw = Tokenizer.from_file(str(hf_dir / "tokenizer.json"))
    ids = tokenizer(["cut the onion", "whisk the eggs with sugar until golden"], max_words=6)
    assert ids.shape == (2, 6) and ids.dtype == torch.long
    expected = raw.encode("cut the onion").ids
    assert ids[0, :len(expected)].tolist() == [i + 1 for i in expected]
    assert (ids[0, len(expected):] == 0).all()
    assert ids[1, 0] == raw.token_to_id("[CLS]") + 1  # truncated, [CLS] ... [SEP] kept
    assert ids[1, -1] == raw.token_to_id("[SEP]") + 1
    assert tokenizer.vocab_size == raw.get_vocab_size() + 1
    tokenizer.save(tmp_path / "tokenizer.json")
    config = TrainConfig()
    config.model.hf_text_dir = str(hf_dir)
    again = load_tokenizer(tmp_path / "tokenizer.json", config.model)
    assert torch.equal(again(["cut the onion"], 6), ids[:1])
    assert isinstance(build_tokenizer(config.model, iter(())), SubwordTokenizer)


def reference_mean(encoder, tokens):
    """Mean of the model's last hidden states over the real tokens, one row at a time."""
    rows = []
    for row in tokens:
        ids = row[row != 0] - 1
        hidden = encoder.model(input_ids=ids[None]).last_hidden_state[0]
        rows.append(hidden.mean(0))
    return torch.stack(rows)


def test_mean_and_cls_pooling(hf_dir):
    tokenizer = SubwordTokenizer.from_directory(hf_dir)
    tokens = tokenizer(["cut the onion", "fry the onion until golden", ""], max_words=10)
    encoder = TEXT_ENCODERS.build("hf", path=str(hf_dir)).eval()
    with torch.no_grad():
        out = encoder(tokens)
        assert out.shape == (3, 32) and encoder.out_dim == 32
        torch.testing.assert_close(out[:2], reference_mean(encoder, tokens[:2]),
                                   rtol=1e-4, atol=1e-5)
        # trailing padding changes nothing; a row with no token at all gives zeros
        padded = torch.cat([tokens, torch.zeros(3, 5, dtype=torch.long)], dim=1)
        torch.testing.assert_close(encoder(padded), out, rtol=1e-4, atol=1e-5)
        assert torch.equal(encoder(torch.zeros(2, 4, dtype=torch.long)), torch.zeros(2, 32))
        cls = HFTextEncoder(str(hf_dir), pooling="cls").eval()
        real = tokens[0][tokens[0] != 0] - 1
        first = cls.model(input_ids=real[None]).last_hidden_state[:, 0]
        torch.testing.assert_close(cls(tokens[:1]), first, rtol=1e-4, atol=1e-5)


def test_checkpointing_freezing_and_config(hf_dir):
    tokens = SubwordTokenizer.from_directory(hf_dir)(CORPUS, max_words=8)
    encoder = HFTextEncoder(str(hf_dir)).train()
    results = []
    for checkpointing in (False, True):
        encoder.gradient_checkpointing = checkpointing
        encoder.zero_grad()
        out = encoder(tokens)
        out.pow(2).sum().backward()
        results.append((out.detach(), {n: p.grad.clone() for n, p in encoder.named_parameters()
                                       if p.grad is not None}))
    torch.testing.assert_close(results[1][0], results[0][0])
    for name, grad in results[0][1].items():
        torch.testing.assert_close(results[1][1][name], grad, rtol=1e-4, atol=1e-6)

    config = TrainConfig()
    config.model.text_encoder, config.model.hf_text_dir = "hf", str(hf_dir)
    config.model.freeze_text, config.model.text_pooling = True, "cls"
    frozen = build_encoder(config, "text", vocab_size=0).train()
    assert frozen.pooling == "cls" and not frozen.model.training
    assert not any(p.requires_grad for p in frozen.parameters())
    config.model.text_encoder = "word_maxpool"
    with pytest.raises(ValueError, match=r"'word_maxpool' does not take \['freeze', 'path', "):
        build_encoder(config, "text", vocab_size=10)


def test_missing_directory_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nowhere"):
        HFTextEncoder(str(tmp_path / "nowhere"))
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(FileNotFoundError, match=r"no weights in .*model\.safetensors"):
        HFTextEncoder(str(tmp_path))
