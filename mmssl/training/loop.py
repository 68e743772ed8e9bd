"""The training loop: Accelerate for devices, precision and gradient sync; our own shard
split for data; resumable state every ``checkpoint_every`` steps.

A *step* is one optimiser step over ``accumulation_steps`` loader batches on every
process, i.e. ``batch_size × accumulation_steps × processes`` samples. The schedule, the
checkpoints, the logs and ``max_steps`` all count global steps.
"""

from __future__ import annotations

import dataclasses
import json
import random
import time
from collections import Counter
from pathlib import Path

import numpy as np
import torch
from accelerate import Accelerator
from tqdm import tqdm

from mmssl.checkpoint import save_checkpoint
from mmssl.config import TrainConfig, save_config
from mmssl.data.candidates import candidate_rule
from mmssl.data.recycling import RECYCLE_KEY
from mmssl.data.threads import torch_threads
from mmssl.data.tokenizer import WordTokenizer, build_tokenizer, load_tokenizer
from mmssl.data.training_stream import TrainingStream
from mmssl.data.worker_loader import worker_loader
from mmssl.methods import build_method
from mmssl.methods.towers import load_pretrained
from mmssl.training.accumulate import accumulated_step
from mmssl.training.launch import accelerator_options, describe, launch_record, write_launch
from mmssl.training.observe import Interval, RunLog, memory
from mmssl.training.optim import build_optimizer
from mmssl.training.run_directory import (
    CHECKPOINT_DIR,
    CONFIG_FILE,
    STATES_DIR,
    TOKENIZER_FILE,
    claim,
)
from mmssl.training.schedule import build_schedule
from mmssl.training.state import (
    read_training,
    restore_weights_and_rng,
    rng_state,
    save_state,
    set_rng_state,
)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)




