"""Pretrained word vectors from GloVe / word2vec text files into the word max-pool encoder."""

import pytest
import torch

from mmssl.models import WordMaxPoolEncoder
from mmssl.models.word_vectors import read_word_vectors

VOCAB = {"[PAD]": 0, "[UNK]": 1, "cut": 2, "the": 3, "onion": 4, "zesty": 5}

pytestmark = pytest.mark.usefixtures("one_thread")


def write_glove(path, rows):
    path.write_text("".join(f"{word} {' '.join(f'{v:.6f}' for v in values)}\n"
                            for word, values in rows))
    return path


def test_glove_and_word2vec_files_give_the_same_vectors(tmp_path):
    rows = [("The", [9.0, 9.0, 9.0]), ("the", [1.0, 2.0, 3.0]), ("cut", [0.5, -0.5, 0.25]),
            ("Onion", [4.0, 5.0, 6.0]), ("unrelated", [7.0, 7.0, 7.0])]
    glove = write_glove(tmp_path / "glove.6B.3d.txt", rows)
    word2vec = tmp_path / "vectors.w2v.txt"
    word2vec.write_text(f"{len(rows)} 3\n" + glove.read_text())
    for path in (glove, word2vec):
        words = read_word_vectors(path, VOCAB, dim=3)
        assert words.found.tolist() == [False, False, True, True, True, False]
        # the exact lower-case entry wins over "The"; "Onion" is used for "onion"
        torch.testing.assert_close(words.vectors[3], torch.tensor([1.0, 2.0, 3.0]))
        torch.testing.assert_close(words.vectors[4], torch.tensor([4.0, 5.0, 6.0]))
        torch.testing.assert_close(words.vectors[2], torch.tensor([0.5, -0.5, 0.25]))
        assert words.coverage() == {"path": str(path), "words": 4, "found": 3,
                                    "coverage": 0.75}


def test_bad_files_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"word vectors file .*missing\.txt"):
        read_word_vectors(tmp_path / "missing.txt", VOCAB, dim=3)
    wrong_dim = write_glove(tmp_path / "glove.4d.txt", [("cut", [1.0, 2.0, 3.0, 4.0])])
    with pytest.raises(ValueError, match=r"glove\.4d\.txt: line 1: expected a word and 3"):
        read_word_vectors(wrong_dim, VOCAB, dim=3)
    header = tmp_path / "w2v.txt"
    header.write_text("1 4\ncut 1 2 3 4\n")
    with pytest.raises(ValueError, match=r"w2v\.txt: header says 4-d"):
        read_word_vectors(header, VOCAB, dim=3)
    not_a_number = tmp_path / "nan.txt"
    not_a_number.write_text("onion 1 2 3\ncut 1 x 3\n")
    with pytest.raises(ValueError, match=r"nan\.txt: line 2"):
        read_word_vectors(not_a_number, VOCAB, dim=3)


def make_encoder(frozen):
    torch.manual_seed(0)
    return WordMaxPoolEncoder(vocab_size=len(VOCAB), word_dim=3, width=8,
                              frozen_word_vectors=frozen)


def test_frozen_vectors_stay_and_missing_words_learn(tmp_path):
    words = read_word_vectors(write_glove(tmp_path / "g.txt", [("cut", [1.0, 0.0, -1.0]),
                                                               ("onion", [0.0, 2.0, 0.0])]),
                              VOCAB, dim=3)
    encoder = make_encoder(frozen=True)
    encoder.set_word_vectors(words.vectors, words.found)
    tokens = torch.tensor([[2, 4, 5, 0], [5, 3, 0, 0]])
    torch.testing.assert_close(encoder.word_embeddings(tokens)[0, :2], words.vectors[[2, 4]])
    optimizer = torch.optim.SGD(encoder.parameters(), lr=1.0)
    encoder(tokens).sum().backward()
    optimizer.step()
    torch.testing.assert_close(encoder.word_embeddings(tokens)[0, :2], words.vectors[[2, 4]])
    assert encoder.embed.weight.grad[5].abs().sum() > 0  # "zesty" is not in the file
    assert encoder.embed.weight.grad[[2, 4]].abs().sum() == 0
    # the frozen vectors travel with the weights
    restored = make_encoder(frozen=True)
    restored.load_state_dict(encoder.state_dict())
    torch.testing.assert_close(restored(tokens), encoder(tokens))


def test_unfrozen_vectors_only_initialise(tmp_path):
    words = read_word_vectors(write_glove(tmp_path / "g.txt", [("cut", [1.0, 0.0, -1.0])]),
                              VOCAB, dim=3)
    encoder = make_encoder(frozen=False)
    before = encoder.embed.weight.detach().clone()
    encoder.set_word_vectors(words.vectors, words.found)
    torch.testing.assert_close(encoder.embed.weight[2].detach(), torch.tensor([1.0, 0.0, -1.0]))
    torch.testing.assert_close(encoder.embed.weight[3:].detach(), before[3:])
    assert "pretrained" not in encoder.state_dict()  # the default layout is unchanged
    encoder(torch.tensor([[2, 3]])).sum().backward()
    assert encoder.embed.weight.grad[2].abs().sum() > 0
