"""MIL-NCE's text tower against its formula: the max over *all* positions, padding (row 0
of the embedding, an ordinary vector) included; frozen word vectors."""

import torch

from mmssl.models import TEXT_ENCODERS


def test_max_over_every_position_padding_included():
    torch.manual_seed(0)
    encoder = TEXT_ENCODERS.build("milnce_text", vocab_size=20, word_dim=6, width=5)
    tokens = torch.tensor([[3, 4, 0, 0], [5, 5, 5, 5], [0, 0, 0, 0]])
    rows = []
    for sentence in tokens.tolist():
        words = [torch.relu(encoder.fc1(encoder.word_embd.weight[w])) for w in sentence]
        rows.append(torch.stack(words).amax(0))
    torch.testing.assert_close(encoder(tokens), torch.stack(rows))
    # padding counts: the same words with more padding can only score higher or equal
    assert not torch.equal(encoder(tokens[:1, :2]), encoder(tokens[:1]))


def test_word_vectors_are_frozen_unless_asked_otherwise():
    frozen = TEXT_ENCODERS.build("milnce_text", vocab_size=10, word_dim=4, width=3)
    assert not frozen.word_embd.weight.requires_grad and frozen.fc1.weight.requires_grad
    vectors, found = torch.randn(10, 4), torch.zeros(10, dtype=torch.bool)
    found[[2, 5]] = True
    before = frozen.word_embd.weight.clone()
    frozen.set_word_vectors(vectors, found)
    torch.testing.assert_close(frozen.word_embd.weight[found], vectors[found])
    torch.testing.assert_close(frozen.word_embd.weight[~found], before[~found])
    trained = TEXT_ENCODERS.build("milnce_text", vocab_size=10, word_dim=4, width=3,
                                  frozen_word_vectors=False)
    assert trained.word_embd.weight.requires_grad