class Run:
    """Everything one training run holds: config, accelerator, model, optimiser, data."""

    def __init__(self, config: TrainConfig, progress: bool):
        # threads: 0 leaves the count to the machine's cores and the loader's workers.
        torch.set_num_threads(torch_threads(config.threads, config.data.num_workers))
        seed_everything(config.seed)
        self.config, self.progress = config, progress
        # Processes, precision and backend as the launcher and the config say (launch.py).
        self.accelerator = Accelerator(**accelerator_options(config))
        self.launch = launch_record(self.accelerator, config)
        self.run_dir = Path(config.output_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        # Whose directory this is, decided before anything is written into it: a new run
        # in another run's directory stops here (run_directory.claim).
        self.claim = claim(self.run_dir, config.resume, config.overwrite,
                           config.keep_checkpoints, self.accelerator.is_main_process)
        self.accelerator.wait_for_everyone()
        self.tokenizer = _tokenizer(config, self.run_dir, self.accelerator)
        method = build_method(config, self.tokenizer.vocab_size)
        # Where to resume from, found before pretrained files are loaded: a run given
        # ``--resume latest`` with no checkpoint yet starts fresh, pretrained files included.
        self.resume_dir = self.claim.resume_dir
        self.resume_state = read_training(self.resume_dir) if self.resume_dir else {}
        # Local pretrained files start a fresh run only: a resumed run's weights are in
        # its checkpoint, pretrained start included.
        if self.resume_dir is None:
            report = load_pretrained(method.towers, config, self.tokenizer.vocabulary())
            if report and self.accelerator.is_main_process:
                print(f"pretrained: {json.dumps(report)}")
        optimizer = build_optimizer(method, config.optim)
        # The schedule is not prepared: Accelerate would step it once per process per step,
        # running the warm-up and decay num_processes times too fast. Steps are global.
        self.schedule = build_schedule(optimizer, config.optim)
        self.method, self.optimizer = self.accelerator.prepare(method, optimizer)
        # How the loop hands a batch's buffers back to the loader once stepped on
        # (batches() sets it; batches given ready-made are kept by their owner).
        self.release = _keep
        self.step = 0

    @property
    def core(self) -> torch.nn.Module:
        return self.accelerator.unwrap_model(self.method)

    def batches(self, start_batch: int):
        """This process's endless loader iterator, resumed at ``start_batch``."""
        config, accelerator = self.config, self.accelerator
        data = dataclasses.replace(config.data, candidates=candidate_rule(
            config.data.candidates, config.method))  # empty: the method's own rule
        stream = TrainingStream(data, self.tokenizer, config.seed,
                                accelerator.process_index, accelerator.num_processes,
                                start_batch=start_batch)
        self.release = stream.release
        # Pinned host memory lets each batch's copy to the GPU overlap the step.
        loader = worker_loader(stream, config.data.num_workers,
                               pin_memory=accelerator.device.type == "cuda")
        return iter(loader)

    def restore(self, directory: Path, training: dict) -> None:
        """Weights, this process's RNG states, optimiser, schedule, scaler and step."""
        restore_weights_and_rng(directory, self.core, self.accelerator.process_index,
                                training["num_processes"])
        self.optimizer.load_state_dict(training["optimizer"])
        self.schedule.load_state_dict(training["schedule"])
        if training.get("scaler") is not None and self.accelerator.scaler is not None:
            self.accelerator.scaler.load_state_dict(training["scaler"])
        self.step = int(training["step"])
        if self.accelerator.is_main_process:
            print(f"resume: {directory} (step {self.step})")

    def save_state(self) -> None:
        scaler = self.accelerator.scaler
        training = {"optimizer": self.optimizer.state_dict(),
                    "schedule": self.schedule.state_dict(),
                    "scaler": scaler.state_dict() if scaler is not None else None,
                    "step": self.step,
                    "batches_consumed": self.step * self.config.optim.accumulation_steps}
        save_state(self.run_dir / STATES_DIR, self.step, self.accelerator, self.core, training,
                   self.claim.checkpoints)

    def save_final(self) -> Path:
        """``checkpoint/``: weights + config + tokenizer, what evaluation reads."""
        self.accelerator.wait_for_everyone()
        checkpoint = self.run_dir / CHECKPOINT_DIR
        if self.accelerator.is_main_process:
            save_checkpoint(checkpoint, self.core, self.config, self.tokenizer)
            write_launch(checkpoint, self.launch)
        self.accelerator.wait_for_everyone()
        return checkpoint


def train(config: TrainConfig, progress: bool = True, batches=None) -> Path:
    """Train to ``optim.max_steps``; returns the checkpoint directory.

    ``batches``: an iterator of ready batches for this process instead of the shard loader
    (benchmarks feed tensors already in memory; tests feed fixed batches). Resuming with it
    is the caller's business.
    """
    run = Run(config, progress)
    directory, training = run.resume_dir, run.resume_state
    # The loader's iterator is made before the RNG states are restored: making it draws
    # from torch's RNG, and the saved states are those of the run after that draw.
    if batches is None:
        batches = run.batches(int(training.get("batches_consumed", 0)))
    if directory is not None:
        run.restore(directory, training)
    if run.accelerator.is_main_process:
        save_config(config, run.run_dir / CONFIG_FILE)
        write_launch(run.run_dir, run.launch)
        print(describe(run.launch), flush=True)
    _loop(run, batches)
    return run.save_final()


def _tokenizer(config: TrainConfig, run_dir: Path, accelerator: Accelerator) -> WordTokenizer:
    """The run's tokenizer: ``tokenizer.json`` of the run directory, made first if it is
    not there (from the shards' word counts or a fixed vocabulary, without reading the
    tars: ``mmssl/data/vocabulary.py``)."""
    path = run_dir / TOKENIZER_FILE
    if accelerator.is_main_process and not path.is_file():
        sources = list(config.data.mix) or [config.data.shards]
        build_tokenizer(config.model, sources).save(path)
    accelerator.wait_for_everyone()
    return load_tokenizer(path, config.model)


def _loop(run: Run, batches) -> None:
    config, accelerator = run.config, run.accelerator
    total, accumulation = config.optim.max_steps, config.optim.accumulation_steps
    if run.step >= total:  # max_steps=0 saves the initialisation (a chance-level reference)
        return
    main = accelerator.is_main_process
    log = RunLog(run.run_dir, main, config.tensorboard, run.step)
    bar = tqdm(total=total, initial=run.step, desc="train", unit="step",
               disable=not (run.progress and main))
    interval, skipped = Interval(), {}
    while run.step < total:
        fetched = time.perf_counter()
        micro = [next(batches) for _ in range(accumulation)]
        interval.waited += time.perf_counter() - fetched
        for batch in micro:
            if "skipped" in batch:
                skipped[batch["skipped"]["worker"]] = batch["skipped"]["counts"]
        fetched_batches, micro = micro, [_to_device(batch, accelerator.device) for batch in micro]
        out, grad_norm = _optimizer_step(run, micro)
        for batch in fetched_batches:  # done with: their buffers may be filled again
            run.release(batch)
        run.step += 1
        interval.samples += sum(map(_clips, micro)) * accelerator.num_processes
        bar.update(1)
        if main and (run.step % config.log_every == 0 or run.step == total):
            record = _record(run, out, grad_norm, interval, skipped)
            log.write(record)
            bar.set_postfix(loss=f"{record['loss']:.3f}", sps=f"{record['samples_per_s']:.0f}")
        if config.checkpoint_every and (run.step % config.checkpoint_every == 0
                                        or run.step == total):
            run.save_state()
        if config.eval_every and config.eval_shards and run.step % config.eval_every == 0:
            log.write({"step": run.step, "eval": _periodic_eval(run)})
    bar.close()
    log.close()


def _optimizer_step(run: Run, micro: list[dict]):
    config, accelerator = run.config, run.accelerator
    out = accumulated_step(accelerator, run.method, micro)
    grad_norm = None
    if config.optim.grad_clip:
        grad_norm = accelerator.clip_grad_norm_(run.method.parameters(), config.optim.grad_clip)
    run.optimizer.step()
    run.schedule.step()
    run.optimizer.zero_grad(set_to_none=True)
    after_step = getattr(run.core, "after_step", None)  # EMA / momentum encoders, queues
    if after_step is not None:
        after_step()
    return out, grad_norm


def _record(run: Run, out: dict, grad_norm, interval: Interval, skipped: dict) -> dict:
    record = {"step": run.step, "lr": run.schedule.get_last_lr()[0], **interval.take()}
    record.update({key: float(value.detach()) for key, value in out.items()})
    if grad_norm is not None:
        record["grad_norm"] = float(grad_norm)
    record.update(memory())
    record["skipped"] = dict(sum((Counter(c) for c in skipped.values()), Counter()))
    return record


def _periodic_eval(run: Run) -> dict:
    """Zero-shot YouCook2 retrieval of the live weights, in memory (main process; others
    wait). The model is evaluated in eval mode, then every module's mode and the RNG
    states are put back: a run with periodic eval trains exactly like one without.
    """
    from mmssl.config import EvalConfig
    from mmssl.eval.retrieval import evaluate_retrieval

    metrics = {}
    if run.accelerator.is_main_process:
        model, saved = run.core, rng_state()
        modes = [(module, module.training) for module in model.modules()]
        eval_config = EvalConfig(shards=run.config.eval_shards, windows=run.config.eval_windows)
        try:
            results, _ = evaluate_retrieval(model, run.config, run.tokenizer, eval_config)
        finally:
            for module, training in modes:
                module.training = training
            set_rng_state(saved)
        metrics = {direction: {k: v for k, v in values.items() if k != "num_queries"}
                   for direction, values in results["metrics"].items()}
    run.accelerator.wait_for_everyone()
    return metrics


def _clips(batch: dict) -> int:
    """Clips in a batch: the length of its tensors (labelled audio clips have no video)."""
    return len(next(value for value in batch.values() if torch.is_tensor(value)))


def _keep(batch: dict) -> None:
    """Batches that did not come from this run's loader are not handed back."""


def _to_device(batch: dict, device) -> dict:
    return {key: value.to(device, non_blocking=True) if torch.is_tensor(value) else value
            for key, value in batch.items() if key not in ("skipped", RECYCLE_KEY)}
