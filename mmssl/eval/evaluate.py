"""Every evaluation ``EvalConfig`` asks for, on one checkpoint, then its report.

Zero-shot retrieval on ``config.shards`` (:mod:`mmssl.eval.retrieval`); linear probes and
zero-shot classification on ``config.coin_shards`` / ``config.audioset_shards``
(:mod:`mmssl.eval.classification`). Both run in memory; this module loads the checkpoint,
writes the results, the arrays the plots need and the eval config next to it, then
:func:`mmssl.eval.report.write_report` draws the report.
"""

from __future__ import annotations

import json
from pathlib import Path

from mmssl.checkpoint import load_checkpoint
from mmssl.config import EvalConfig, save_config, to_dict
from mmssl.eval.classification import evaluate_classification
from mmssl.eval.classification_tasks import words_of
from mmssl.eval.report import CLASSIFICATION_NAME, RETRIEVAL_NAME, save_arrays, write_report
from mmssl.eval.retrieval import evaluate_retrieval

EVAL_CONFIG_NAME = "eval_config.yaml"


def evaluate_youcook2(checkpoint: str | Path, config: EvalConfig, progress: bool = True) -> dict:
    """Zero-shot retrieval of a checkpoint directory; writes ``eval_youcook2.json``, its
    arrays and the eval config next to it and returns the results."""
    checkpoint = Path(checkpoint)
    method, train_config, tokenizer = load_checkpoint(checkpoint)
    results, arrays = evaluate_retrieval(method, train_config, tokenizer, config, progress)
    (checkpoint / RETRIEVAL_NAME).write_text(json.dumps(results, indent=1))
    save_arrays(checkpoint, "youcook2", arrays["tensors"], arrays["meta"])
    save_config(config, checkpoint / EVAL_CONFIG_NAME)
    return results


def classify_checkpoint(checkpoint: str | Path, config: EvalConfig,
                        progress: bool = False) -> dict:
    """Linear probes and zero-shot classification; writes ``eval_classification.json`` and
    the COIN embeddings (for the report's PCA) next to the checkpoint."""
    checkpoint = Path(checkpoint)
    method, train_config, tokenizer = load_checkpoint(checkpoint)
    results, features = evaluate_classification(method, train_config, tokenizer, config,
                                                progress)
    results["eval_config"] = to_dict(config)
    (checkpoint / CLASSIFICATION_NAME).write_text(json.dumps(results, indent=1))
    coin = features.get("coin")
    if coin is not None and "vt" in coin.video:
        groups = [words_of(m["labels"].get("task", str(m["labels"].get("task_id"))))
                  for m in coin.metas]
        save_arrays(checkpoint, "coin", {"video_embeddings": coin.video["vt"]},
                    {"keys": coin.keys, "groups": groups, "group_name": "task"})
    return results


def evaluate_checkpoint(checkpoint: str | Path, config: EvalConfig, progress: bool = False
                        ) -> dict:
    """Run what ``config`` names and write the report; returns
    {"retrieval": ..., "classification": ..., "report": report directory}."""
    if not (config.shards or config.coin_shards or config.audioset_shards):
        raise ValueError("nothing to evaluate: set shards, coin_shards or audioset_shards")
    out: dict = {}
    if config.shards:
        out["retrieval"] = evaluate_youcook2(checkpoint, config, progress)
    if config.coin_shards or config.audioset_shards:
        out["classification"] = classify_checkpoint(checkpoint, config, progress)
    save_config(config, Path(checkpoint) / EVAL_CONFIG_NAME)
    out["report"] = str(write_report(checkpoint))
    return out
