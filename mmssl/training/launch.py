"""What a launch means: how many processes on how many machines, which precision and
which backend, resolved from the launcher and the config — and recorded, so a run says
what it actually used.

Launchers and what they tell a process:

- ``torchrun --nproc_per_node N [--nnodes M ...]`` (and Accelerate's multi-GPU launcher,
  which runs torchrun's code): ``WORLD_SIZE``, ``RANK``, ``LOCAL_RANK``,
  ``LOCAL_WORLD_SIZE`` in every process. On a machine without CUDA, or with
  ``ACCELERATE_USE_CPU``, those processes join a gloo group (:func:`on_cpus`):
  Accelerate forms a CPU group only when told so, and would otherwise run N independent
  single-process trainings writing one directory.
- ``accelerate launch --num_processes N`` without ``--multi_gpu`` (with or without
  ``--cpu``) on a machine without several GPUs: Accelerate 1.x's "simple launcher" starts
  *one* process, with ``MASTER_ADDR`` / ``MASTER_PORT`` and ``ACCELERATE_*`` variables but
  no world size. :func:`relaunch_for_accelerate` notices (the parent process is
  ``accelerate launch``; its command line says N) and starts the N processes itself with
  torchrun's launcher (``torch.distributed.run``), as ``--nnodes M --node_rank R`` with
  Accelerate's ``--num_machines``, ``--machine_rank``, ``--main_process_ip`` and
  ``--main_process_port``, so the launch trains the processes it names.

Precision: ``mixed_precision: inherit`` (the default) takes the launcher's
(``accelerate launch --mixed_precision``, passed on as ``ACCELERATE_MIXED_PRECISION``),
else ``no``. A config that names a precision wins over a launcher that asked for none
(Accelerate sets ``no`` when not told, so ``no`` from it is indistinguishable from no
choice); a config that names a *different* precision from the one the launcher asked for
is an error.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import torch

from mmssl.config import TrainConfig

PRECISIONS = ("no", "fp16", "bf16")
INHERIT = "inherit"
LAUNCH_NAME = "launch.json"  # next to the run's config and in its checkpoint


def launcher_precision() -> str:
    """The precision the launcher asked for (``""``: none, or not an Accelerate launch)."""
    value = os.environ.get("ACCELERATE_MIXED_PRECISION", "").lower()
    return "" if value == "no" else value


def resolved_precision(config_value: str) -> str:
    """The precision to train with, from the config's and the launcher's (module
    docstring); a ValueError when they disagree or the config's is unknown."""
    if config_value not in (INHERIT, *PRECISIONS):
        raise ValueError(f"mixed_precision={config_value!r}: expected one of "
                         f"{[INHERIT, *PRECISIONS]}")
    launcher = launcher_precision()
    if config_value == INHERIT:
        return launcher or "no"
    if launcher and launcher != config_value:
        raise ValueError(f"the config sets mixed_precision={config_value!r} but the launcher "
                         f"asked for {launcher!r} (accelerate launch --mixed_precision): set "
                         f"one of them, or the same in both (mixed_precision: inherit takes "
                         f"the launcher's)")
    return config_value


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def on_cpus_requested() -> bool:
    """``accelerate launch --cpu`` (``ACCELERATE_USE_CPU``)."""
    return os.environ.get("ACCELERATE_USE_CPU", "").lower() in ("1", "true", "yes")


def on_cpus() -> bool:
    """True when several processes were launched (``WORLD_SIZE`` > 1) on a machine without
    CUDA, or with ``ACCELERATE_USE_CPU`` (``accelerate launch --cpu``): they must join a
    gloo group on CPUs."""
    return world_size() > 1 and (on_cpus_requested() or not torch.cuda.is_available())


def accelerator_options(config: TrainConfig) -> dict:
    """Keyword arguments of ``Accelerator`` for this launch and config."""
    return {"mixed_precision": resolved_precision(config.mixed_precision), "cpu": on_cpus()}


def launcher_name() -> str:
    if "ACCELERATE_MIXED_PRECISION" in os.environ:
        return "accelerate"
    return "torchrun" if "TORCHELASTIC_RUN_ID" in os.environ else "none"


