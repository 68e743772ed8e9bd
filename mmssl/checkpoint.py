"""Checkpoint directories: ``model.safetensors`` + ``config.yaml`` + ``tokenizer.json``.

Weights are safetensors, so loading a checkpoint never executes code from the file.
"""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from mmssl.config import TrainConfig, load_config, save_config
from mmssl.data.tokenizer import WordTokenizer, load_tokenizer
from mmssl.methods import build_method
from mmssl.models.weights import WEIGHTS_NAME

CONFIG_NAME = "config.yaml"
TOKENIZER_NAME = "tokenizer.json"


def save_checkpoint(directory: str | Path, model: torch.nn.Module, config: TrainConfig,
                    tokenizer: WordTokenizer) -> Path:
    """Write the three files; the weights go to a ``.partial`` name first, then are renamed."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    state = {key: value.detach().cpu().contiguous() for key, value in model.state_dict().items()}
    partial = directory / (WEIGHTS_NAME + ".partial")
    save_file(state, str(partial))
    partial.replace(directory / WEIGHTS_NAME)
    save_config(config, directory / CONFIG_NAME)
    tokenizer.save(directory / TOKENIZER_NAME)
    return directory


def load_checkpoint(directory: str | Path) -> tuple[torch.nn.Module, TrainConfig, WordTokenizer]:
    """The method (in eval mode, on CPU), its resolved config and its tokenizer."""
    directory = Path(directory)
    for name in (WEIGHTS_NAME, CONFIG_NAME, TOKENIZER_NAME):
        if not (directory / name).is_file():
            raise FileNotFoundError(f"{directory / name} not found: a checkpoint directory "
                                    f"holds {WEIGHTS_NAME}, {CONFIG_NAME} and {TOKENIZER_NAME}")
    config = load_config(TrainConfig, directory / CONFIG_NAME)
    tokenizer = load_tokenizer(directory / TOKENIZER_NAME, config.model)
    method = build_method(config, tokenizer.vocab_size)
    method.load_state_dict(load_file(str(directory / WEIGHTS_NAME)))
    return method.eval(), config, tokenizer
