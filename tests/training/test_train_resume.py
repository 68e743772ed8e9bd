"""Exact resume: a run killed with a real SIGKILL and resumed with ``--resume latest``
ends with the same losses and weights, bit for bit, as an uninterrupted run; a corrupted
or partial checkpoint is detected and the previous one is used."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file

from mmssl.config import TrainConfig, load_config, save_config
from mmssl.train import train
from mmssl.training.state import find_resumable, saved_steps, step_dir, verify

pytestmark = [pytest.mark.slow, pytest.mark.multiprocess]

STEPS = 8
REPO = Path(__file__).parents[2]


def tiny_config(shards, out, **extra) -> TrainConfig:
    overrides = {"data.shards": shards, "output_dir": out, "data.batch_size": 4,
                 "data.num_workers": 2, "data.shuffle_buffer": 8, "data.clips_per_sample": 2,
                 "optim.max_steps": STEPS, "optim.warmup_steps": 2, "log_every": 1,
                 "checkpoint_every": 1, "keep_checkpoints": 3, "threads": 1, **extra}
    return load_config(TrainConfig, None, [f"--{k}={v}" for k, v in overrides.items()])


def losses(run_dir) -> list[dict]:
    """Each logged step's loss terms and learning rate (not its timings)."""
    records = [json.loads(line) for line in (Path(run_dir) / "log.jsonl").read_text().splitlines()]
    return [{k: v for k, v in record.items() if k == "step" or k == "lr"
             or k.startswith("loss")} for record in records if "loss" in record]


def weights(run_dir) -> dict:
    return load_file(str(Path(run_dir) / "checkpoint" / "model.safetensors"))


def assert_same_weights(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


@pytest.fixture(scope="module")
def uninterrupted(tiny_shards, tmp_path_factory):
    """The reference run, with zero-shot eval every 4 steps (the others run without it:
    evaluating must not change training)."""
    out = tmp_path_factory.mktemp("uninterrupted")
    train(tiny_config(tiny_shards["howto100m"], out, eval_every=4, eval_windows=1,
                      eval_shards=tiny_shards["youcook2"]), progress=False)
    return out


def test_sigkill_then_resume_latest_matches_uninterrupted_run(tiny_shards, uninterrupted,
                                                             tmp_path):
    config_path = tmp_path / "config.yaml"
    save_config(tiny_config(tiny_shards["howto100m"], tmp_path / "run"), config_path)
    command = [sys.executable, "-m", "mmssl.train", "--config", str(config_path),
               "--no-progress"]
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    states = tmp_path / "run" / "checkpoints"
    deadline = time.time() + 240
    while not step_dir(states, 3).is_dir() and process.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)  # no handler, no clean-up: mid-step or mid-write
    _, stderr = process.communicate()
    assert process.returncode == -signal.SIGKILL, stderr.decode()[-2000:]
    newest = int(saved_steps(states)[0].name.split("-")[1])
    assert 3 <= newest < STEPS and not (tmp_path / "run" / "checkpoint").exists()

    resumed = subprocess.run([*command, "--resume", "latest"], cwd=REPO, capture_output=True,
                             text=True, timeout=240)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert f"(step {newest})" in resumed.stdout
    assert losses(tmp_path / "run") == losses(uninterrupted)
    assert [r["step"] for r in losses(tmp_path / "run")] == list(range(1, STEPS + 1))
    assert_same_weights(weights(tmp_path / "run"), weights(uninterrupted))
    assert len(saved_steps(states)) == 3  # keep-last-N


def test_corrupted_and_partial_checkpoints_fall_back_to_the_previous_one(
        tiny_shards, uninterrupted, tmp_path):
    run = tmp_path / "run"
    states = run / "checkpoints"
    (run).mkdir()
    for name in ("tokenizer.json", "log.jsonl"):
        (run / name).write_bytes((uninterrupted / name).read_bytes())
    for step in (STEPS - 2, STEPS - 1, STEPS):
        source = step_dir(uninterrupted / "checkpoints", step)
        target = step_dir(states, step)
        target.mkdir(parents=True)
        for path in source.iterdir():
            (target / path.name).write_bytes(path.read_bytes())
    # The newest: weights truncated after the manifest was written (a disk fault).
    newest = step_dir(states, STEPS) / "model.safetensors"
    newest.write_bytes(newest.read_bytes()[:-100])
    with pytest.raises(Exception, match="corrupted"):
        verify(step_dir(states, STEPS))
    # The next: written but never completed (no manifest).
    (step_dir(states, STEPS - 1) / "complete.json").unlink()
    # A partial directory from a kill mid-write is ignored.
    step_dir(states, STEPS + 1).with_name(f"step-{STEPS + 1:09d}.partial").mkdir()
    with pytest.warns(UserWarning, match="skipping checkpoint"):
        assert find_resumable(states, "latest") == step_dir(states, STEPS - 2)

    config = tiny_config(tiny_shards["howto100m"], run, resume="latest")
    with pytest.warns(UserWarning, match="skipping checkpoint"):
        train(config, progress=False)
    assert losses(run) == losses(uninterrupted)
    assert_same_weights(weights(run), weights(uninterrupted))


def test_checkpoint_files_load_without_executing_code(uninterrupted):
    directory = saved_steps(uninterrupted / "checkpoints")[0]
    state = torch.load(directory / "training.pt", weights_only=True)
    assert state["step"] == STEPS and state["batches_consumed"] == STEPS
    assert {"optimizer", "schedule", "scaler"} <= set(state)
    manifest = json.loads((directory / "complete.json").read_text())
    assert set(manifest["files"]) == {"model.safetensors", "training.pt", "rng-rank0.pt"}
    evals = [json.loads(line) for line in (uninterrupted / "log.jsonl").read_text().splitlines()
             if "eval" in line]
    assert [e["step"] for e in evals] == [4, 8]
    assert 0 <= evals[-1]["eval"]["text->video"]["R@1"] <= 1
    config = yaml.safe_load((uninterrupted / "config.yaml").read_text())
    assert config["checkpoint_every"] == 1 and os.path.isdir(uninterrupted / "tensorboard")
