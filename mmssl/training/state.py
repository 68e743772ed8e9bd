"""Resumable training state: one directory per saved step, written atomically.

``<run>/checkpoints/step-000000120/`` holds

    model.safetensors      the method's weights and buffers (safetensors: no code runs on load)
    training.pt            optimiser, scheduler, grad scaler, step, data position
    rng-rank<r>.pt         each process's Python / NumPy / torch (and CUDA) RNG states
    complete.json          written last: size and SHA-256 of every file above

Everything is first written under ``step-….partial/`` and renamed once ``complete.json``
is in place, so a directory without the suffix is complete; older steps beyond the newest
``keep`` are removed only after that rename. On resume the newest directory whose files
all match ``complete.json`` is used: a truncated or corrupted one is reported and skipped.
Pickled files are read with ``torch.load(weights_only=True)``, which executes no code.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import warnings
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from mmssl.models.weights import WEIGHTS_NAME

TRAINING = "training.pt"
MANIFEST = "complete.json"
PREFIX, PARTIAL = "step-", ".partial"


class CheckpointError(RuntimeError):
    """A resumable checkpoint that is missing, incomplete or corrupted."""


def step_dir(root: Path, step: int) -> Path:
    return Path(root) / f"{PREFIX}{step:09d}"


def rng_file(rank: int) -> str:
    return f"rng-rank{rank}.pt"


def rng_state() -> dict:
    """This process's RNG states as tensors and plain values (loadable with weights_only)."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    state = {"python": random.getstate(), "torch": torch.get_rng_state(),
             "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)),
                       "pos": int(pos), "has_gauss": int(has_gauss), "gauss": float(gauss)}}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    n = state["numpy"]
    np.random.set_state((n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"],
                         n["has_gauss"], n["gauss"]))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_state(root: Path, step: int, accelerator, model: torch.nn.Module, training: dict,
               keep: int) -> Path:
    """Write step ``step`` (every process calls this; each writes its own RNG file).

    ``model`` is the unwrapped method; ``training`` the state dicts and counters for
    ``training.pt`` (written by the main process).
    """
    final = step_dir(root, step)
    partial = final.with_name(final.name + PARTIAL)
    main = accelerator.is_main_process
    if main:
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
    accelerator.wait_for_everyone()
    torch.save(rng_state(), partial / rng_file(accelerator.process_index))
    if main:
        weights = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
        save_file(weights, str(partial / WEIGHTS_NAME))
        torch.save({**training, "num_processes": accelerator.num_processes},
                   partial / TRAINING)
    accelerator.wait_for_everyone()
    if main:
        _write_manifest(partial, step)
        if final.exists():  # the same step saved again after a resume
            shutil.rmtree(final)
        partial.rename(final)
        _fsync_dir(final.parent)
        prune(root, keep)
    accelerator.wait_for_everyone()
    return final


def _write_manifest(directory: Path, step: int) -> None:
    files = {path.name: {"bytes": path.stat().st_size, "sha256": _sha256(path)}
             for path in sorted(directory.iterdir())}
    manifest = directory / MANIFEST
    manifest.write_text(json.dumps({"step": step, "files": files}, indent=1))
    for path in directory.iterdir():
        with open(path, "rb") as handle:
            os.fsync(handle.fileno())


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify(directory: Path) -> None:
    """Raise :class:`CheckpointError` naming the first file that does not match the manifest."""
    manifest = directory / MANIFEST
    try:
        files = json.loads(manifest.read_text())["files"]
    except (OSError, ValueError, KeyError) as error:
        raise CheckpointError(f"{manifest}: missing or unreadable ({error}); the checkpoint "
                              "was not completed") from error
    for name, expected in files.items():
        path = directory / name
        if not path.is_file():
            raise CheckpointError(f"{path}: missing (listed in {MANIFEST})")
        if path.stat().st_size != expected["bytes"] or _sha256(path) != expected["sha256"]:
            raise CheckpointError(f"{path}: size or SHA-256 differs from {MANIFEST}; corrupted")


def saved_steps(root: Path) -> list[Path]:
    """Completed-looking step directories (no ``.partial`` suffix), newest first."""
    root = Path(root)
    if not root.is_dir():
        return []
    found = [p for p in root.iterdir()
             if p.is_dir() and p.name.startswith(PREFIX) and not p.name.endswith(PARTIAL)]
    return sorted(found, key=lambda p: int(p.name[len(PREFIX):]), reverse=True)


def find_resumable(root: Path, request: str) -> Path | None:
    """The directory to resume from: ``request`` is "latest" (the newest verified step
    under ``root``, or None when there is none yet) or a step directory (verified)."""
    if request != "latest":
        directory = Path(request)
        verify(directory)
        return directory
    for directory in saved_steps(root):
        try:
            verify(directory)
            return directory
        except CheckpointError as error:
            warnings.warn(f"skipping checkpoint {directory.name}: {error}", stacklevel=2)
    return None


def read_training(directory: Path) -> dict:
    """The ``training.pt`` dict of a step directory: optimiser, schedule and scaler state
    dicts, ``step``, ``batches_consumed`` (the data position) and ``num_processes``."""
    return torch.load(directory / TRAINING, weights_only=True)


def restore_weights_and_rng(directory: Path, model: torch.nn.Module, rank: int,
                            processes: int) -> None:
    """Load weights into the unwrapped ``model`` and restore this process's RNG states;
    ``processes`` is how many the saving run had (its ``training.pt`` says)."""
    model.load_state_dict(load_file(str(directory / WEIGHTS_NAME)))
    rng_path = directory / rng_file(rank)
    if rng_path.is_file():
        set_rng_state(torch.load(rng_path, weights_only=True))
    else:
        warnings.warn(f"{rng_path} not found (the run had {processes} processes): RNG "
                      "states start fresh; the run goes on, not bit-exactly", stacklevel=2)


def prune(root: Path, keep: int) -> None:
    """Remove all but the newest ``keep`` complete steps, and stale ``.partial`` dirs."""
    steps = saved_steps(root)
    for old in steps[max(keep, 1):]:
        shutil.rmtree(old, ignore_errors=True)
    newest = int(steps[0].name[len(PREFIX):]) if steps else -1
    for partial in Path(root).glob(f"{PREFIX}*{PARTIAL}"):
        if int(partial.name[len(PREFIX):-len(PARTIAL)]) < newest:
            shutil.rmtree(partial, ignore_errors=True)
