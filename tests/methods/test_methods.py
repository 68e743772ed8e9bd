"""Every method config in configs/ trains on the synthetic world and lowers its loss; the
methods with a text tower can then be evaluated zero-shot. Configs of labelled clips
(``data.label_key``: SupCon) train on the COIN-format shards, the others on the
HowTo100M-format ones."""

import itertools
import json
from pathlib import Path

import pytest
import torch
import yaml

from mmssl.checkpoint import load_checkpoint
from mmssl.config import EvalConfig, TrainConfig, load_config
from mmssl.data.training_stream import TrainingStream
from mmssl.eval.evaluate import evaluate_youcook2
from mmssl.methods import build_method
from mmssl.methods.queue import FeatureQueue
from mmssl.train import seed_everything, train

pytestmark = pytest.mark.slow

CONFIGS = sorted((Path(__file__).parents[2] / "configs").glob("synthetic_*.yaml"))
STEPS = 30


def tiny_overrides(shards, out) -> list[str]:
    return [f"--data.shards={shards}", f"--output_dir={out}", "--data.batch_size=8",
            "--data.num_workers=0", "--data.shuffle_buffer=16", f"--optim.max_steps={STEPS}",
            "--optim.warmup_steps=2", "--optim.lr=0.001", "--log_every=1"]


def training_shards(path: Path, tiny_shards, classification_shards) -> Path:
    labelled = yaml.safe_load(path.read_text()).get("data", {}).get("label_key")
    return classification_shards["coin"] if labelled else tiny_shards["howto100m"]


@pytest.fixture(scope="module")
def trained(tiny_shards, classification_shards, tmp_path_factory):
    """{config name: checkpoint directory}, each trained for STEPS steps."""
    runs = {}
    for path in CONFIGS:
        out = tmp_path_factory.mktemp(path.stem)
        shards = training_shards(path, tiny_shards, classification_shards)
        config = load_config(TrainConfig, path, tiny_overrides(shards, out))
        runs[path.stem] = train(config, progress=False)
    return runs


@torch.no_grad()
def loss_on(method, batches) -> float:
    """Mean loss over ``batches`` (one batch of 8 clips is too noisy a measure)."""
    return sum(float(method.train()(batch)["loss"]) for batch in batches) / len(batches)


def same_queues(trained_method, initial_method) -> None:
    """Give the trained method the initial one's queues of negatives (MoCo, ALBEF, SwAV):
    a queue filled during training holds keys close to the queries, which raises the loss
    whatever the encoder learnt; on the same negatives, the losses compare the encoders."""
    for name, queue in initial_method.named_modules():
        if isinstance(queue, FeatureQueue):
            trained_method.get_submodule(name).load_state_dict(queue.state_dict())


@pytest.mark.parametrize("name", [p.stem for p in CONFIGS])
def test_method_lowers_its_loss(trained, name):
    trained_method, config, tokenizer = load_checkpoint(trained[name])
    seed_everything(config.seed)  # the initialisation train() started from
    initial_method = build_method(config, tokenizer.vocab_size)
    same_queues(trained_method, initial_method)
    stream = TrainingStream(config.data, tokenizer, seed=config.seed)
    batches = list(itertools.islice(iter(stream), 4))  # fixed training batches
    before, after = loss_on(initial_method, batches), loss_on(trained_method, batches)
    assert after < before, (before, after)
    log = [json.loads(line) for line in
           (trained[name].parent / "log.jsonl").read_text().splitlines()]
    assert len(log) == STEPS and all(torch.isfinite(torch.tensor([r["loss"] for r in log])))
    assert any(key.startswith("loss_") for key in log[-1]), "terms logged by name"


@pytest.mark.parametrize("name", [p.stem for p in CONFIGS])
def test_checkpoint_round_trip_and_zero_shot_eval(trained, tiny_shards, name):
    method, config, _ = load_checkpoint(trained[name])
    shipped = yaml.safe_load((CONFIGS[0].parent / f"{name}.yaml").read_text())
    assert config.method == shipped["method"]
    if "text" not in method.modalities:
        with pytest.raises(ValueError, match="no text tower"):
            evaluate_youcook2(trained[name], EvalConfig(shards=str(tiny_shards["youcook2"]),
                                                        windows=2), progress=False)
        return
    results = evaluate_youcook2(trained[name], EvalConfig(shards=str(tiny_shards["youcook2"]),
                                                          windows=2), progress=False)
    expected = {"text->video"} | ({"text->audio", "text->video+audio"}
                                  if "audio" in method.modalities else set())
    assert set(results["metrics"]) == expected
