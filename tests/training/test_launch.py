"""Launches that mean what they say (docs/training.md): ``accelerate launch --num_processes
N`` with or without ``--cpu``, ``torchrun --nproc_per_node N``, and two "machines" of one
process each on localhost with either launcher, train the processes they name; the
launcher's precision is honoured unless the config sets one, and a config that contradicts
it is an error. Each run is checked by what it wrote (``launch.json`` next to its config
and in its checkpoint: processes, machines, precision, backend) and by what it printed
(one ``launch:`` and one ``checkpoint:`` line, from the main process)."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from mmssl.training.launch import (
    accelerate_launch_args,
    describe,
    resolved_precision,
)

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def train_args(shards, out, *extra) -> list[str]:
    return ["-m", "mmssl.train", f"--data.shards={shards}", f"--output_dir={out}",
            "--data.batch_size=4", "--data.num_workers=0", "--data.shuffle_buffer=8",
            "--optim.max_steps=2", "--optim.warmup_steps=1", "--log_every=1", "--threads=1",
            "--checkpoint_every=0", "--tensorboard=false", "--no-progress", *extra]


def launch(commands: list[list[str]], timeout: int = 300) -> list[str]:
    """Run the commands at once (one per "machine"); their outputs, after all succeed."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("ACCELERATE_", "WORLD_SIZE", "RANK", "LOCAL_", "MASTER_"))}
    env["OMP_NUM_THREADS"] = "1"
    running = [subprocess.Popen(c, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                env=env) for c in commands]
    outputs = [p.communicate(timeout=timeout)[0] for p in running]
    for process, output in zip(running, outputs, strict=True):
        assert process.returncode == 0, output[-3000:]
    return outputs


def check_run(out: Path, outputs: list[str], processes: int, machines: int, precision: str):
    """What the run used, read from what it wrote, and what it printed."""
    for where in (out, out / "checkpoint"):
        record = json.loads((where / "launch.json").read_text())
        assert (record["processes"], record["machines"], record["precision"]) == \
            (processes, machines, precision), record
        assert record["backend"] == ("gloo" if processes > 1 else "none")
        assert record["global_batch"] == 4 * processes
    printed = "".join(outputs)
    assert printed.count("checkpoint: ") == 1, printed[-3000:]
    assert printed.count("launch: ") == 1
    assert len((out / "log.jsonl").read_text().splitlines()) == 2


@pytest.mark.slow
@pytest.mark.multiprocess
@pytest.mark.parametrize(("launcher", "processes", "machines", "precision"), [
    ("accelerate", 2, 1, "bf16"), ("accelerate --cpu", 2, 1, "no"), ("torchrun", 2, 1, "no"),
    ("accelerate --cpu", 2, 2, "bf16"), ("torchrun", 2, 2, "no"),
])
def test_launch_trains_the_processes_it_names(tiny_shards, tmp_path, launcher, processes,
                                              machines, precision):
    out, port = tmp_path / "run", free_port()
    args = train_args(tiny_shards["howto100m"], out)
    per_machine = processes // machines
    commands = []
    for machine in range(machines):
        if launcher.startswith("accelerate"):
            command = [str(BIN / "accelerate"), "launch", *launcher.split()[1:],
                       "--num_processes", str(processes), "--num_machines", str(machines),
                       "--machine_rank", str(machine), "--main_process_ip", "127.0.0.1",
                       "--main_process_port", str(port)]
            if precision != "no":
                command += ["--mixed_precision", precision]
        else:
            command = [str(BIN / "torchrun"), "--nnodes", str(machines), "--nproc_per_node",
                       str(per_machine), "--rdzv_backend", "c10d", "--rdzv_endpoint",
                       f"127.0.0.1:{port}", "--rdzv_id", "launch-test"]
        commands.append(command + args)
    check_run(out, launch(commands), processes, machines, precision)


@pytest.mark.slow
@pytest.mark.multiprocess
def test_the_config_sets_the_precision_when_the_launcher_does_not(tiny_shards, tmp_path):
    out = tmp_path / "run"
    command = [str(BIN / "torchrun"), "--standalone", "--nproc_per_node", "2",
               *train_args(tiny_shards["howto100m"], out, "--mixed_precision=bf16")]
    check_run(out, launch([command]), 2, 1, "bf16")


@pytest.mark.parametrize(("config", "launcher", "expected"), [
    ("inherit", None, "no"), ("inherit", "no", "no"), ("inherit", "bf16", "bf16"),
    ("bf16", None, "bf16"), ("fp16", "no", "fp16"), ("bf16", "bf16", "bf16"),
])
def test_precision_from_the_launcher_unless_the_config_sets_one(monkeypatch, config, launcher,
                                                                expected):
    monkeypatch.delenv("ACCELERATE_MIXED_PRECISION", raising=False)
    if launcher is not None:
        monkeypatch.setenv("ACCELERATE_MIXED_PRECISION", launcher)
    assert resolved_precision(config) == expected


@pytest.mark.parametrize(("config", "launcher"), [("fp16", "bf16"), ("no", "fp16")])
def test_a_config_that_contradicts_the_launcher_is_an_error(monkeypatch, config, launcher):
    monkeypatch.setenv("ACCELERATE_MIXED_PRECISION", launcher)
    with pytest.raises(ValueError, match=f"mixed_precision='{config}' but the launcher asked "
                                         f"for '{launcher}'"):
        resolved_precision(config)
    with pytest.raises(ValueError, match="expected one of"):
        resolved_precision("fp32")


def test_reads_an_accelerate_launch_command_line():
    args = accelerate_launch_args(["/venv/bin/python", "/venv/bin/accelerate", "launch", "--cpu",
                                   "--num_processes", "4", "--num_machines", "2",
                                   "--machine_rank", "1", "-m", "mmssl.train", "--seed=3"])
    assert (args.cpu, args.num_processes, args.num_machines, args.machine_rank) == \
        (True, 4, 2, 1)
    assert args.training_script == "mmssl.train" and args.training_script_args == ["--seed=3"]
    module = accelerate_launch_args(["python", "-m", "accelerate.commands.launch",
                                     "--num_processes", "2", "-m", "mmssl.train"])
    assert module.num_processes == 2
    assert accelerate_launch_args(["torchrun", "--nproc_per_node", "2", "-m", "x"]) is None


def test_describe_names_processes_machines_backend_precision_and_batch():
    record = {"processes": 4, "machines": 2, "backend": "gloo", "device": "cpu",
              "precision": "bf16", "global_batch": 32,
              "global_batch_formula": "8 clips × 1 accumulation steps × 4 processes"}
    assert describe(record) == ("launch: 4 processes on 2 machines (gloo, cpu), precision "
                                "bf16, global batch 32 = 8 clips × 1 accumulation steps × 4 "
                                "processes")
