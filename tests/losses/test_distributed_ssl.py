"""NT-Xent, Barlow Twins, SupCon and SwAV with gather_distributed=True in 2 real processes
(gloo, CPU) against the single-process loss on the full batch, forward and gradients."""


import pytest
import torch

from mmssl.losses.barlow_twins import BarlowTwinsLoss
from mmssl.losses.ntxent import NTXentLoss
from mmssl.losses.supcon import SupConLoss
from mmssl.losses.swav import SwAVLoss

WORLD = 2
BATCH, DIM_IN, DIM = 8, 6, 5  # global batch, split evenly across WORLD processes
LABELS = torch.tensor([0, 1, 2, 0, 1, 3, 0, 2])  # classes shared across the two halves


def compute_loss(name, z1, z2, labels, gather):
    """One loss on projected views z1, z2 (B, DIM); SwAV reads them as prototype scores."""
    if name == "ntxent":
        return NTXentLoss(temperature=0.2, gather_distributed=gather)(z1, z2)
    if name == "barlow_twins":
        return BarlowTwinsLoss(lambda_offdiag=0.1, gather_distributed=gather)(z1, z2)
    if name == "supcon":
        features = torch.stack([z1, z2], dim=1)
        return SupConLoss(temperature=0.2, gather_distributed=gather)(features, labels)
    return SwAVLoss(epsilon=0.5, gather_distributed=gather)(z1.tanh(), z2.tanh())


NAMES = ("ntxent", "barlow_twins", "supcon", "swav")


def make_problem():
    """Fixed global batch and a shared projection (stands in for a DDP-wrapped encoder)."""
    g = torch.Generator().manual_seed(0)
    x1 = torch.randn(BATCH, DIM_IN, generator=g, dtype=torch.float64)
    x2 = x1 + 0.5 * torch.randn(BATCH, DIM_IN, generator=g, dtype=torch.float64)
    proj = torch.nn.Linear(DIM_IN, DIM, bias=False).double()
    with torch.no_grad():
        proj.weight.copy_(torch.randn(DIM, DIM_IN, generator=g, dtype=torch.float64))
    return x1, x2, proj


def run(name, x1, x2, labels, gather):
    """Loss and gradients w.r.t. the inputs x1, x2 and the shared weight."""
    x1, x2 = x1.clone().requires_grad_(True), x2.clone().requires_grad_(True)
    _, _, proj = make_problem()
    loss = compute_loss(name, proj(x1), proj(x2), labels, gather)
    loss.backward()
    return {"loss": loss.detach(), "x1_grad": x1.grad, "x2_grad": x2.grad,
            "w_grad": proj.weight.grad}


def _body(rank):
    x1, x2, _ = make_problem()
    local = slice(rank * BATCH // WORLD, (rank + 1) * BATCH // WORLD)
    results = {}
    for name in NAMES:
        results[name] = run(name, x1[local], x2[local], LABELS[local], gather=True)
        results[name]["no_gather_loss"] = run(
            name, x1[local], x2[local], LABELS[local], gather=False)["loss"]
    return results


@pytest.fixture(scope="module")
def per_rank(run_gloo):
    return run_gloo(_body, WORLD)


@pytest.mark.parametrize("name", NAMES)
def test_two_processes_match_single_process(per_rank, name):
    x1, x2, _ = make_problem()
    ref = run(name, x1, x2, LABELS, gather=False)  # one process, full batch

    for r, results in enumerate(per_rank):
        res = results[name]
        local = slice(r * BATCH // WORLD, (r + 1) * BATCH // WORLD)
        # Forward: every process computes the full global loss ...
        torch.testing.assert_close(res["loss"], ref["loss"], rtol=1e-12, atol=1e-12)
        # ... which is not what the local half alone gives (the flag does something).
        assert res["no_gather_loss"].item() != pytest.approx(ref["loss"].item(), rel=1e-6)
        # Local inputs: all_gather's backward sums the gradient every process's copy of
        # this slice received, and all computed the same L, so it is WORLD · ∂L/∂x_local
        # (see tests/test_distributed.py and mmssl.distributed.gather_with_grad).
        for key in ("x1_grad", "x2_grad"):
            torch.testing.assert_close(res[key], WORLD * ref[key][local], rtol=1e-10,
                                       atol=1e-12)

    # Shared weight: the DDP average (1/WORLD)·Σ_p of the per-process gradients is exactly
    # the single-process gradient on the full batch; one process alone holds only part.
    ddp_average = sum(results[name]["w_grad"] for results in per_rank) / WORLD
    torch.testing.assert_close(ddp_average, ref["w_grad"], rtol=1e-10, atol=1e-12)
    assert not torch.allclose(per_rank[0][name]["w_grad"], ref["w_grad"])


if __name__ == "__main__":  # pragma: no cover
    pytest.main([__file__, "-q"])
