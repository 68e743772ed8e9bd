"""A run directory belongs to one run: a new run in a used directory refuses to start unless
told to resume or to overwrite; checkpoints name their run and pruning keeps only this
run's verified ones; a corrupted checkpoint is named; a folder that is not a checkpoint is
ignored with a warning; log.jsonl never holds two runs."""

import json
import shutil

import pytest
import yaml

from mmssl.cli import main
from mmssl.config import TrainConfig, load_config, save_config
from mmssl.train import train
from mmssl.training.run_directory import RunDirectoryError
from mmssl.training.state import (
    RunCheckpoints,
    checkpoint_run,
    prune,
    saved_steps,
    step_dir,
)

pytestmark = pytest.mark.slow


def config_for(shards, out, **extra) -> TrainConfig:
    overrides = {"data.shards": shards, "output_dir": out, "data.batch_size": 4,
                 "data.num_workers": 0, "data.shuffle_buffer": 8, "optim.max_steps": 3,
                 "optim.warmup_steps": 1, "log_every": 1, "checkpoint_every": 1,
                 "keep_checkpoints": 2, "threads": 1, "tensorboard": False, **extra}
    return load_config(TrainConfig, None, [f"--{k}={v}" for k, v in overrides.items()])


def logged_steps(run_dir) -> list[int]:
    lines = (run_dir / "log.jsonl").read_text().splitlines()
    return [json.loads(line)["step"] for line in lines]


def run_ids(run_dir) -> set[str]:
    return {checkpoint_run(d) for d in saved_steps(run_dir / "checkpoints")}


@pytest.fixture(scope="module")
def first_run(real_shards, tmp_path_factory):
    """A finished 3-step run with a checkpoint every step (the newest 2 kept)."""
    out = tmp_path_factory.mktemp("first_run")
    train(config_for(real_shards["howto100m"], out), progress=False)
    return out


def used_copy(first_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(first_run, run)
    return run


def test_checkpoints_name_their_run_and_only_the_newest_are_kept(first_run):
    steps = saved_steps(first_run / "checkpoints")
    assert [step.name for step in steps] == ["step-000000003", "step-000000002"]
    (run_id,) = run_ids(first_run)
    assert run_id and len(run_id) == 12
    assert logged_steps(first_run) == [1, 2, 3]


def test_a_new_run_in_a_used_directory_refuses_to_start(real_shards, first_run, tmp_path,
                                                        capsys):
    run = used_copy(first_run, tmp_path)
    before = {p.name: p.stat().st_mtime_ns for p in (run / "checkpoints").iterdir()}
    with pytest.raises(RunDirectoryError, match="holds another run.*--resume latest.*"
                                                 "--overwrite"):
        train(config_for(real_shards["howto100m"], run), progress=False)
    path = tmp_path / "again.yaml"
    save_config(config_for(real_shards["howto100m"], run), path)
    assert main(["train", "--config", str(path), "--no-progress"]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and error.startswith(f"mmssl: error: {run} holds")
    assert "checkpoints/step-000000003" in error and "checkpoint," in error
    assert {p.name: p.stat().st_mtime_ns for p in (run / "checkpoints").iterdir()} == before
    assert logged_steps(run) == [1, 2, 3]


def test_overwrite_starts_a_new_run_whose_log_and_checkpoints_are_its_own(
        real_shards, first_run, tmp_path):
    run = used_copy(first_run, tmp_path)
    (old_id,) = run_ids(run)
    config = config_for(real_shards["howto100m"], run, overwrite="true",
                        **{"optim.max_steps": 2})
    train(config, progress=False)
    (new_id,) = run_ids(run)
    assert new_id != old_id
    assert [s.name for s in saved_steps(run / "checkpoints")] == ["step-000000002",
                                                                  "step-000000001"]
    assert logged_steps(run) == [1, 2]  # not the first run's 1, 2, 3 before them
    assert yaml.safe_load((run / "config.yaml").read_text())["overwrite"] is True
    with pytest.raises(RunDirectoryError, match="exclude each other"):
        train(config_for(real_shards["howto100m"], run, overwrite="true", resume="latest"),
              progress=False)


@pytest.mark.filterwarnings("ignore:ignoring .*step-12.bak")
def test_resume_ignores_a_folder_that_is_not_a_checkpoint_and_names_a_corrupted_one(
        real_shards, first_run, tmp_path):
    run = used_copy(first_run, tmp_path)
    states = run / "checkpoints"
    shutil.copytree(step_dir(states, 2), states / "step-12.bak")  # a user's backup
    weights = step_dir(states, 2) / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-64])  # the older one damaged on disk
    (run_id,) = run_ids(run)
    config = config_for(real_shards["howto100m"], run, resume="latest",
                        **{"optim.max_steps": 4})
    with pytest.warns(UserWarning) as warned:
        train(config, progress=False)
    messages = [str(w.message) for w in warned]
    assert any("ignoring" in m and "step-12.bak: not a checkpoint directory" in m
               for m in messages)
    assert any("removing corrupted checkpoint" in m and "step-000000002" in m
               for m in messages)
    assert [s.name for s in saved_steps(states)] == ["step-000000004", "step-000000003"]
    assert run_ids(run) == {run_id}  # the resumed run goes on under its id
    assert (states / "step-12.bak").is_dir() and logged_steps(run) == [1, 2, 3, 4]


def test_when_every_checkpoint_is_corrupted_resume_refuses(real_shards, first_run, tmp_path):
    run = used_copy(first_run, tmp_path)
    for step in saved_steps(run / "checkpoints"):
        (step / "training.pt").write_bytes(b"damaged")
    with pytest.warns(UserWarning, match="skipping checkpoint"), \
            pytest.raises(RunDirectoryError, match="no verified checkpoint to resume from"):
        train(config_for(real_shards["howto100m"], run, resume="latest"), progress=False)


def test_pruning_leaves_other_runs_checkpoints_alone(first_run, tmp_path):
    states = tmp_path / "checkpoints"
    shutil.copytree(first_run / "checkpoints", states)
    (owner,) = run_ids(first_run)
    prune(states, RunCheckpoints("someone-else", keep=1))
    assert len(saved_steps(states)) == 2  # not this run's: untouched
    prune(states, RunCheckpoints(owner, keep=1))
    assert [s.name for s in saved_steps(states)] == ["step-000000003"]
