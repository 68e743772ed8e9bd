"""Building a method's encoders from the config, and embedding inputs through them.

Every method keeps its encoders in ``self.towers`` (an ``nn.ModuleDict`` keyed by modality)
and its heads in ``self.spaces`` (:class:`~mmssl.models.spaces.EmbeddingSpaces`), so that
``embed(modality, x)`` and evaluation work the same way for all of them.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from mmssl.config import TrainConfig
from mmssl.models import AUDIO_ENCODERS, TEXT_ENCODERS, VIDEO_ENCODERS
from mmssl.models.spaces import EmbeddingSpaces


def build_towers(config: TrainConfig, vocab_size: int, modalities) -> nn.ModuleDict:
    """Encoders for ``modalities`` (video, audio, text) named in ``config.model``."""
    model = config.model
    builders = {
        "video": lambda: VIDEO_ENCODERS.build(model.video_encoder, width=model.video_width),
        "audio": lambda: AUDIO_ENCODERS.build(model.audio_encoder, width=model.audio_width,
                                              n_mels=config.data.n_mels),
        "text": lambda: TEXT_ENCODERS.build(model.text_encoder, vocab_size=vocab_size,
                                            word_dim=model.word_dim, width=model.text_width),
    }
    return nn.ModuleDict({modality: builders[modality]() for modality in modalities})


def build_spaces(config: TrainConfig, towers: nn.ModuleDict, pairs, kind: str | None = None
                 ) -> EmbeddingSpaces:
    """Heads from each tower's ``out_dim`` into the spaces where ``pairs`` meet."""
    in_dims = {modality: tower.out_dim for modality, tower in towers.items()}
    return EmbeddingSpaces(kind or config.model.space, in_dims, pairs, config.model.va_dim,
                           config.model.vat_dim, config.model.head)


def embed(towers: nn.ModuleDict, spaces: EmbeddingSpaces, modality: str, x: Tensor,
          normalize: bool) -> dict[str, Tensor]:
    """Embeddings of ``x`` in every space its modality meets another in.

    video (B, 3, T, H, W), audio (B, 1, mels, frames), text (..., L) token ids
    → ``{pair: (..., dim)}``, L2-normalised when ``normalize``.
    """
    flat = x.reshape(-1, x.shape[-1]) if modality == "text" else x
    out = spaces(modality, towers[modality](flat))
    if normalize:
        out = {pair: F.normalize(value, dim=-1) for pair, value in out.items()}
    if modality == "text":
        out = {pair: value.reshape(*x.shape[:-1], -1) for pair, value in out.items()}
    return out
