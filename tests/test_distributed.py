"""gather_with_grad (and gather_constants) with 2 real processes (gloo, CPU) against the
single-process result."""

import pytest
import torch
import torch.distributed as dist

from mmssl import distributed
from mmssl.losses import MILNCELoss, NCELoss

WORLD = 2
BATCH, DIM_IN, DIM = 8, 6, 5  # global batch, split evenly across WORLD processes


def make_problem():
    """Fixed global batch and a shared projection (stands in for a DDP-wrapped encoder)."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(BATCH, DIM_IN, generator=g, dtype=torch.float64)
    y = torch.randn(BATCH, DIM, generator=g, dtype=torch.float64)
    proj = torch.nn.Linear(DIM_IN, DIM, bias=False).double()
    with torch.no_grad():
        proj.weight.copy_(torch.randn(DIM, DIM_IN, generator=g, dtype=torch.float64))
    return x, y, proj


def loss_fn():
    return NCELoss(temperature=0.2)


def _body(rank):
    x, y, proj = make_problem()
    local = slice(rank * BATCH // WORLD, (rank + 1) * BATCH // WORLD)
    x_local = x[local].clone().requires_grad_(True)
    y_local = y[local].clone().requires_grad_(True)
    x_all = distributed.gather_with_grad(proj(x_local))
    y_all = distributed.gather_with_grad(y_local)
    loss = loss_fn()(x_all, y_all)
    loss.backward()
    constants = distributed.gather_constants(y_local)
    return {"world_size": distributed.world_size(), "rank": distributed.rank(),
            "constants": constants, "constants_detached": constants.grad_fn is None,
            "y_all": y_all.detach(), "loss": loss.detach(), "x_grad": x_local.grad,
            "y_grad": y_local.grad, "w_grad": proj.weight.grad}


def test_single_process_fallbacks():
    assert not dist.is_initialized()
    assert distributed.world_size() == 1
    assert distributed.rank() == 0
    x = torch.randn(3, 4)
    assert distributed.gather_with_grad(x) is x
    assert distributed.gather_constants(x) is x


def test_two_processes_match_single_process(run_gloo):
    results = run_gloo(_body, WORLD)

    x, y, proj = make_problem()
    x = x.clone().requires_grad_(True)
    y = y.clone().requires_grad_(True)
    ref_loss = loss_fn()(proj(x), y)
    ref_loss.backward()

    for r, res in enumerate(results):
        assert res["world_size"] == WORLD and res["rank"] == r
        torch.testing.assert_close(res["y_all"], y.detach(), rtol=0, atol=0)  # rank order
        assert torch.equal(res["constants"], y) and res["constants_detached"]
        # Forward: every process computes the full global loss.
        torch.testing.assert_close(res["loss"], ref_loss.detach(), rtol=1e-12, atol=1e-12)

    # Gradients w.r.t. local inputs. Every process computes the SAME global loss L on the
    # gathered batch, and all_gather's backward SUMS, over processes q, the gradient that
    # q's copy of p's slice received. So process p's local inputs get
    #     Σ_q ∂L/∂x_p = WORLD · ∂L/∂x_p,
    # WORLD times the single-process gradient of that slice (not equal to it; a
    # detached gather would give something else again: only the rows/columns p owns).
    for r, res in enumerate(results):
        local = slice(r * BATCH // WORLD, (r + 1) * BATCH // WORLD)
        torch.testing.assert_close(res["x_grad"], WORLD * x.grad[local], rtol=1e-10,
                                   atol=1e-12)
        torch.testing.assert_close(res["y_grad"], WORLD * y.grad[local], rtol=1e-10,
                                   atol=1e-12)

    # Shared parameters: DDP all-reduces parameter gradients and divides by WORLD. Process
    # p's weight gradient is (∂x_p/∂θ)ᵀ·WORLD·∂L/∂x_p, so the DDP average
    #     (1/WORLD)·Σ_p WORLD·(∂x_p/∂θ)ᵀ ∂L/∂x_p = ∂L/∂θ
    # is exactly the single-process gradient on the full batch: the factor WORLD above is
    # what makes training with gather_with_grad + DDP correct.
    ddp_average = sum(res["w_grad"] for res in results) / WORLD
    torch.testing.assert_close(ddp_average, proj.weight.grad, rtol=1e-10, atol=1e-12)
    # Each process alone holds only part of it (its own slice's contribution, times WORLD).
    assert not torch.allclose(results[0]["w_grad"], proj.weight.grad)


if __name__ == "__main__":  # pragma: no cover
    pytest.main([__file__, "-q"])


MASK = torch.tensor([True, True, False, True, True, True, True, False])
K = 3
TEXT_MASK = torch.tensor([[1, 1, 0], [1, 1, 1], [1, 0, 0], [1, 1, 1],
                          [1, 1, 1], [1, 0, 0], [1, 1, 0], [1, 1, 1]], dtype=torch.bool)


def _local_and_milnce_body(rank):
    """Per process: open_clip-style local NCE and gathered MIL-NCE, with their gradients."""
    x, y, proj = make_problem()
    rows = slice(rank * BATCH // WORLD, (rank + 1) * BATCH // WORLD)
    x_local = x[rows].clone().requires_grad_(True)
    local = NCELoss(temperature=0.2, local_loss=True)(proj(x_local), y[rows], mask=MASK[rows])
    local.backward()
    out = {"local_loss": local.detach(), "local_w_grad": proj.weight.grad.clone()}

    proj.weight.grad = None
    text = torch.randn(BATCH, K, DIM, generator=torch.Generator().manual_seed(1),
                       dtype=torch.float64)
    video = distributed.gather_with_grad(proj(x[rows]))
    candidates = distributed.gather_with_grad(text[rows])
    milnce = MILNCELoss()(video, candidates, TEXT_MASK)
    milnce.backward()
    out.update(milnce=milnce.detach(), milnce_w_grad=proj.weight.grad.clone())
    return out


def test_local_loss_and_milnce_match_single_process(run_gloo):
    results = run_gloo(_local_and_milnce_body, WORLD)
    x, y, proj = make_problem()
    reference = NCELoss(temperature=0.2)(proj(x), y, mask=MASK)
    reference.backward()
    nce_grad = proj.weight.grad.clone()
    # Each process's local loss differs; DDP averages them (and their gradients).
    assert not torch.allclose(results[0]["local_loss"], results[1]["local_loss"])
    mean_local = sum(r["local_loss"] for r in results) / WORLD
    torch.testing.assert_close(mean_local, reference.detach(), rtol=1e-12, atol=1e-12)
    ddp_grad = sum(r["local_w_grad"] for r in results) / WORLD
    torch.testing.assert_close(ddp_grad, nce_grad, rtol=1e-10, atol=1e-12)

    proj.weight.grad = None
    text = torch.randn(BATCH, K, DIM, generator=torch.Generator().manual_seed(1),
                       dtype=torch.float64)
    milnce = MILNCELoss()(proj(x), text, TEXT_MASK)
    milnce.backward()
    for r in results:
        torch.testing.assert_close(r["milnce"], milnce.detach(), rtol=1e-12, atol=1e-12)
    ddp_grad = sum(r["milnce_w_grad"] for r in results) / WORLD
    torch.testing.assert_close(ddp_grad, proj.weight.grad, rtol=1e-10, atol=1e-12)
