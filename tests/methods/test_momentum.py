"""momentum_update / momentum_copy against θ_t ← m·θ_t + (1 − m)·θ_o written out by hand."""

import pytest
import torch
from torch import nn

from mmssl.methods.momentum import momentum_copy, momentum_update


def make_online(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2)).double()


def perturbed(online, seed):
    """Change the online parameters and, through a train-mode forward, its BN statistics."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in online.parameters():
            p.add_(torch.randn(p.shape, generator=g, dtype=p.dtype))
        online(torch.randn(8, 3, generator=g, dtype=torch.float64))
    return online


def snapshot(module):
    return {k: v.clone() for k, v in module.state_dict().items()}


def test_momentum_copy_is_equal_frozen_and_independent():
    online = make_online()
    target = momentum_copy(online)
    for (name, p), (_, t) in zip(online.named_parameters(), target.named_parameters(),
                                 strict=True):
        assert torch.equal(p, t) and t is not p, name
        assert p.requires_grad and not t.requires_grad
    with torch.no_grad():
        target[0].weight.add_(1.0)
    assert not torch.equal(online[0].weight, target[0].weight)
    assert target.training == online.training


@pytest.mark.parametrize("m", [0.9, 0.5, 0.999])
def test_update_formula_on_parameters_and_buffers_copied(m):
    online = make_online()
    target = momentum_copy(online)
    perturbed(online, seed=1)
    before = snapshot(target)
    momentum_update(online, target, m)
    for name, p in online.named_parameters():
        expected = m * before[name] + (1 - m) * p.detach()
        torch.testing.assert_close(target.get_parameter(name), expected, rtol=1e-14, atol=1e-15)
    for name, b in online.named_buffers():
        assert torch.equal(target.get_buffer(name), b), name
    assert int(target[1].num_batches_tracked) == 1


def test_copy_buffers_false_leaves_target_buffers():
    online = make_online()
    target = momentum_copy(online)
    perturbed(online, seed=2)
    before = snapshot(target)
    momentum_update(online, target, 0.9, copy_buffers=False)
    for name, _ in target.named_buffers():
        assert torch.equal(target.get_buffer(name), before[name]), name
    assert not torch.equal(target[1].running_mean, online[1].running_mean)


def test_m_zero_copies_and_m_one_keeps():
    online = perturbed(make_online(), seed=3)
    target = momentum_copy(make_online(seed=4))
    kept = snapshot(target)
    momentum_update(online, target, 1.0, copy_buffers=False)
    for name, value in target.state_dict().items():
        assert torch.equal(value, kept[name]), name
    momentum_update(online, target, 0.0)
    for name, value in target.state_dict().items():
        assert torch.equal(value, online.state_dict()[name]), name


def test_repeated_updates_decay_geometrically():
    """With the online net fixed, after n steps θ_t = θ_o + mⁿ·(θ_t⁰ − θ_o)."""
    online = perturbed(make_online(), seed=5)
    target = momentum_copy(make_online(seed=6))
    start = snapshot(target)
    m, steps = 0.8, 7
    for _ in range(steps):
        momentum_update(online, target, m)
    for name, p in online.named_parameters():
        expected = p.detach() + m ** steps * (start[name] - p.detach())
        torch.testing.assert_close(target.get_parameter(name), expected, rtol=1e-12,
                                   atol=1e-14)


def test_update_builds_no_graph_and_leaves_online_alone():
    online = perturbed(make_online(), seed=7)
    target = momentum_copy(make_online(seed=8))
    online_before = snapshot(online)
    with torch.enable_grad():
        momentum_update(online, target, 0.5)
    for t in target.parameters():
        assert t.grad_fn is None and not t.requires_grad and t.grad is None
    for name, value in online.state_dict().items():
        assert torch.equal(value, online_before[name]), name
    assert all(p.grad is None for p in online.parameters())


def test_rejects_bad_momentum_and_mismatched_networks():
    online = make_online()
    with pytest.raises(ValueError, match="m must be in"):
        momentum_update(online, momentum_copy(online), 1.5)
    other = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 3)).double()
    with pytest.raises(ValueError, match="shape"):
        momentum_update(online, other, 0.9)
    with pytest.raises(ValueError, match="differ"):
        momentum_update(online, nn.Sequential(nn.Linear(3, 4)).double(), 0.9)
