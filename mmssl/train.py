"""The training loop: Accelerate for devices and precision, our own shard split for data.

``mmssl train --config configs/x.yaml [--a.b=c ...]`` or ``accelerate launch -m mmssl.train
--config ...``. The run directory gets ``config.yaml`` (resolved), ``tokenizer.json``,
``log.jsonl`` (one line per logged step) and ``checkpoint/`` (``model.safetensors`` plus
the resolved config and tokenizer, everything evaluation needs).
"""

from __future__ import annotations

import argparse
import json
import math
import random
import tarfile
import time
from collections import Counter
from pathlib import Path

import numpy as np
import torch
from accelerate import Accelerator
from tqdm import tqdm

from mmssl.checkpoint import build_method, save_checkpoint
from mmssl.config import TrainConfig, load_config, save_config
from mmssl.data.pipeline import TrainingStream, shard_paths
from mmssl.data.tokenizer import WordTokenizer
from mmssl.shard_format import decode_meta

CHECKPOINT_DIR = "checkpoint"


def narration_texts(shards_dir: str):
    """Every narration in the training shards (reads the JSON members only)."""
    for path in shard_paths(shards_dir):
        with tarfile.open(path) as tar:
            for member in tar:
                if member.name.endswith(".json"):
                    for text in decode_meta(tar.extractfile(member).read())["texts"]:
                        yield text["text"]


def param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict]:
    """Weight decay on weight matrices and kernels only, not on norms or biases."""
    decay, no_decay = [], []
    for param in model.parameters():
        if param.requires_grad:
            (decay if param.ndim >= 2 else no_decay).append(param)
    return [{"params": decay, "weight_decay": weight_decay},
            {"params": no_decay, "weight_decay": 0.0}]


def warmup_cosine(warmup: int, total: int):
    """lr factor: linear warm-up over ``warmup`` steps, then cosine decay to 0 at ``total``."""
    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, total - warmup)
        return 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0)))
    return factor


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def train(config: TrainConfig, progress: bool = True) -> Path:
    """Train to ``optim.max_steps``; returns the checkpoint directory."""
    if config.threads:
        torch.set_num_threads(config.threads)
    seed_everything(config.seed)
    accelerator = Accelerator(mixed_precision=config.mixed_precision)
    run_dir = Path(config.output_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    tokenizer = _tokenizer(config, run_dir, accelerator)
    method = build_method(config, tokenizer.vocab_size)
    optimizer = torch.optim.AdamW(param_groups(method, config.optim.weight_decay),
                                  lr=config.optim.lr)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, warmup_cosine(config.optim.warmup_steps, config.optim.max_steps))
    # The schedule is not prepared: Accelerate would step it once per process per step,
    # running the warm-up and decay num_processes times too fast. Steps are global steps.
    method, optimizer = accelerator.prepare(method, optimizer)
    stream = TrainingStream(config.data, tokenizer, config.seed, accelerator.process_index,
                            accelerator.num_processes)
    loader = torch.utils.data.DataLoader(stream, batch_size=None,
                                         num_workers=config.data.num_workers)
    if accelerator.is_main_process:
        save_config(config, run_dir / "config.yaml")
    _loop(config, accelerator, method, optimizer, schedule, loader, run_dir, progress)
    return _save_checkpoint(config, accelerator, method, tokenizer, run_dir)


def _tokenizer(config: TrainConfig, run_dir: Path, accelerator: Accelerator) -> WordTokenizer:
    path = run_dir / "tokenizer.json"
    if accelerator.is_main_process and not path.is_file():
        WordTokenizer.train(narration_texts(config.data.shards)).save(path)
    accelerator.wait_for_everyone()
    return WordTokenizer.load(path)


def _loop(config, accelerator, method, optimizer, schedule, loader, run_dir, progress):
    total = config.optim.max_steps
    if total <= 0:  # max_steps=0 saves the initialisation (a chance-level reference)
        return
    bar = tqdm(total=total, desc="train", unit="step",
               disable=not (progress and accelerator.is_main_process))
    log = open(run_dir / "log.jsonl", "a") if accelerator.is_main_process else None
    started, waited, fetched = time.time(), 0.0, time.time()
    skipped_by_worker: dict[int, dict] = {}
    for step, batch in enumerate(loader, start=1):
        waited += time.time() - fetched
        skipped_by_worker[batch["skipped"]["worker"]] = batch["skipped"]["counts"]
        batch = _to_device(batch, accelerator.device)
        with accelerator.autocast():
            out = method(batch)
        accelerator.backward(out["loss"])
        if config.optim.grad_clip:
            accelerator.clip_grad_norm_(method.parameters(), config.optim.grad_clip)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad(set_to_none=True)
        after_step = getattr(accelerator.unwrap_model(method), "after_step", None)
        if after_step is not None:
            after_step()
        bar.update(1)
        if log and (step % config.log_every == 0 or step == total):
            record = _record(step, out, schedule, batch, started, waited, accelerator)
            record["skipped"] = dict(sum((Counter(c) for c in skipped_by_worker.values()),
                                         Counter()))
            log.write(json.dumps(record) + "\n")
            log.flush()
            bar.set_postfix(loss=f"{record['loss']:.3f}", sps=f"{record['samples_per_s']:.0f}")
        fetched = time.time()
        if step >= total:
            break
    bar.close()
    if log:
        log.close()


def _record(step, out, schedule, batch, started, waited, accelerator) -> dict:
    elapsed = time.time() - started
    samples = step * len(batch["video"]) * accelerator.num_processes
    record = {"step": step, "lr": schedule.get_last_lr()[0],
              "samples_per_s": samples / elapsed, "data_wait_fraction": waited / elapsed}
    record.update({key: float(value.detach()) for key, value in out.items()})
    return record


def _to_device(batch: dict, device) -> dict:
    return {key: value.to(device, non_blocking=True) if torch.is_tensor(value) else value
            for key, value in batch.items() if key != "skipped"}


def _save_checkpoint(config, accelerator, method, tokenizer, run_dir: Path) -> Path:
    accelerator.wait_for_everyone()
    checkpoint = run_dir / CHECKPOINT_DIR
    if accelerator.is_main_process:
        save_checkpoint(checkpoint, accelerator.unwrap_model(method), config, tokenizer)
    accelerator.wait_for_everyone()
    return checkpoint


def main(argv: list[str] | None = None) -> Path:
    """``python -m mmssl.train --config X.yaml [--a.b=c ...]`` (also what ``mmssl train`` and
    ``accelerate launch -m mmssl.train`` run)."""
    parser = argparse.ArgumentParser(prog="mmssl train", description="Pretrain a model.")
    parser.add_argument("--config", help="YAML file overriding TrainConfig defaults")
    parser.add_argument("--no-progress", action="store_true")
    args, overrides = parser.parse_known_args(argv)
    config = load_config(TrainConfig, args.config, overrides)
    checkpoint = train(config, progress=not args.no_progress)
    print(f"checkpoint: {checkpoint}")
    return checkpoint


if __name__ == "__main__":
    main()
