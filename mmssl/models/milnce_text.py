"""MIL-NCE's text tower as released (``text_module`` of ``s3d_howto100m.pth``).

Miech et al., CVPR 2020: frozen word2vec vectors, a 2048-d linear layer with ReLU, a max
over the sentence, then the 512-d projection into the joint space (``fc2``, which mmssl
keeps among the method's heads). For token ids x (B, L) — L = ``max_words``, 0 the
padding::

    h[b, l] = ReLU(W₁ · E[x[b, l]] + c₁)        (B, L, width)
    out[b]  = max_l h[b, l]                      (B, width), over *all* L positions

Unlike :class:`~mmssl.models.text.WordMaxPoolEncoder`, padding is not masked out: row 0 of
E is an ordinary vector, and the reference takes the max over every position, so a
sentence shorter than ``max_words`` also sees ReLU(W₁·E[0] + c₁). Its output therefore
depends on ``max_words`` (MIL-NCE evaluates YouCook2 with 30, trains with 20), which the
converted checkpoint records. E is frozen (the reference embeds words under
``torch.no_grad()``) unless built with ``frozen_word_vectors=False``.

Parameter names are the released ones without ``text_module.``: ``word_embd``, ``fc1``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from mmssl.models.registries import TEXT_ENCODERS


@TEXT_ENCODERS.register("milnce_text")
class MILNCETextEncoder(nn.Module):
    """Input ``(B, L)`` long token ids; output ``(B, width)``; ``out_dim = width``."""

    def __init__(self, vocab_size: int, word_dim: int = 300, width: int = 2048,
                 frozen_word_vectors: bool = True) -> None:
        super().__init__()
        self.word_embd = nn.Embedding(vocab_size, word_dim)
        self.word_embd.weight.requires_grad_(not frozen_word_vectors)
        self.fc1 = nn.Linear(word_dim, width)
        self.out_dim = width

    @property
    def embed(self) -> nn.Embedding:
        """The word embedding (the name :func:`~mmssl.methods.towers.load_pretrained` reads
        its size from)."""
        return self.word_embd

    @torch.no_grad()
    def set_word_vectors(self, vectors: Tensor, found: Tensor) -> None:
        """Rows ``found`` (V,) of ``vectors`` (V, word_dim) become those words' vectors."""
        if vectors.shape != self.word_embd.weight.shape or found.shape != vectors.shape[:1]:
            raise ValueError(f"word vectors {tuple(vectors.shape)} (found "
                             f"{tuple(found.shape)}) do not fit the embedding "
                             f"{tuple(self.word_embd.weight.shape)}")
        self.word_embd.weight[found] = vectors[found].to(self.word_embd.weight.dtype)

    def forward(self, tokens: Tensor) -> Tensor:
        """``(B, L)`` long -> ``(B, width)``."""
        if tokens.shape[1] == 0:  # amax over an empty dim would raise
            return self.fc1.weight.new_zeros(tokens.shape[0], self.out_dim)
        return torch.relu(self.fc1(self.word_embd(tokens))).amax(dim=1)
