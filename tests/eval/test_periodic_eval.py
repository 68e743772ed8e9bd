"""Zero-shot retrieval during training scores the live model in memory: it writes nothing,
gives the numbers the saved checkpoint would, and leaves the model's modes and the RNGs as
they were (the resume test checks that training itself is unchanged)."""

import random

import numpy as np
import pytest
import torch

from mmssl.checkpoint import save_checkpoint
from mmssl.config import EvalConfig, TrainConfig, load_config
from mmssl.eval.evaluate import evaluate_youcook2
from mmssl.training.loop import Run, _periodic_eval

pytestmark = pytest.mark.slow


def test_periodic_eval_scores_the_live_model_and_puts_everything_back(tiny_shards, tmp_path):
    config = load_config(TrainConfig, None, [
        f"--data.shards={tiny_shards['howto100m']}", f"--output_dir={tmp_path / 'run'}",
        f"--eval_shards={tiny_shards['youcook2']}", "--eval_windows=1", "--eval_every=1"])
    run = Run(config, progress=False)
    run.core.towers["audio"].eval()  # a part kept in eval mode while training stays so
    modes = {name: module.training for name, module in run.core.named_modules()}
    assert any(modes.values()) and not all(modes.values())
    rngs = (torch.get_rng_state(), random.getstate(), np.random.get_state()[1].copy())

    metrics = _periodic_eval(run)

    assert {name: module.training for name, module in run.core.named_modules()} == modes
    assert torch.equal(torch.get_rng_state(), rngs[0]) and random.getstate() == rngs[1]
    assert np.array_equal(np.random.get_state()[1], rngs[2])
    assert not (run.run_dir / "checkpoint").exists()  # evaluated in memory, nothing saved
    saved = save_checkpoint(tmp_path / "saved", run.core, config, run.tokenizer)
    results = evaluate_youcook2(saved, EvalConfig(shards=config.eval_shards, windows=1),
                                progress=False)
    assert metrics == {direction: {k: v for k, v in values.items() if k != "num_queries"}
                       for direction, values in results["metrics"].items()}
    assert "text->video" in metrics and "R@1" in metrics["text->video"]
