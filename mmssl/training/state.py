"""Resumable training state: one directory per saved step, written atomically.

``<run>/checkpoints/step-000000120/`` holds

    model.safetensors      the method's weights and buffers (safetensors: no code runs on load)
    training.pt            optimiser, scheduler, grad scaler, step, data position
    rng-rank<r>.pt         each process's Python / NumPy / torch (and CUDA) RNG states
    complete.json          written last: the run's id, the step, size and SHA-256 of every
                           file above

Everything is first written under ``step-….partial/`` and renamed once ``complete.json``
is in place, so a directory without the suffix is complete. Then the run prunes its own
checkpoints (:func:`prune`): of those whose ``complete.json`` names this run (another
run's are never touched) and whose files match it, the newest ``keep`` stay; older ones
and corrupted ones are removed, each corrupted one reported by name. On resume the newest
directory whose files all match ``complete.json`` is used: a truncated or corrupted one is
reported and skipped. A directory named ``step-…`` that is neither ``step-<digits>`` nor a
``.partial`` one (``step-12.bak``) is not a checkpoint: it is ignored, with a warning.
Pickled files are read with ``torch.load(weights_only=True)``, which executes no code.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import shutil
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from mmssl.errors import UserError
from mmssl.models.weights import WEIGHTS_NAME

TRAINING = "training.pt"
MANIFEST = "complete.json"
PREFIX, PARTIAL = "step-", ".partial"
STEP_NAME = re.compile(re.escape(PREFIX) + r"(\d+)")


class CheckpointError(UserError, RuntimeError):
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
               run: RunCheckpoints) -> Path:
    """Write step ``step`` of ``run`` (every process calls this; each writes its own RNG
    file), then prune ``run``'s checkpoints.

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
        _write_manifest(partial, step, run.run_id)
        if final.exists():  # the same step saved again after a resume
            shutil.rmtree(final)
        partial.rename(final)
        _fsync_dir(final.parent)
        run.verified.add(final.name)  # just written and hashed
        prune(root, run)
    accelerator.wait_for_everyone()
    return final


def _write_manifest(directory: Path, step: int, run_id: str) -> None:
    files = {path.name: {"bytes": path.stat().st_size, "sha256": _sha256(path)}
             for path in sorted(directory.iterdir())}
    manifest = directory / MANIFEST
    manifest.write_text(json.dumps({"run": run_id, "step": step, "files": files}, indent=1))
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


def step_of(directory: Path) -> int | None:
    """N of a ``step-N`` directory, None for any other name."""
    match = STEP_NAME.fullmatch(Path(directory).name)
    return int(match.group(1)) if match else None


def saved_steps(root: Path) -> list[Path]:
    """Completed-looking step directories (``step-<digits>``), newest first. Other
    directories named ``step-…`` (``step-12.bak``; not ``.partial`` ones) are ignored with
    a warning naming them."""
    root = Path(root)
    if not root.is_dir():
        return []
    found = []
    for path in root.iterdir():
        if not path.is_dir() or not path.name.startswith(PREFIX):
            continue
        if step_of(path) is not None:
            found.append(path)
        elif not path.name.endswith(PARTIAL):
            warnings.warn(f"ignoring {path}: not a checkpoint directory (step-<digits>)",
                          stacklevel=2)
    return sorted(found, key=step_of, reverse=True)


def checkpoint_run(directory: Path) -> str | None:
    """The id of the run that wrote a step directory (from ``complete.json``); None when
    unreadable or written before run ids existed."""
    try:
        run_id = json.loads((Path(directory) / MANIFEST).read_text()).get("run")
    except (OSError, ValueError, AttributeError):
        return None
    return run_id if isinstance(run_id, str) else None


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


@dataclass
class RunCheckpoints:
    """What pruning needs to know of a run: its id, the ids of checkpoints it may remove
    (its own, plus None when it resumed from a checkpoint written before run ids existed:
    it adopts those), how many to keep, and the step directories already verified (each is
    hashed once per process, not at every save)."""

    run_id: str
    keep: int
    owned: frozenset = frozenset()
    verified: set[str] = field(default_factory=set)

    def owns(self, directory: Path) -> bool:
        return checkpoint_run(directory) in self.owned | {self.run_id}


def prune(root: Path, run: RunCheckpoints) -> None:
    """Keep the newest ``run.keep`` verified checkpoints of ``run``; remove its older ones,
    its corrupted ones (a warning names each) and its stale ``.partial`` directories.
    Checkpoints of other runs are left alone."""
    kept = 0
    for directory in saved_steps(root):
        if not run.owns(directory):
            continue
        if directory.name not in run.verified:
            try:
                verify(directory)
            except CheckpointError as error:
                warnings.warn(f"removing corrupted checkpoint {directory}: {error}",
                              stacklevel=2)
                shutil.rmtree(directory, ignore_errors=True)
                continue
            run.verified.add(directory.name)
        kept += 1
        if kept > max(run.keep, 1):
            shutil.rmtree(directory, ignore_errors=True)
            run.verified.discard(directory.name)
    newest = max((step_of(d) for d in saved_steps(root) if run.owns(d)), default=-1)
    for partial in Path(root).glob(f"{PREFIX}*{PARTIAL}"):
        step = step_of(partial.with_name(partial.name.removesuffix(PARTIAL)))
        if step is not None and step < newest:
            shutil.rmtree(partial, ignore_errors=True)
