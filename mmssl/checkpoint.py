"""Checkpoint directories: everything a trained method needs to run on new media.

=====================  ==============================================================
``model.safetensors``  every weight (safetensors: loading never executes code)
``config.yaml``        the resolved training config: encoders, clip length
                       (``data.clip_frames``), crop size (``data.crop_size``), log-mel
                       settings, normalisation (``model.video_mean`` / ``video_std``)
``tokenizer.json``     the tokenizer of the text tower
``prep.yaml``          the :class:`~mmssl.config.PrepConfig` the training shards were
                       prepared with (frame rate, short side, H.264 GOP and CRF), so
                       that raw media can be prepared the same way; absent when the
                       shards' manifests did not say or disagreed
``hf_text.json``       for a HuggingFace text tower (``hf``, ``clip_text``): its
                       architecture (the model's ``config.json``); its weights are in
                       ``model.safetensors``, so the checkpoint works after the source
                       directory is gone
``hf_video.json``      the same for a HuggingFace video tower (``clip_video``)
=====================  ==============================================================
"""

from __future__ import annotations

import dataclasses
import json
import warnings
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from mmssl.config import (
    ConfigError,
    DataConfig,
    PrepConfig,
    TrainConfig,
    from_dict,
    load_config,
    save_config,
)
from mmssl.data.tokenizer import WordTokenizer, load_tokenizer
from mmssl.methods import build_method
from mmssl.models.hf_text import HFModule, save_architecture
from mmssl.models.weights import WEIGHTS_NAME
from mmssl.shard_format import MANIFEST_NAME

CONFIG_NAME = "config.yaml"
TOKENIZER_NAME = "tokenizer.json"
PREP_NAME = "prep.yaml"
HF_TEXT_NAME = "hf_text.json"
HF_VIDEO_NAME = "hf_video.json"
# modality → (the architecture file of its HuggingFace tower, the ModelConfig field naming
# where the tower comes from)
HF_TOWER_FILES = {"text": (HF_TEXT_NAME, "hf_text_dir"), "video": (HF_VIDEO_NAME, "hf_video_dir")}
# The prep settings that decide what the model saw: two training directories that differ
# in one of these were not prepared alike, and no single prep.yaml describes them.
PIXEL_SETTINGS = ("fps", "short_side", "gop", "crf", "video_backend")


def save_checkpoint(directory: str | Path, model: torch.nn.Module, config: TrainConfig,
                    tokenizer: WordTokenizer, prep: PrepConfig | None = None) -> Path:
    """Write the files of the module docstring; the weights go to a ``.partial`` name
    first, then are renamed. ``prep``: the settings raw media must be prepared with
    (default: those of the training shards' manifests, :func:`training_prep`)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    state = {key: value.detach().cpu().contiguous() for key, value in model.state_dict().items()}
    partial = directory / (WEIGHTS_NAME + ".partial")
    save_file(state, str(partial))
    partial.replace(directory / WEIGHTS_NAME)
    save_config(config, directory / CONFIG_NAME)
    tokenizer.save(directory / TOKENIZER_NAME)
    prep = prep if prep is not None else training_prep(config.data)
    if prep is not None:
        save_config(prep, directory / PREP_NAME)
    towers = getattr(model, "towers", {})
    for modality, (name, _) in HF_TOWER_FILES.items():
        if modality in towers and isinstance(towers[modality], HFModule):
            save_architecture(towers[modality], directory / name)
    return directory


def load_checkpoint(directory: str | Path) -> tuple[torch.nn.Module, TrainConfig, WordTokenizer]:
    """The method (in eval mode, on CPU), its resolved config and its tokenizer.

    A HuggingFace tower is rebuilt from the checkpoint's ``hf_text.json`` /
    ``hf_video.json`` when it has one (the returned config's ``model.hf_text_dir`` /
    ``hf_video_dir`` then names that file), so the source directory need not exist any
    more."""
    directory = Path(directory)
    for name in (WEIGHTS_NAME, CONFIG_NAME, TOKENIZER_NAME):
        if not (directory / name).is_file():
            raise FileNotFoundError(f"{directory / name} not found: a checkpoint directory "
                                    f"holds {WEIGHTS_NAME}, {CONFIG_NAME} and {TOKENIZER_NAME}")
    config = load_config(TrainConfig, directory / CONFIG_NAME)
    for name, field in HF_TOWER_FILES.values():
        if getattr(config.model, field) and (directory / name).is_file():
            setattr(config.model, field, str(directory / name))
    tokenizer = load_tokenizer(directory / TOKENIZER_NAME, config.model)
    method = build_method(config, tokenizer.vocab_size)
    method.load_state_dict(load_file(str(directory / WEIGHTS_NAME)))
    return method.eval(), config, tokenizer


def load_prep(directory: str | Path) -> PrepConfig | None:
    """The prep settings a checkpoint records (``prep.yaml``), None for a checkpoint
    written without them."""
    path = Path(directory) / PREP_NAME
    return load_config(PrepConfig, path) if path.is_file() else None


def training_prep(data: DataConfig) -> PrepConfig | None:
    """The :class:`PrepConfig` of the training shards (``data.shards``, or every
    directory of ``data.mix``) from their manifests; None, with a warning, when a manifest
    is missing or has no settings, or when directories differ in :data:`PIXEL_SETTINGS`."""
    directories = list(data.mix) or ([data.shards] if data.shards else [])
    found = [_manifest_prep(Path(directory)) for directory in directories]
    if not found or any(prep is None for prep in found):
        return None
    differing = [name for name in PIXEL_SETTINGS
                 if len({getattr(prep, name) for prep in found}) > 1]
    if differing:
        warnings.warn(f"training shards {directories} were prepared with different "
                      f"{differing}: the checkpoint records no prep settings (pass them "
                      "when embedding raw media)", stacklevel=2)
        return None
    return found[0]


def _manifest_prep(directory: Path) -> PrepConfig | None:
    """The ``prep`` settings of a prepared directory's manifest (keys this version does
    not know are left out), None when there are none to read."""
    try:
        settings = json.loads((directory / MANIFEST_NAME).read_text()).get("prep")
    except (OSError, ValueError):
        return None
    if not isinstance(settings, dict):
        return None
    known = {field.name for field in dataclasses.fields(PrepConfig)}
    try:
        return from_dict(PrepConfig, {k: v for k, v in settings.items() if k in known})
    except ConfigError:
        return None
