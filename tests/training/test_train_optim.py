"""Optimisers and schedules by name: LARS against its formula, weight decay groups,
warm-up then cosine / linear / constant."""

import math

import pytest
import torch
from torch import nn

from mmssl.config import OptimConfig
from mmssl.training.optim import LARS, build_optimizer, param_groups
from mmssl.training.schedule import build_schedule


def small_model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 3), nn.LayerNorm(3), nn.Linear(3, 2))


def test_weight_decay_skips_norms_and_biases():
    decay, no_decay = param_groups(small_model(), 0.1)
    assert [p.ndim for p in decay["params"]] == [2, 2] and decay["weight_decay"] == 0.1
    assert all(p.ndim == 1 for p in no_decay["params"]) and no_decay["weight_decay"] == 0.0


def test_lars_step_follows_its_formula():
    weight = torch.tensor([[3.0, 4.0]], requires_grad=True)  # ‖w‖ = 5
    bias = torch.tensor([1.0], requires_grad=True)
    optimizer = LARS([{"params": [weight], "weight_decay": 0.1, "lars_adapt": True},
                      {"params": [bias], "weight_decay": 0.0, "lars_adapt": False}],
                     lr=0.5, momentum=0.9, trust=0.01)
    weight.grad, bias.grad = torch.tensor([[1.0, 0.0]]), torch.tensor([2.0])
    optimizer.step()
    d = torch.tensor([[1.0, 0.0]]) + 0.1 * torch.tensor([[3.0, 4.0]])
    d = d * (0.01 * 5.0 / torch.linalg.vector_norm(d))
    torch.testing.assert_close(weight.detach(), torch.tensor([[3.0, 4.0]]) - 0.5 * d)
    torch.testing.assert_close(bias.detach(), torch.tensor([1.0 - 0.5 * 2.0]))  # not adapted
    weight.grad, bias.grad = torch.tensor([[0.0, 0.0]]), torch.tensor([0.0])
    before = bias.detach().clone()
    optimizer.step()  # momentum carries the previous update
    torch.testing.assert_close(bias.detach(), before - 0.5 * 0.9 * 2.0)


@pytest.mark.parametrize("name", ["adamw", "lars", "sgd"])
def test_every_optimizer_lowers_a_loss(name):
    model = small_model()
    optimizer = build_optimizer(model, OptimConfig(optimizer=name, lr=0.05,
                                                   lars_trust=0.1))
    x, y = torch.randn(16, 4), torch.randn(16, 2)
    losses = []
    for _ in range(20):
        loss = nn.functional.mse_loss(model(x), y)
        losses.append(float(loss.detach()))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert losses[-1] < losses[0]


def test_unknown_names_are_errors():
    with pytest.raises(ValueError, match="optim.optimizer must be one of"):
        build_optimizer(small_model(), OptimConfig(optimizer="adam"))
    optimizer = build_optimizer(small_model(), OptimConfig())
    with pytest.raises(ValueError, match="optim.schedule must be one of"):
        build_schedule(optimizer, OptimConfig(schedule="step"))


@pytest.mark.parametrize("name,after", [
    ("cosine", lambda p: 0.5 * (1 + math.cos(math.pi * p))),
    ("linear", lambda p: 1 - p),
    ("constant", lambda p: 1.0),
])
def test_schedules_warm_up_then_decay(name, after):
    config = OptimConfig(lr=1.0, warmup_steps=4, max_steps=14, schedule=name)
    schedule = build_schedule(build_optimizer(small_model(), config), config)
    factors = []
    for _ in range(16):
        factors.append(schedule.get_last_lr()[0])
        schedule.optimizer.step()
        schedule.step()
    assert factors[:4] == pytest.approx([0.25, 0.5, 0.75, 1.0])
    assert factors[4:] == pytest.approx([after(min((s - 4) / 10, 1.0)) for s in range(4, 16)])
