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
    """

    def __init__(self, vocab_size: int, word_dim: int = 128, width: int = 256) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size, word_dim, padding_idx=0)
        self.fc = nn.Linear(word_dim, width)
        self.out_dim = width

    def forward(self, tokens: Tensor) -> Tensor:
        """``(B, L)`` long -> ``(B, width)``."""
        if tokens.shape[1] == 0:  # amax over an empty dim would raise
            return self.fc.weight.new_zeros(tokens.shape[0], self.out_dim)
        words = torch.relu(self.fc(self.embed(tokens)))  # (B, L, width)
        valid = (tokens != 0).unsqueeze(-1)
        return words.masked_fill(~valid, 0.0).amax(dim=1)
