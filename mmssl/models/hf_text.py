"""Any HuggingFace ``transformers`` encoder from a local directory as the text tower.

The directory is what ``save_pretrained`` writes (``config.json`` plus
``model.safetensors`` or ``pytorch_model.bin``) next to the model's tokenizer
(``tokenizer.json``, or files ``AutoTokenizer`` can convert); nothing is downloaded.
Its tokenizer is :class:`mmssl.data.tokenizer.SubwordTokenizer`, which writes token id
``i`` as ``i + 1`` so that 0 means padding everywhere in the batch contract.

The path may instead name a ``.json`` file alone, a model's ``config.json``: the
architecture is built from it with fresh weights. That is how a checkpoint reloads its text
tower without the source directory (:func:`save_architecture` writes the file into the
checkpoint; the trained weights are in the checkpoint's own ``model.safetensors``, and the
tokenizer in its ``tokenizer.json``).
"""

from __future__ import annotations

from pathlib import Path

from torch import Tensor, nn

from mmssl.models.registries import TEXT_ENCODERS

POOLINGS = ("mean", "cls")
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin", "model.safetensors.index.json")


def save_architecture(encoder: HFModule, path: str | Path) -> Path:
    """Write the transformers config of ``encoder`` (the architecture, no weights) to the
    ``.json`` file ``path``, from which the encoder's class can rebuild it
    (:class:`HFTextEncoder`, or a CLIP tower of :mod:`mmssl.models.clip_towers`)."""
    encoder.model.config.to_json_file(str(path))
    return Path(path)


def is_architecture_file(path: str | Path) -> bool:
    """Whether ``path`` names a config ``.json`` file (an architecture without weights)
    rather than a ``save_pretrained`` directory."""
    return str(path).endswith(".json") and Path(path).is_file()


def _build_model(path: str | Path):
    """The transformers model at ``path``: a ``save_pretrained`` directory (its weights
    loaded), or a config ``.json`` file (the architecture, freshly initialised)."""
    from transformers import AutoConfig, AutoModel

    if is_architecture_file(path):
        return AutoModel.from_config(AutoConfig.from_pretrained(str(path)))
    return AutoModel.from_pretrained(str(check_hf_directory(path)), local_files_only=True)


def check_hf_directory(path: str | Path) -> Path:
    """``path`` as a directory holding a config and weights, or a clear error naming
    what is missing."""
    path = Path(path) if path else Path("")
    if not str(path) or not path.is_dir():
        raise FileNotFoundError(f"HuggingFace model directory {str(path)!r} not found (set "
                                "model.hf_text_dir to a directory written by save_pretrained)")
    if not (path / "config.json").is_file():
        raise FileNotFoundError(f"{path / 'config.json'} not found: a HuggingFace model "
                                "directory needs config.json")
    if not any((path / name).is_file() for name in WEIGHT_FILES):
        raise FileNotFoundError(f"no weights in {path}: expected one of {', '.join(WEIGHT_FILES)}")
    return path


def model_inputs(tokens: Tensor, pad_id: int) -> tuple[Tensor, Tensor, Tensor]:
    """Our ids (model id + 1, 0 = padding) → the model's ``input_ids`` (padding as
    ``pad_id``), ``attention_mask`` (long) and the rows with no token at all (B,) bool. An
    all-padding row would attend to nothing: it attends to its first position, and the
    caller zeroes its output."""
    mask = tokens != 0
    empty = ~mask.any(dim=1)
    attend = mask.clone()
    attend[:, :1] |= empty[:, None]
    ids = (tokens - 1).clamp(min=0).masked_fill(~mask, pad_id)
    return ids, attend.long(), empty


class HFModule(nn.Module):
    """Holds a transformers model as ``self.model`` (its parameters named ``model.*``):
    ``freeze`` stops its gradients and keeps it in eval mode (no dropout) whatever
    ``train()`` says; ``gradient_checkpointing`` switches the model's own."""

    def __init__(self, model: nn.Module, freeze: bool = False,
                 gradient_checkpointing: bool = False) -> None:
        super().__init__()
        self.model, self.freeze = model, freeze
        self.gradient_checkpointing = gradient_checkpointing
        if freeze:
            self.model.requires_grad_(False)
            self.model.eval()

    @property
    def gradient_checkpointing(self) -> bool:
        model = self.model
        if hasattr(model, "is_activation_checkpointing"):  # transformers >= 5
            return model.is_activation_checkpointing
        return model.is_gradient_checkpointing

    @gradient_checkpointing.setter
    def gradient_checkpointing(self, enabled: bool) -> None:
        model, new_api = self.model, hasattr(self.model, "activation_checkpointing_enable")
        if enabled and new_api:
            model.activation_checkpointing_enable({"use_reentrant": False})
        elif enabled:
            model.gradient_checkpointing_enable({"use_reentrant": False})
        elif self.gradient_checkpointing:
            (model.activation_checkpointing_disable if new_api
             else model.gradient_checkpointing_disable)()

    def train(self, mode: bool = True):
        super().train(mode)
        if self.freeze:
            self.model.eval()
        return self


@TEXT_ENCODERS.register("hf")
class HFTextEncoder(HFModule):
    """A transformers encoder, pooled over its valid tokens.

    Input ``(B, L)`` ids from :class:`~mmssl.data.tokenizer.SubwordTokenizer` (model id
    + 1, 0 = padding); output ``(B, hidden_size)``. With h (B, L, D) the last hidden
    states and m the attention mask::

        mean:  out[b] = Σ_l m[b,l] h[b,l] / Σ_l m[b,l]
        cls:   out[b] = h[b, 0]          (the first token, [CLS] for BERT-like models)

    A row with no token gives zeros. ``freeze``: see :class:`HFModule`. ``path``: a
    ``save_pretrained`` directory, or a config ``.json`` file for the architecture alone
    (see the module docstring).
    """

    def __init__(self, path: str, pooling: str = "mean", freeze: bool = False,
                 gradient_checkpointing: bool = False) -> None:
        if pooling not in POOLINGS:
            raise ValueError(f"unknown text pooling {pooling!r}; known: {POOLINGS}")
        super().__init__(_build_model(path), freeze, gradient_checkpointing)
        self.pooling = pooling
        self.pad_id = self.model.config.pad_token_id or 0
        self.out_dim = self.model.config.hidden_size

    def forward(self, tokens: Tensor) -> Tensor:
        """``(B, L)`` long -> ``(B, hidden_size)``."""
        ids, attend, empty = model_inputs(tokens, self.pad_id)
        mask = tokens != 0
        hidden = self.model(input_ids=ids, attention_mask=attend).last_hidden_state
        if self.pooling == "cls":
            pooled = hidden[:, 0]
        else:
            weights = mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1.0)
        return pooled.masked_fill(empty[:, None], 0.0)