def launch_record(accelerator, config: TrainConfig) -> dict:
    """What this run actually uses: processes, machines, precision, backend, device and
    the global batch (``batch_size × accumulation_steps × processes``)."""
    processes = accelerator.num_processes
    per_machine = int(os.environ.get("LOCAL_WORLD_SIZE", processes))
    per_step = config.data.batch_size * config.optim.accumulation_steps
    return {"processes": processes, "machines": max(1, processes // max(per_machine, 1)),
            "processes_per_machine": per_machine, "precision": accelerator.mixed_precision,
            "backend": accelerator.state.backend or "none",
            "distributed_type": str(accelerator.distributed_type),
            "device": str(accelerator.device), "launcher": launcher_name(),
            "global_batch": per_step * processes,
            "global_batch_formula": f"{config.data.batch_size} clips × "
                                    f"{config.optim.accumulation_steps} accumulation steps × "
                                    f"{processes} processes"}


def describe(record: dict) -> str:
    """One line for the log: ``launch: 2 processes on 1 machine (gloo, cpu), ...``."""
    machines = record["machines"]
    return (f"launch: {record['processes']} process{'es' * (record['processes'] != 1)} on "
            f"{machines} machine{'s' * (machines != 1)} ({record['backend']}, "
            f"{record['device']}), precision {record['precision']}, global batch "
            f"{record['global_batch']} = {record['global_batch_formula']}")


def write_launch(directory: Path, record: dict) -> None:
    Path(directory, LAUNCH_NAME).write_text(json.dumps(record, indent=1))


def accelerate_launch_args(command_line: list[str]):
    """Accelerate's parsed ``accelerate launch`` arguments from a process's command line
    (``[python, .../accelerate, launch, ...]`` or ``[python, -m,
    accelerate.commands.launch, ...]``), or None when it is not one."""
    for index, word in enumerate(command_line):
        launch_script = "accelerate" in Path(word).name and command_line[index + 1:index + 2] \
            == ["launch"]
        if launch_script or word == "accelerate.commands.launch":
            from accelerate.commands.launch import launch_command_parser

            rest = command_line[index + (2 if launch_script else 1):]
            try:
                return launch_command_parser().parse_args(rest)
            except SystemExit:  # not a command line accelerate would have run
                return None
    return None


def parent_command_line() -> list[str]:
    try:
        return Path(f"/proc/{os.getppid()}/cmdline").read_bytes().decode().split("\0")[:-1]
    except OSError:
        import psutil

        return psutil.Process(os.getppid()).cmdline()


def accelerate_processes_not_started() -> tuple[int, int, int, str, int] | None:
    """``(processes per machine, machines, machine rank, main ip, main port)`` when this is
    the one process Accelerate's simple launcher started for a launch of several; else
    None."""
    if "WORLD_SIZE" in os.environ or "ACCELERATE_MIXED_PRECISION" not in os.environ:
        return None
    args = accelerate_launch_args(parent_command_line())
    if args is None:
        return None
    machines = args.num_machines or 1
    processes = args.num_processes or 1
    if processes <= 1 and machines <= 1:
        return None
    if processes % machines:
        raise ValueError(f"accelerate launch --num_processes {processes} is not a multiple "
                         f"of --num_machines {machines}")
    return (processes // machines, machines, args.machine_rank or 0,
            args.main_process_ip or "127.0.0.1", int(args.main_process_port or 29500))


def relaunch_for_accelerate(argv: list[str]) -> bool:
    """Start the processes ``accelerate launch`` asked for and did not start (module
    docstring), each running ``python -m mmssl.train argv``; True when it did (this
    process then only waited for them), False when there was nothing to do."""
    found = accelerate_processes_not_started()
    if found is None:
        return False
    per_machine, machines, machine_rank, address, port = found
    if torch.cuda.is_available() and not on_cpus_requested() and \
            per_machine > torch.cuda.device_count():
        raise ValueError(f"accelerate launch asked for {per_machine} processes on this "
                         f"machine but it has {torch.cuda.device_count()} GPUs; add --cpu "
                         f"to train on CPUs")
    from torch.distributed import run as torchrun

    print(f"accelerate launch started 1 process for {per_machine * machines}; starting "
          f"{per_machine} on this machine (machine {machine_rank} of {machines}) with "
          f"torch.distributed.run", file=sys.stderr, flush=True)
    torchrun.run(torchrun.get_args_parser().parse_args([
        "--nnodes", str(machines), "--nproc_per_node", str(per_machine),
        "--node_rank", str(machine_rank), "--master_addr", address, "--master_port", str(port),
        "-m", "mmssl.train", *argv]))
    return True
