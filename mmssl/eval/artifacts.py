"""Arrays an evaluation leaves next to the checkpoint so the report can be redrawn later.

One safetensors file per evaluation (``eval_<name>_arrays.safetensors``): named tensors
plus JSON-encoded metadata (keys, label names), read back without running any model.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file


def arrays_path(directory: str | Path, name: str) -> Path:
    return Path(directory) / f"eval_{name}_arrays.safetensors"


def save_arrays(directory: str | Path, name: str, tensors: dict[str, torch.Tensor],
                meta: dict) -> Path:
    """Write ``tensors`` (any shapes, made contiguous on the CPU) and ``meta`` (JSON)."""
    path = arrays_path(directory, name)
    plain = {key: value.detach().cpu().contiguous() for key, value in tensors.items()}
    save_file(plain, str(path), metadata={"meta": json.dumps(meta)})
    return path


def load_arrays(directory: str | Path, name: str) -> tuple[dict[str, torch.Tensor], dict]:
    """(tensors, meta), or ({}, {}) when that evaluation left no arrays."""
    path = arrays_path(directory, name)
    if not path.is_file():
        return {}, {}
    with safe_open(str(path), framework="pt") as handle:
        tensors = {key: handle.get_tensor(key) for key in handle.keys()}  # noqa: SIM118
        meta = json.loads((handle.metadata() or {}).get("meta", "{}"))
    return tensors, meta
