"""A run directory belongs to one run.

A run directory (``output_dir``) holds ``config.yaml``, ``launch.json``,
``tokenizer.json``, ``log.jsonl``, ``tensorboard/``, ``checkpoints/step-N/`` (resumable
states, each naming the run that wrote it, :mod:`mmssl.training.state`) and
``checkpoint/`` (the final weights). When a run starts
(:func:`claim`):

- ``resume`` set and a verified checkpoint found: the run continues that checkpoint's run
  (its id, its log cut back to the step).
- otherwise the run is new, with a new id, and the directory must not hold another run's
  results — a step directory (even a corrupted one), a final ``checkpoint/``, or (unless
  ``resume`` asked for one that is not there yet, as a requeued job does before its first
  checkpoint) a ``log.jsonl`` — or the run refuses to start, saying how to go on:
  ``resume``, ``overwrite``, or another ``output_dir``.
- ``overwrite`` deletes the files of whatever run was there (the list above) and starts a
  new run; it cannot be combined with ``resume``.

So the checkpoints of two runs never mix (pruning removes only its own run's), a later
``--resume latest`` never picks up an older run by mistake, and ``log.jsonl`` never holds
two runs.
"""

from __future__ import annotations

import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

from mmssl.errors import UserError
from mmssl.training.launch import LAUNCH_NAME
from mmssl.training.observe import LOG_NAME, TENSORBOARD_DIR
from mmssl.training.state import RunCheckpoints, checkpoint_run, find_resumable, saved_steps

CHECKPOINT_DIR = "checkpoint"  # the final weights, evaluation's input
STATES_DIR = "checkpoints"  # resumable step-N directories
TOKENIZER_FILE = "tokenizer.json"
CONFIG_FILE = "config.yaml"
# Everything a run writes into its directory: what --overwrite deletes.
RUN_FILES = (STATES_DIR, CHECKPOINT_DIR, LOG_NAME, TENSORBOARD_DIR, TOKENIZER_FILE, CONFIG_FILE,
             LAUNCH_NAME)


class RunDirectoryError(UserError):
    """A new run asked to start in a directory holding another run's results."""


@dataclass(frozen=True)
class Claim:
    """How a run starts in its directory: ``resume_dir`` (None for a new run) and the
    checkpoints it owns (:class:`~mmssl.training.state.RunCheckpoints`)."""

    resume_dir: Path | None
    checkpoints: RunCheckpoints


def claim(run_dir: Path, resume: str, overwrite: bool, keep: int, main: bool) -> Claim:
    """Decide how the run starts in ``run_dir`` (see the module docstring). Every process
    calls it and decides alike; only the ``main`` one deletes files."""
    run_dir = Path(run_dir)
    if resume and overwrite:
        raise RunDirectoryError("resume and overwrite exclude each other: --resume continues "
                                "the run in output_dir, --overwrite deletes it")
    if overwrite:
        if main:
            remove_run(run_dir)
        return Claim(None, RunCheckpoints(new_run_id(), keep))
    if resume:
        directory = find_resumable(run_dir / STATES_DIR, resume)
        if directory is not None:
            run_id = checkpoint_run(directory)
            adopted = frozenset() if run_id else frozenset({None})
            return Claim(directory, RunCheckpoints(run_id or new_run_id(), keep, adopted))
        if main:
            print(f"resume: no checkpoint under {run_dir / STATES_DIR} yet; starting fresh")
    held = another_run(run_dir, count_log=not resume)
    if held:
        how = ("no verified checkpoint to resume from (see the warnings above); start "
               "afresh there" if resume else "continue it with --resume latest, start "
               "afresh there")
        raise RunDirectoryError(f"{run_dir} holds another run ({', '.join(held)}): {how} "
                                "with --overwrite (deletes it), or choose another --output_dir")
    if main:  # a log without any checkpoint: a start that was killed before its first one
        for stale in (LOG_NAME, TENSORBOARD_DIR):
            _remove(run_dir / stale)
    return Claim(None, RunCheckpoints(new_run_id(), keep))


def another_run(run_dir: Path, count_log: bool = True) -> list[str]:
    """What in ``run_dir`` shows another run's results (relative paths, a few at most)."""
    held = [str(p.relative_to(run_dir)) for p in saved_steps(run_dir / STATES_DIR)[:2]]
    if (run_dir / CHECKPOINT_DIR).is_dir():
        held.append(CHECKPOINT_DIR)
    log = run_dir / LOG_NAME
    if count_log and log.is_file() and log.stat().st_size:
        held.append(LOG_NAME)
    return held


def remove_run(run_dir: Path) -> None:
    """Delete the files a run writes (:data:`RUN_FILES`), nothing else."""
    for name in RUN_FILES:
        _remove(run_dir / name)


def new_run_id() -> str:
    """A fresh id (from the OS's randomness: no RNG a run seeds is drawn from)."""
    return uuid.uuid4().hex[:12]


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)
