"""``mmssl train`` / ``python -m mmssl.train`` / ``accelerate launch -m mmssl.train``.

``mmssl train --config configs/x.yaml [--a.b=c ...] [--resume latest] [--dry-run]``
(``mmssl train --help`` lists every key). The run directory gets ``config.yaml``
(resolved), ``launch.json`` (processes, machines, precision, backend, global batch: what
the run used; :mod:`mmssl.training.launch`), ``tokenizer.json``, ``log.jsonl`` and
``tensorboard/`` (one record per logged step), ``checkpoints/step-N/`` (resumable state,
see :mod:`mmssl.training.state`) and ``checkpoint/`` (``model.safetensors`` plus the
resolved config, tokenizer and ``launch.json``, everything evaluation needs). The loop
itself lives in :mod:`mmssl.training.loop`; launch recipes are in docs/training.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mmssl.command_line import parse_command
from mmssl.config import TrainConfig
from mmssl.data.vocabulary import narration_texts
from mmssl.distributed import rank
from mmssl.training.launch import relaunch_for_accelerate
from mmssl.training.loop import CHECKPOINT_DIR, seed_everything, train
from mmssl.training.optim import param_groups
from mmssl.training.schedule import warmup_cosine

__all__ = ["CHECKPOINT_DIR", "dry_run", "main", "narration_texts", "param_groups",
           "seed_everything", "train", "warmup_cosine"]


def dry_run(config: TrainConfig) -> dict:
    """Print the resolved config, parameter counts per tower and the data plan for the
    world size this process was launched with; builds the model, reads only
    manifests and stats files (the vocabulary: their word counts)."""
    from accelerate import PartialState

    from mmssl.methods import build_method
    from mmssl.training.launch import on_cpus
    from mmssl.training.loop import _tokenizer
    from mmssl.training.plan import dry_run_report, format_report

    state = PartialState(cpu=on_cpus())
    seed_everything(config.seed)
    Path(config.output_dir).mkdir(parents=True, exist_ok=True)
    tokenizer = _tokenizer(config, Path(config.output_dir), state)
    report = dry_run_report(config, build_method(config, tokenizer.vocab_size),
                            state.num_processes)
    if state.is_main_process:
        print(format_report(report))
    return report


def main(argv: list[str] | None = None) -> Path | dict | None:
    """``python -m mmssl.train --config X.yaml [--a.b=c ...]`` (also what ``mmssl train`` and
    ``accelerate launch -m mmssl.train`` run); ``--resume latest`` is the ``resume`` key."""
    parser = argparse.ArgumentParser(prog="mmssl train", description="Pretrain a model.")
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument("--dry-run", action="store_true",
                        help="print the resolved config, parameter counts and data plan; "
                             "do not train")
    args, config = parse_command(parser, TrainConfig, argv)
    if relaunch_for_accelerate(sys.argv[1:] if argv is None else list(argv)):
        return None  # the processes accelerate launch asked for ran and are done
    if args.dry_run:
        return dry_run(config)
    checkpoint = train(config, progress=not args.no_progress)
    if rank() == 0:  # one line for the run, not one per process
        print(f"checkpoint: {checkpoint}")
    return checkpoint


if __name__ == "__main__":
    main()
