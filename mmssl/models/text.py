"""Word-embedding + max-pool sentence encoder (the MIL-NCE / MMV text branch)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from mmssl.models.registries import TEXT_ENCODERS


@TEXT_ENCODERS.register("word_maxpool")
class WordMaxPoolEncoder(nn.Module):
    """Embed each word, a shared Linear+ReLU, then max-pool over the sentence's words.

    References:
        Miech, Alayrac, Smaira, Laptev, Sivic & Zisserman, "End-to-End Learning of Visual
        Representations from Uncurated Instructional Videos", CVPR 2020 (MIL-NCE): word2vec
        embeddings → linear layer + ReLU → max-pool over words.
        Alayrac et al., "Self-Supervised MultiModal Versatile Networks", NeurIPS 2020 (MMV):
        the same bag-of-words max-pool text branch.

    For token ids x (B, L), with id 0 the padding and V_b = {l : x[b, l] != 0}::

        h[b, l] = ReLU(W · E[x[b, l]] + c)           (B, L, width)
        out[b]  = max_{l ∈ V_b} h[b, l]              (B, width)

    A row with no valid word gives zeros (not -inf). Because every h ≥ 0 after the ReLU,
    masking padded positions to 0 before the max gives exactly the max over V_b. The result
    ignores word order and padding.

    Input:  ``(B, L)`` long token ids, 0 = padding.
    Output: ``(B, width)``; ``out_dim = width``.

    Pretrained word vectors (MIL-NCE used frozen word2vec): :meth:`set_word_vectors` copies
    them into ``E``. With ``frozen_word_vectors=True`` the rows the file gave are kept in
    the buffers ``pretrained`` / ``from_file`` and never trained (they are saved with the
    model), while words the file lacks keep a trained, randomly initialised row::

        E[w] = pretrained[w] if from_file[w] else learned[w]
    """

    def __init__(self, vocab_size: int, word_dim: int = 128, width: int = 256,
                 frozen_word_vectors: bool = False) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size, word_dim, padding_idx=0)
        self.fc = nn.Linear(word_dim, width)
        self.out_dim = width
        self.frozen_word_vectors = frozen_word_vectors
        if frozen_word_vectors:
            self.register_buffer("pretrained", torch.zeros(vocab_size, word_dim))
            self.register_buffer("from_file", torch.zeros(vocab_size, dtype=torch.bool))

    @torch.no_grad()
    def set_word_vectors(self, vectors: Tensor, found: Tensor) -> None:
        """Rows ``found`` (V,) of ``vectors`` (V, word_dim) become those words' embeddings
        (frozen if built with ``frozen_word_vectors``); row 0 (padding) is never set."""
        if vectors.shape != self.embed.weight.shape or found.shape != vectors.shape[:1]:
            raise ValueError(f"word vectors {tuple(vectors.shape)} (found "
                             f"{tuple(found.shape)}) do not fit the embedding "
                             f"{tuple(self.embed.weight.shape)}")
        found = found.clone()
        found[0] = False
        if self.frozen_word_vectors:
            self.pretrained.copy_(torch.where(found[:, None], vectors, 0.0))
            self.from_file.copy_(found)
        else:
            self.embed.weight[found] = vectors[found].to(self.embed.weight.dtype)

    def word_embeddings(self, tokens: Tensor) -> Tensor:
        """``(B, L)`` ids -> ``(B, L, word_dim)`` rows of E."""
        learned = self.embed(tokens)
        if not self.frozen_word_vectors:
            return learned
        return torch.where(self.from_file[tokens].unsqueeze(-1),
                           self.pretrained[tokens].to(learned.dtype), learned)

    def forward(self, tokens: Tensor) -> Tensor:
        """``(B, L)`` long -> ``(B, width)``."""
        if tokens.shape[1] == 0:  # amax over an empty dim would raise
            return self.fc.weight.new_zeros(tokens.shape[0], self.out_dim)
        words = torch.relu(self.fc(self.word_embeddings(tokens)))  # (B, L, width)
        valid = (tokens != 0).unsqueeze(-1)
        return words.masked_fill(~valid, 0.0).amax(dim=1)
