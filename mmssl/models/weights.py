"""Encoder weights from a local file: torchvision state dicts, safetensors files, and our
own checkpoints. Nothing is downloaded; a missing file is named in the error.

Accepted ``path``:

- a directory holding ``model.safetensors`` (an mmssl checkpoint directory): the keys
  under ``towers.<modality>.`` are the encoder's;
- a ``.safetensors`` file;
- any other file is read with ``torch.load(weights_only=True)`` (torchvision's ``.pth``
  downloads); a dict wrapping the weights under ``state_dict`` or ``model`` is unwrapped.

A leading ``module.`` (DDP) is stripped. The weights go into the encoder, or, when they
fit better, into its ``backbone`` (the torchvision network inside it), so a torchvision
file loads into our wrapper. Keys the encoder lacks (a classifier's ``fc.*``/``head.*``)
are returned as ignored; weights the encoder needs but the file lacks are an error.
"""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import load_file
from torch import nn

# The weights file of every mmssl checkpoint directory: the final ``checkpoint/`` that
# evaluation reads and each resumable ``checkpoints/step-N/``.
WEIGHTS_NAME = "model.safetensors"


def read_state_dict(path: str | Path, modality: str) -> dict[str, torch.Tensor]:
    """The tensors in ``path`` that belong to a ``modality`` encoder (see module doc)."""
    path = Path(path)
    if path.is_dir():
        weights = path / WEIGHTS_NAME
        if not weights.is_file():
            raise FileNotFoundError(f"{weights} not found: a checkpoint directory given as "
                                    f"{modality} encoder weights must hold {WEIGHTS_NAME}")
        prefix = f"towers.{modality}."
        state = {key[len(prefix):]: value for key, value in load_file(str(weights)).items()
                 if key.startswith(prefix)}
        if not state:
            raise ValueError(f"{weights} holds no {modality} encoder (no '{prefix}*' keys)")
        return state
    if not path.is_file():
        raise FileNotFoundError(f"{modality} encoder weights file {path} not found (expected "
                                "a torchvision .pth state dict, a .safetensors file or an "
                                "mmssl checkpoint directory)")
    return read_weights_file(path)


def read_weights_file(path: str | Path) -> dict[str, torch.Tensor]:
    """The state dict in a ``.safetensors`` file or a torch file (read with
    ``weights_only=True``: no code runs), a ``state_dict``/``model`` wrapper unwrapped and a
    leading ``module.`` (DDP) stripped."""
    path = Path(path)
    if path.suffix == ".safetensors":
        state = load_file(str(path))
    else:
        state = torch.load(path, map_location="cpu", weights_only=True)
        for wrapper in ("state_dict", "model"):
            if isinstance(state, dict) and isinstance(state.get(wrapper), dict):
                state = state[wrapper]
    if not isinstance(state, dict) or not all(torch.is_tensor(v) for v in state.values()):
        raise ValueError(f"{path}: expected a state dict of tensors")
    return {key.removeprefix("module."): value for key, value in state.items()}


def load_encoder_weights(encoder: nn.Module, path: str | Path, modality: str) -> list[str]:
    """Load ``path`` into ``encoder`` (or its ``backbone``); returns the ignored keys."""
    state = read_state_dict(path, modality)
    target = _best_target(encoder, state)
    adapt = getattr(encoder, "adapt_state_dict", None)
    if adapt is not None and target is not encoder:
        state = adapt(state)
    wanted = target.state_dict()
    missing = sorted(set(wanted) - set(state))
    if missing:
        raise ValueError(f"{path}: {len(missing)} weights of the {modality} encoder "
                         f"{type(encoder).__name__} are missing, e.g. {missing[:4]}")
    ignored = sorted(set(state) - set(wanted))
    for key in wanted:
        if state[key].shape != wanted[key].shape:
            raise ValueError(f"{path}: {key} has shape {tuple(state[key].shape)}, the "
                             f"{modality} encoder {type(encoder).__name__} needs "
                             f"{tuple(wanted[key].shape)}")
    target.load_state_dict({key: state[key] for key in wanted})
    return ignored


def _best_target(encoder: nn.Module, state: dict) -> nn.Module:
    backbone = getattr(encoder, "backbone", None)
    if not isinstance(backbone, nn.Module):
        return encoder
    overlap = len(set(state) & set(encoder.state_dict()))
    return backbone if len(set(state) & set(backbone.state_dict())) > overlap else encoder
