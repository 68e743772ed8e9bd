"""Building a method's encoders from the config, and embedding inputs through them.

Every method keeps its encoders in ``self.towers`` (:class:`Towers`, an ``nn.ModuleDict``
keyed by modality that also turns batch inputs into encoder inputs) and its heads in
``self.spaces`` (:class:`~mmssl.models.spaces.EmbeddingSpaces`), so that
``embed(modality, x)`` and evaluation work the same way for all of them.
"""

from __future__ import annotations

import inspect

import torch
from torch import Tensor, nn

from mmssl.config import TrainConfig
from mmssl.media.logmel import LogMel, log_mel
from mmssl.methods.scoring import Scoring
from mmssl.models import AUDIO_ENCODERS, TEXT_ENCODERS, VIDEO_ENCODERS
from mmssl.models.inputs import normalize_video
from mmssl.models.spaces import EmbeddingSpaces
from mmssl.models.weights import load_encoder_weights
from mmssl.models.word_vectors import read_word_vectors

ENCODERS = {"video": VIDEO_ENCODERS, "audio": AUDIO_ENCODERS, "text": TEXT_ENCODERS}
# The model.* fields each modality's tower reads (here and in load_pretrained; the text
# tower's vocabulary fields through its tokenizer).
TOWER_FIELDS = {
    "video": ("video_encoder", "video_width", "video_weights", "video_mean", "video_std",
              "hf_video_dir"),
    "audio": ("audio_encoder", "audio_width", "audio_weights"),
    "text": ("text_encoder", "word_dim", "text_width", "text_weights", "word_vectors",
             "freeze_word_vectors", "hf_text_dir", "text_pooling", "freeze_text",
             "vocabulary", "vocab_size"),
}


def tower_fields(modalities) -> set[str]:
    """The config fields that the towers of ``modalities`` use, as dotted names."""
    names = {"gradient_checkpointing"}.union(*(TOWER_FIELDS[m] for m in modalities))
    return {f"model.{name}" for name in names}


def encoder_options(config: TrainConfig, modality: str, vocab_size: int) -> tuple[dict, dict]:
    """Keyword arguments for the ``modality`` encoder: ``(offered, requested)``.

    ``offered`` go to any encoder whose constructor takes them (sizes, the mel count,
    gradient checkpointing); ``requested`` were set explicitly in the config, and an
    encoder that cannot take one is an error rather than a silent no-op.
    """
    model = config.model
    if modality == "video":
        requested = {"path": model.hf_video_dir} if model.hf_video_dir else {}
        return {"width": model.video_width,
                "gradient_checkpointing": model.gradient_checkpointing}, requested
    if modality == "audio":
        return {"width": model.audio_width, "n_mels": config.data.n_mels,
                "gradient_checkpointing": model.gradient_checkpointing}, {}
    offered = {"vocab_size": vocab_size, "word_dim": model.word_dim, "width": model.text_width,
               "gradient_checkpointing": model.gradient_checkpointing}
    requested = {}
    if model.text_pooling != "mean":
        requested["pooling"] = model.text_pooling
    if model.freeze_text:
        requested["freeze"] = True
    if model.word_vectors:
        requested["frozen_word_vectors"] = model.freeze_word_vectors
    if model.hf_text_dir:
        requested["path"] = model.hf_text_dir
    return offered, requested


def build_encoder(config: TrainConfig, modality: str, vocab_size: int = 0) -> nn.Module:
    """The encoder ``config.model.<modality>_encoder`` with the options it accepts."""
    registry = ENCODERS[modality]
    name = getattr(config.model, f"{modality}_encoder")
    constructor = registry.get(name)
    accepted = set(inspect.signature(constructor).parameters)
    offered, requested = encoder_options(config, modality, vocab_size)
    refused = sorted(set(requested) - accepted)
    if refused:
        raise ValueError(f"{modality} encoder {name!r} does not take {refused} (set in "
                         f"model.*); it takes {sorted(accepted)}")
    kwargs = {key: value for key, value in offered.items() if key in accepted}
    return constructor(**kwargs, **requested)


