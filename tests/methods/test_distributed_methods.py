"""Every method family in 2 real processes (gloo, CPU) against 1 process on the same global
batch: the same loss and the same gradients, and — for momentum and queue methods — the
same momentum encoders and the same queues, slot for slot, after each step.

Each process holds half of a fixed global batch, computes ``loss(features(half))`` (the
method gathers), backpropagates and averages the gradients over the processes (what DDP
does); one process computes the features of each half apart (each half's batch-norm
statistics, as each process has its own) and the loss of their concatenation. Both then
take the same SGD step and run ``after_step``; a second step reads the updated momentum
encoders and queues.
"""

import pytest
import torch
import torch.distributed as dist
from helpers import fixed_batch, make_method

WORLD, PER_RANK, STEPS = 2, 4, 2
CASES = {
    "clip_siglip": ("clip", {"kind": "siglip", "learn_temperature": True, "chunk_size": 3}),
    "clip_margin_ranking": ("clip", {"kind": "margin_ranking"}),
    "milnce": ("milnce", {"chunk_size": 3}),
    "mmv": ("mmv", {"weights": {"at": 1.0}}),
    "simclr": ("simclr", {"chunk_size": 3}),
    "byol": ("byol", {}),
    "moco": ("moco", {"queue_size": 11}),
    "barlow_twins": ("barlow_twins", {}),
    "swav": ("swav", {"queue_size": 6, "prototypes": 4}),
    "supcon": ("supcon", {"chunk_size": 5}),
    "albef": ("albef", {"learn_temperature": True, "queue_size": 10}),
}


def batches():
    """The global batches of the steps (2 × PER_RANK clips each)."""
    return [fixed_batch(seed=step, size=WORLD * PER_RANK) for step in range(STEPS)]


def part(batch: dict, rank: int) -> dict:
    return {k: v[rank * PER_RANK:(rank + 1) * PER_RANK] for k, v in batch.items()}


def merged(parts: list[dict]) -> dict:
    """Per-sample features concatenated; a 0-dim shared parameter is one and the same."""
    return {k: v if v.ndim == 0 else torch.cat([p[k] for p in parts])
            for k, v in parts[0].items()}


def state(method) -> dict:
    """What after_step changes: buffers (queues) and the frozen momentum copies."""
    frozen = {f"param:{n}": p.detach().clone() for n, p in method.named_parameters()
              if not p.requires_grad}
    buffers = {f"buffer:{n}": b.clone() for n, b in method.named_buffers()
               if "running_" not in n and "num_batches_tracked" not in n}
    return {**frozen, **buffers}


def train(name: str, features_of) -> list[dict]:
    """STEPS steps of ``name``; ``features_of(method, batch)`` gives this process's
    features. Returns, per step, the loss terms, the (averaged) gradients and the state
    after the step."""
    method_name, loss = CASES[name]
    method = make_method(method_name, **loss).train()
    optimizer = torch.optim.SGD([p for p in method.parameters() if p.requires_grad], lr=0.1)
    record = []
    for batch in batches():
        optimizer.zero_grad()
        out = method.loss(features_of(method, batch))
        out["loss"].backward()
        grads = {}
        for n, p in method.named_parameters():
            if p.grad is not None:
                if dist.is_initialized():
                    dist.all_reduce(p.grad)
                    p.grad /= dist.get_world_size()
                grads[n] = p.grad.clone()
        optimizer.step()
        method.after_step()
        record.append({"out": {k: v.detach() for k, v in out.items()}, "grads": grads,
                       "state": state(method)})
    return record


def one_process(method, batch):
    return merged([method.features(part(batch, r)) for r in range(WORLD)])


def _body(rank: int) -> dict:
    return {name: train(name, lambda method, batch: method.features(part(batch, rank)))
            for name in CASES}


@pytest.fixture(scope="module")
def two_processes(run_gloo):
    return run_gloo(_body, WORLD)


@pytest.mark.parametrize("name", list(CASES))
def test_two_processes_equal_one_process(name, two_processes):
    reference = train(name, one_process)
    for rank_results in two_processes:
        for got, want in zip(rank_results[name], reference, strict=True):
            assert got["out"].keys() == want["out"].keys()
            for key in want["out"]:
                torch.testing.assert_close(got["out"][key], want["out"][key], rtol=1e-9,
                                           atol=1e-12)
            assert got["grads"].keys() == want["grads"].keys() and want["grads"]
            for key in want["grads"]:
                torch.testing.assert_close(got["grads"][key], want["grads"][key], rtol=1e-8,
                                           atol=1e-11)
            assert got["state"].keys() == want["state"].keys()
            for key in want["state"]:
                torch.testing.assert_close(got["state"][key], want["state"][key], rtol=1e-9,
                                           atol=1e-12)
