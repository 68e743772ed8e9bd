"""Training with 2 real processes (gloo, CPU, DDP through Accelerate) equals training in 1
process on the same global batch; gradient accumulation keeps the whole accumulated batch
as negatives."""

import functools
import itertools
import json
import os
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from mmssl.config import DataConfig, TrainConfig, load_config
from mmssl.data.tokenizer import WordTokenizer
from mmssl.data.training_stream import TrainingStream
from mmssl.train import narration_texts, train

pytestmark = [pytest.mark.slow, pytest.mark.multiprocess]

WORLD, PER_RANK, STEPS = 2, 4, 3


def config_for(out, **extra) -> TrainConfig:
    overrides = {"output_dir": out, "data.batch_size": PER_RANK, "optim.max_steps": STEPS,
                 "optim.warmup_steps": 1, "log_every": 1, "checkpoint_every": 0,
                 "tensorboard": False, "threads": 1, "loss.weights.at": 1.0, **extra}
    return load_config(TrainConfig, None, [f"--{k}={v}" for k, v in overrides.items()])


def halves(batch: dict) -> list[dict]:
    """Rank r's part of a global batch: rows [r·PER_RANK, (r+1)·PER_RANK)."""
    return [{k: v[r * PER_RANK:(r + 1) * PER_RANK] for k, v in batch.items()}
            for r in range(WORLD)]


def _two_process_body(data: str, rank: int) -> dict:
    os.environ.update(WORLD_SIZE=str(WORLD), RANK=str(rank), LOCAL_RANK=str(rank),
                      LOCAL_WORLD_SIZE=str(WORLD), MASTER_ADDR="127.0.0.1",
                      OMP_NUM_THREADS="1")
    global_batches = torch.load(Path(data) / "batches.pt")
    mine = iter([halves(batch)[rank] for batch in global_batches])
    checkpoint = train(config_for(Path(data) / "ddp"), progress=False, batches=mine)
    if rank:
        return {}
    return {"weights": load_file(str(checkpoint / "model.safetensors")),
            "log": (Path(data) / "ddp" / "log.jsonl").read_text()}


def losses(log_text: str) -> list[dict]:
    return [{k: v for k, v in json.loads(line).items() if k.startswith("loss")}
            for line in log_text.splitlines()]


def parameters(weights: dict) -> dict:
    """Trainable tensors only: batch-norm running statistics are per process under DDP."""
    return {k: v for k, v in weights.items()
            if "running_" not in k and "num_batches_tracked" not in k}


def test_two_processes_equal_one_process_on_the_same_global_batch(tiny_shards, run_gloo,
                                                                   tmp_path):
    tokenizer = WordTokenizer.train(narration_texts([str(tiny_shards["howto100m"])]))
    for run in ("ddp", "single"):
        (tmp_path / run).mkdir()
        tokenizer.save(tmp_path / run / "tokenizer.json")
    data = DataConfig(shards=str(tiny_shards["howto100m"]), batch_size=WORLD * PER_RANK,
                      num_workers=0, shuffle_buffer=8, clips_per_sample=2)
    global_batches = [{k: v for k, v in b.items() if torch.is_tensor(v)} for b in
                      itertools.islice(iter(TrainingStream(data, tokenizer)), STEPS)]
    torch.save(global_batches, tmp_path / "batches.pt")

    ddp = run_gloo(functools.partial(_two_process_body, str(tmp_path)), WORLD)[0]

    # One process, the same global batch each step, as WORLD micro-batches of PER_RANK:
    # each micro-batch gets its own batch-norm statistics, as each process does.
    micro = iter([half for batch in global_batches for half in halves(batch)])
    single = train(config_for(tmp_path / "single", **{"optim.accumulation_steps": WORLD}),
                   progress=False, batches=micro)
    single_log = (tmp_path / "single" / "log.jsonl").read_text()
    for a, b in zip(losses(ddp["log"]), losses(single_log), strict=True):
        assert a.keys() == b.keys() and {"loss_va", "loss_vt", "loss_at"} <= a.keys()
        for key in a:
            assert abs(a[key] - b[key]) <= 1e-5 * abs(b[key]), (key, a[key], b[key])
    ours, reference = parameters(ddp["weights"]), parameters(load_file(
        str(single / "model.safetensors")))
    assert ours.keys() == reference.keys()
    for key in ours:
        torch.testing.assert_close(ours[key], reference[key], rtol=1e-4, atol=1e-6)
