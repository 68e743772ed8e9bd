"""``mmssl train --dry-run``: the resolved config, parameter counts per tower and the data
plan, without building a loader or taking a step."""

from __future__ import annotations

import json

import torch
import yaml

from mmssl.config import TrainConfig, to_dict
from mmssl.data.shard_split import data_plan


def parameter_counts(method: torch.nn.Module) -> dict[str, int]:
    """Trainable parameters by top-level part (``towers.video``, ``spaces``, …), their
    ``total``, and ``frozen`` (momentum copies and other parameters no optimiser steps)."""
    counts: dict[str, int] = {}
    frozen = 0
    for name, param in method.named_parameters():
        if not param.requires_grad:
            frozen += param.numel()
            continue
        parts = name.split(".")
        part = ".".join(parts[:2]) if parts[0] == "towers" else parts[0]
        counts[part] = counts.get(part, 0) + param.numel()
    return {**counts, "total": sum(counts.values()), "frozen": frozen}


def dry_run_report(config: TrainConfig, method: torch.nn.Module, world: int) -> dict:
    """Everything ``--dry-run`` prints, as one dict."""
    plan = data_plan(config.data, world, config.seed)
    accumulation = config.optim.accumulation_steps
    plan["accumulation_steps"] = accumulation
    plan["samples_per_step"] = plan["global_batch"] * accumulation
    plan["steps_per_epoch"] = plan["batches_per_epoch"] // accumulation
    plan["epochs"] = (config.optim.max_steps / plan["steps_per_epoch"]
                      if plan["steps_per_epoch"] else float("inf"))
    return {"config": to_dict(config), "parameters": parameter_counts(method), "data": plan}


def format_report(report: dict) -> str:
    data = {key: value for key, value in report["data"].items() if key != "ranks"}
    lines = ["# resolved config", yaml.safe_dump(report["config"], sort_keys=False).rstrip(),
             "# parameters (trainable, by part)"]
    lines += [f"{name:<24}{count:>14,}" for name, count in report["parameters"].items()]
    lines += ["# data plan", json.dumps(data, indent=1),
              f"{'rank':>5}{'samples':>10}{'clips':>10}  shards per worker"]
    lines += [f"{r['rank']:>5}{r['samples']:>10}{r['clips']:>10}  {r['shards_per_worker']}"
              for r in report["data"]["ranks"]]
    return "\n".join(lines)
