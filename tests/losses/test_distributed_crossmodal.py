"""SigLIP, MMS, Hadsell's and the max-margin ranking loss with 2 real processes (gloo,
CPU) against 1 process.

Each process holds half of a fixed global batch, gathers with
:func:`mmssl.distributed.gather_with_grad` and computes the loss on the gathered batch, as
in tests/test_distributed.py. One spawn serves every case.
"""


import pytest
import torch

from mmssl import distributed
from mmssl.losses.hadsell import HadsellContrastiveLoss
from mmssl.losses.margin_ranking import MaxMarginRankingLoss
from mmssl.losses.mms import MaskedMarginSoftmaxLoss
from mmssl.losses.siglip import SigLIPLoss

WORLD = 2
BATCH, DIM_IN, DIM = 8, 6, 5  # global batch, split evenly across WORLD processes
VIDEO_IDS = torch.tensor([0, 0, 1, 2, 3, 3, 3, 4])  # clips of one video: not negatives
NEGATIVE_MASK = (VIDEO_IDS[:, None] != VIDEO_IDS[None, :]) | torch.eye(BATCH, dtype=torch.bool)

CASES = {
    "siglip": (lambda: SigLIPLoss(init_log_scale=1.0, init_bias=-2.0).double(),
               lambda loss_fn, x, y: loss_fn(x, y)),
    "mms": (lambda: MaskedMarginSoftmaxLoss(margin=0.1),
            lambda loss_fn, x, y: loss_fn(x, y, negative_mask=NEGATIVE_MASK)),
    "hadsell": (lambda: HadsellContrastiveLoss(margin=1.5),
                lambda loss_fn, x, y: loss_fn.forward_batch(x, y)),
    "margin_ranking": (lambda: MaxMarginRankingLoss(margin=0.5),
                       lambda loss_fn, x, y: loss_fn(x, y)),
}


def make_problem():
    """Fixed global batch and a shared projection (stands in for a DDP-wrapped encoder)."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(BATCH, DIM_IN, generator=g, dtype=torch.float64)
    y = 0.5 * torch.randn(BATCH, DIM, generator=g, dtype=torch.float64)
    proj = torch.nn.Linear(DIM_IN, DIM, bias=False).double()
    with torch.no_grad():
        proj.weight.copy_(0.3 * torch.randn(DIM, DIM_IN, generator=g, dtype=torch.float64))
    return x, y, proj


def run_case(name, rows, gather):
    """Loss and gradients of one case for this process's ``rows`` of the global batch."""
    x, y, proj = make_problem()
    make_loss, call = CASES[name]
    loss_fn = make_loss()
    x_local = x[rows].clone().requires_grad_(True)
    y_local = y[rows].clone().requires_grad_(True)
    loss = call(loss_fn, gather(proj(x_local)), gather(y_local))
    loss.backward()
    return {
        "loss": loss.detach(),
        "x_grad": x_local.grad,
        "y_grad": y_local.grad,
        "w_grad": proj.weight.grad,
        "loss_param_grads": {n: p.grad for n, p in loss_fn.named_parameters()},
    }


def _body(rank):
    rows = slice(rank * BATCH // WORLD, (rank + 1) * BATCH // WORLD)
    return {name: run_case(name, rows, distributed.gather_with_grad) for name in CASES}


@pytest.fixture(scope="module")
def two_process_results(run_gloo):
    return run_gloo(_body, WORLD)


@pytest.mark.parametrize("name", list(CASES))
def test_two_processes_match_single_process(name, two_process_results):
    ref = run_case(name, slice(0, BATCH), lambda t: t)
    assert ref["loss"].item() > 0 and ref["x_grad"].abs().sum() > 0  # a non-trivial problem

    for r, results in enumerate(two_process_results):
        res = results[name]
        # Forward: every process computes the full global loss.
        torch.testing.assert_close(res["loss"], ref["loss"], rtol=1e-12, atol=1e-12)
        # Local inputs: all_gather's backward sums the gradient of the SAME global loss over
        # the WORLD processes' copies, so process r gets WORLD · ∂L/∂(its rows).
        rows = slice(r * BATCH // WORLD, (r + 1) * BATCH // WORLD)
        for key in ("x_grad", "y_grad"):
            torch.testing.assert_close(res[key], WORLD * ref[key][rows], rtol=1e-10,
                                       atol=1e-12)
        # The loss's own parameters (SigLIP's t', b) are not gathered: each process already
        # holds the full ∂L/∂θ, so the DDP average of identical values is that gradient.
        assert res["loss_param_grads"].keys() == ref["loss_param_grads"].keys()
        for key, grad in res["loss_param_grads"].items():
            torch.testing.assert_close(grad, ref["loss_param_grads"][key], rtol=1e-10,
                                       atol=1e-12)

    # Shared encoder weights: the DDP average (1/WORLD)·Σ_r WORLD·(∂x_r/∂θ)ᵀ∂L/∂x_r = ∂L/∂θ.
    ddp_average = sum(res[name]["w_grad"] for res in two_process_results) / WORLD
    torch.testing.assert_close(ddp_average, ref["w_grad"], rtol=1e-10, atol=1e-12)
    assert not torch.allclose(two_process_results[0][name]["w_grad"], ref["w_grad"])


def test_siglip_case_has_learnable_parameters(two_process_results):
    # Guards the parameter check above against silently comparing empty dicts.
    grads = two_process_results[0]["siglip"]["loss_param_grads"]
    assert set(grads) == {"log_scale", "bias"}
    assert all(g is not None and g.abs() > 0 for g in grads.values())


if __name__ == "__main__":  # pragma: no cover
    pytest.main([__file__, "-q"])
