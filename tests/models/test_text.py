"""WordMaxPoolEncoder against a per-word loop reference, plus padding/order invariance."""

import torch

from mmssl.models import TEXT_ENCODERS, WordMaxPoolEncoder

VOCAB = 50


def naive_maxpool(model, tokens):
    """out[b] = max over non-padding words of ReLU(W·E[x] + c); zeros when none."""
    rows = []
    for sentence in tokens.tolist():
        best = torch.zeros(model.out_dim)
        for word in sentence:
            if word != 0:
                h = torch.relu(model.fc(model.embed.weight[word]))
                best = torch.maximum(best, h)
        rows.append(best)
    return torch.stack(rows)


def make_model():
    torch.manual_seed(0)
    return WordMaxPoolEncoder(vocab_size=VOCAB, word_dim=16, width=24)


def test_registered_and_matches_reference():
    model = TEXT_ENCODERS.build("word_maxpool", vocab_size=VOCAB, word_dim=16, width=24)
    assert isinstance(model, WordMaxPoolEncoder) and model.out_dim == 24
    tokens = torch.tensor([[3, 7, 9, 0, 0], [1, 2, 3, 4, 5], [0, 0, 0, 0, 0]])
    out = model(tokens)
    assert out.shape == (3, 24)
    with torch.no_grad():
        assert torch.allclose(out, naive_maxpool(model, tokens), atol=1e-6)


def test_empty_sentence_gives_zeros():
    model = make_model()
    out = model(torch.zeros(2, 6, dtype=torch.long))
    assert torch.equal(out, torch.zeros(2, 24))
    assert model(torch.zeros(2, 0, dtype=torch.long)).shape == (2, 24)


def test_padding_is_ignored():
    model = make_model()
    tokens = torch.tensor([[5, 11, 42, 8]])
    base = model(tokens)
    # appended padding, and padding in between the words
    assert torch.allclose(model(torch.tensor([[5, 11, 42, 8, 0, 0, 0]])), base)
    assert torch.allclose(model(torch.tensor([[0, 5, 0, 11, 42, 0, 8]])), base)
    # even if the padding row of the embedding were non-zero, masked positions are ignored
    with torch.no_grad():
        model.embed.weight[0].fill_(10.0)
    assert torch.allclose(model(torch.tensor([[5, 11, 42, 8, 0, 0]])), base)


def test_word_order_does_not_matter():
    model = make_model()
    tokens = torch.tensor([[5, 11, 42, 8, 0], [30, 2, 0, 0, 0]])
    shuffled = torch.tensor([[8, 42, 5, 11, 0], [0, 2, 0, 30, 0]])
    assert torch.allclose(model(tokens), model(shuffled))


def test_every_parameter_gets_a_gradient():
    model = make_model()
    tokens = torch.randint(1, VOCAB, (8, 6))
    tokens[:, 4:] = 0
    model(tokens).pow(2).sum().backward()
    for name, param in model.named_parameters():
        assert param.grad is not None, name
        assert torch.isfinite(param.grad).all(), name
        assert param.grad.abs().sum() > 0, name
    assert torch.equal(model.embed.weight.grad[0], torch.zeros(16))  # padding row never learns