class Towers(nn.ModuleDict):
    """The encoders by modality (``towers["video"]`` is the video encoder, its parameters
    named ``towers.video.*``), and the step from what a batch holds to what an encoder
    takes (:meth:`inputs`), on the model's device: uint8 video is normalised with the
    model's ``video_mean`` / ``video_std``, audio waveforms become log-mel spectrograms
    (:mod:`mmssl.media.logmel`, the run's ``data.n_mels`` / ``window_ms`` / ``hop_ms``),
    text token ids pass as they are. Those settings are non-persistent buffers: they come
    from the config and move with the model, and no checkpoint holds them."""

    video_mean: Tensor
    video_std: Tensor
    mel_window: Tensor
    mel_filters: Tensor

    def __init__(self, encoders: dict[str, nn.Module], video_mean=(0.0,) * 3,
                 video_std=(1.0,) * 3, logmel: LogMel | None = None):
        super().__init__(encoders)
        self.register_buffer("video_mean", torch.tensor(video_mean, dtype=torch.float32),
                             persistent=False)
        self.register_buffer("video_std", torch.tensor(video_std, dtype=torch.float32),
                             persistent=False)
        # The log-mel's own buffers, held here rather than as a child module: every child
        # of this ModuleDict is an encoder.
        logmel = logmel or LogMel()
        self.mel_hop = logmel.hop
        self.register_buffer("mel_window", logmel.window, persistent=False)
        self.register_buffer("mel_filters", logmel.filters, persistent=False)

    def inputs(self, modality: str, x: Tensor) -> Tensor:
        """Batch input → encoder input: video (B, 3, T, H, W) uint8 → normalised float;
        audio (B, samples) waveforms → (B, 1, n_mels, frames) log-mel."""
        if modality == "video":
            return normalize_video(x, self.video_mean, self.video_std)
        if modality == "audio":
            return log_mel(x, self.mel_window, self.mel_filters, self.mel_hop)
        return x

    def encode(self, modality: str, x: Tensor) -> Tensor:
        """The ``modality`` encoder's features (B, out_dim) of batch input ``x``."""
        return self[modality](self.inputs(modality, x))


def build_towers(config: TrainConfig, vocab_size: int, modalities) -> Towers:
    """Encoders for ``modalities`` (video, audio, text) named in ``config.model``."""
    return Towers({modality: build_encoder(config, modality, vocab_size)
                   for modality in modalities}, config.model.video_mean, config.model.video_std,
                  LogMel.from_config(config.data))


def load_pretrained(towers: nn.ModuleDict, config: TrainConfig, vocabulary: dict[str, int]
                    ) -> dict:
    """Start the towers from the local files the config names (a fresh run only; a
    checkpoint or a resumed run restores every weight itself).

    ``vocabulary`` (word → id) places pretrained word vectors. Returns a report:
    ``{"<modality>_weights": {"path", "ignored"}, "word_vectors": {"found", "coverage"...}}``.
    """
    model, report = config.model, {}
    for modality in towers:
        path = getattr(model, f"{modality}_weights")
        if path:
            ignored = load_encoder_weights(towers[modality], path, modality)
            report[f"{modality}_weights"] = {"path": path, "ignored": ignored}
    if model.word_vectors and "text" in towers:
        text = towers["text"]
        words = read_word_vectors(model.word_vectors, vocabulary, text.embed.embedding_dim)
        text.set_word_vectors(words.vectors, words.found)
        report["word_vectors"] = words.coverage()
    return report


def chosen_space(config: TrainConfig, method: str, kinds: tuple[str, ...]) -> str:
    """``model.space``, or ``kinds[0]`` (the method's own) when it is empty; a kind not in
    ``kinds`` (the ones ``method`` offers) is an error."""
    kind = config.model.space or kinds[0]
    if kind not in kinds:
        raise ValueError(f"{method}: model.space={kind!r} is not available; it takes "
                         f"{list(kinds)} (empty: {kinds[0]})")
    return kind


def space_fields(kind: str) -> set[str]:
    """The config fields that spaces of ``kind`` use (no S_va of its own when shared)."""
    fields = {"model.space", "model.head", "model.vat_dim"}
    return fields if kind == "shared" else fields | {"model.va_dim"}


def build_spaces(config: TrainConfig, towers: nn.ModuleDict, pairs, kind: str,
                 own_head: str | dict[str, str] = "linear") -> EmbeddingSpaces:
    """Heads (``model.head``, or the method's ``own_head`` when empty: one kind, or one per
    modality) from each tower's ``out_dim`` into the spaces of ``kind`` where ``pairs``
    meet."""
    in_dims = {modality: tower.out_dim for modality, tower in towers.items()}
    return EmbeddingSpaces(kind, in_dims, pairs, config.model.va_dim, config.model.vat_dim,
                           config.model.head or own_head)


def embed(towers: Towers, spaces: EmbeddingSpaces, modality: str, x: Tensor,
          scoring: Scoring) -> dict[str, Tensor]:
    """Embeddings of ``x`` in every space its modality meets another in, as ``scoring``
    compares them (L2-normalised when it scores cosine similarities).

    video (B, 3, T, H, W) uint8, audio (B, samples) waveforms, text (..., L) token ids
    → ``{pair: (..., dim)}``.
    """
    flat = x.reshape(-1, x.shape[-1]) if modality == "text" else x
    out = {pair: scoring.embedding(value)
           for pair, value in spaces(modality, towers.encode(modality, flat)).items()}
    if modality == "text":
        out = {pair: value.reshape(*x.shape[:-1], -1) for pair, value in out.items()}
    return out
