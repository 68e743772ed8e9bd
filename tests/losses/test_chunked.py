"""Chunked NCE / MIL-NCE against the plain losses: same value, same gradients, no B×B."""

import math

import pytest
import torch
from helpers import assert_same, largest_saved_tensor, value_and_grads

from mmssl import distributed
from mmssl.losses import MILNCELoss, NCELoss
from mmssl.losses.chunked import ChunkedMILNCELoss, ChunkedNCELoss, row_col_logsumexp

F64 = torch.float64
SIZES = [(1, 4), (5, 2), (7, 3), (16, 4), (16, 5), (9, 9), (6, 64)]  # (B, chunk): ragged, ≥B


def pair(seed, b, d=6, dtype=F64):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(b, d, generator=g, dtype=dtype),
            torch.randn(b, d, generator=g, dtype=dtype))


def mil_inputs(seed, b, k=3, d=6, empty_rows=True):
    g = torch.Generator().manual_seed(seed)
    v = 0.5 * torch.randn(b, d, generator=g, dtype=F64)
    t = 0.5 * torch.randn(b, k, d, generator=g, dtype=F64)
    mask = torch.rand(b, k, generator=g) < 0.6
    mask[0, 0] = True
    if empty_rows and b > 2:
        mask[2] = False  # a row with no valid candidate: not an anchor, still a negative
    return v, t, mask


@pytest.mark.parametrize("b,chunk", SIZES)
@pytest.mark.parametrize("normalize,temperature", [(True, 0.07), (True, 0.5), (False, 1.0)])
def test_nce_matches_plain(b, chunk, normalize, temperature):
    x, y = pair(b, b)
    plain = value_and_grads(NCELoss(temperature, normalize), x, y)
    chunked = value_and_grads(ChunkedNCELoss(temperature, normalize, chunk), x, y)
    assert_same(plain, chunked)


@pytest.mark.parametrize("log_scale", [math.log(20.0), math.log(1000.0)])  # below, above clamp
def test_nce_logit_scale_matches_plain(log_scale):
    x, y = pair(0, 11)
    scale = torch.tensor(log_scale, dtype=F64)
    plain = value_and_grads(lambda a, b, s: NCELoss()(a, b, logit_scale=s), x, y, scale)
    chunked = value_and_grads(lambda a, b, s: ChunkedNCELoss(chunk_size=4)(a, b, logit_scale=s),
                              x, y, scale)
    assert_same(plain, chunked)


@pytest.mark.parametrize("chunk", [1, 3, 100])
def test_nce_mask_matches_plain(chunk):
    x, y = pair(1, 10)
    mask = torch.tensor([1, 0, 1, 1, 0, 1, 1, 0, 1, 1], dtype=torch.bool)
    plain = value_and_grads(NCELoss(0.2), x, y, mask=mask)
    chunked = value_and_grads(ChunkedNCELoss(0.2, chunk_size=chunk), x, y, mask=mask)
    assert_same(plain, chunked)
    assert torch.all(chunked[1][0][~mask] == 0) and torch.any(chunked[1][0][mask] != 0)


def test_nce_all_masked_is_connected_zero():
    x, y = pair(2, 3)
    loss, grads = value_and_grads(ChunkedNCELoss(), x, y, mask=torch.zeros(3, dtype=torch.bool))
    assert loss.item() == 0.0 and all(torch.all(g == 0) for g in grads)


@pytest.mark.parametrize("b,chunk", SIZES)
@pytest.mark.parametrize("symmetric", [True, False])
@pytest.mark.parametrize("temperature,normalize", [(None, False), (0.3, True)])
def test_milnce_matches_plain(b, chunk, symmetric, temperature, normalize):
    v, t, mask = mil_inputs(b, b)
    plain = value_and_grads(MILNCELoss(temperature, normalize, symmetric), v, t, mask)
    chunked = value_and_grads(ChunkedMILNCELoss(temperature, normalize, symmetric, chunk),
                              v, t, mask)
    assert_same(plain, chunked)
    assert torch.isfinite(chunked[1][0]).all() and torch.isfinite(chunked[1][1]).all()


def test_milnce_no_mask_and_no_valid_row():
    v, t, _ = mil_inputs(3, 6)
    chunked = ChunkedMILNCELoss(chunk_size=2)
    assert_same(value_and_grads(MILNCELoss(), v, t), value_and_grads(chunked, v, t))
    none = torch.zeros(6, 3, dtype=torch.bool)
    loss, grads = value_and_grads(chunked, v, t, none)
    assert loss.item() == 0.0 and all(torch.all(g == 0) for g in grads)


def test_float32_close_to_float64_plain():
    x, y = pair(4, 37, d=16, dtype=torch.float32)
    want = value_and_grads(NCELoss(), x.double(), y.double())
    got = value_and_grads(ChunkedNCELoss(chunk_size=8), x, y)
    assert got[0].dtype == torch.float32 and got[1][0].dtype == torch.float32
    assert_same(want, (got[0].double(), [g.double() for g in got[1]]), rtol=1e-4, atol=1e-6)


def test_gradcheck_primitive_with_arbitrary_upstream_gradients():
    x, y = pair(5, 5, d=3)
    y = torch.cat([y, y[:2] * 0.7])  # N = 7 columns ≠ B = 5 rows
    scale = torch.tensor(1.7, dtype=F64)
    w_row, w_col = torch.randn(5, dtype=F64), torch.randn(7, dtype=F64)

    def f(a, b, s):
        row, col = row_col_logsumexp(a, b, s, chunk=2)
        return (w_row * row).sum() + (w_col * col).sum()

    inputs = [t.clone().requires_grad_(True) for t in (x, y, scale)]
    assert torch.autograd.gradcheck(f, inputs)


def test_gradcheck_losses():
    x, y = pair(6, 5, d=3)
    scale = torch.tensor(1.3, dtype=F64)
    nce = ChunkedNCELoss(temperature=0.5, chunk_size=2)
    inputs = [t.clone().requires_grad_(True) for t in (x, y, scale)]
    assert torch.autograd.gradcheck(lambda a, b, s: nce(a, b, logit_scale=s), inputs)
    v, t, mask = mil_inputs(7, 5, k=2, d=3)
    mil = ChunkedMILNCELoss(temperature=0.5, normalize=True, chunk_size=2)
    inputs = [v.requires_grad_(True), t.requires_grad_(True)]
    assert torch.autograd.gradcheck(lambda a, b: mil(a, b, mask), inputs)


def test_graph_never_saves_a_batch_by_batch_tensor():
    b, d = 64, 4
    x, y = pair(8, b, d=d)
    v, t, mask = mil_inputs(9, b, k=2, d=d, empty_rows=False)
    assert largest_saved_tensor(NCELoss(), x, y) >= b * b  # the hook does see the B×B logits
    assert largest_saved_tensor(ChunkedNCELoss(chunk_size=8), x, y) <= b * d
    assert largest_saved_tensor(MILNCELoss(), v, t) >= b * b * 2
    assert largest_saved_tensor(lambda a, c: ChunkedMILNCELoss(chunk_size=8)(a, c, mask),
                                v, t) <= b * 2 * d


def test_rejects_bad_arguments():
    with pytest.raises(ValueError, match="chunk_size"):
        ChunkedNCELoss(chunk_size=0)(*pair(0, 3))
    with pytest.raises(ValueError, match="equal shape"):
        ChunkedNCELoss()(torch.randn(3, 4), torch.randn(4, 4))
    with pytest.raises(ValueError, match="text_mask"):
        ChunkedMILNCELoss()(torch.randn(3, 4), torch.randn(3, 2, 4), torch.ones(3, 3).bool())


# --- 2 processes: chunked and plain loss on gather_with_grad inputs ---------------------

WORLD, GLOBAL_B, DIM, K = 2, 10, 5, 3


def _distributed_case(rank, loss_fns, make_inputs, mask=None, world=WORLD):
    """Per loss: value and local-input gradients on this rank's share of a fixed batch."""
    rows = slice(rank * GLOBAL_B // world, (rank + 1) * GLOBAL_B // world)
    out = {}
    for name, loss_fn in loss_fns.items():
        local = [t[rows].clone().requires_grad_(True) for t in make_inputs()]
        gathered = [distributed.gather_with_grad(t) for t in local]
        loss = loss_fn(*gathered) if mask is None else loss_fn(*gathered, mask)
        loss.backward()
        out[name] = {"loss": loss.detach(), "grads": [t.grad for t in local]}
    return out


def _nce_case():
    losses = {"plain": NCELoss(0.1), "chunked": ChunkedNCELoss(0.1, chunk_size=3)}
    return losses, lambda: pair(10, GLOBAL_B, DIM)


def _mil_case():
    losses = {"plain": MILNCELoss(), "chunked": ChunkedMILNCELoss(chunk_size=3)}
    v, t, mask = mil_inputs(11, GLOBAL_B, K, DIM)  # every rank sees the global mask
    return losses, lambda: (v, t), mask


_CASES = {"nce": _nce_case, "mil": _mil_case}


def _body(rank):
    return {name: _distributed_case(rank, *case()) for name, case in _CASES.items()}


@pytest.fixture(scope="module")
def two_process_results(run_gloo):
    return run_gloo(_body, WORLD)


@pytest.mark.parametrize("loss", ["nce", "mil"])
def test_two_processes_chunked_equals_plain(loss, two_process_results):
    for results in two_process_results:
        plain, chunked = results[loss]["plain"], results[loss]["chunked"]
        assert plain["loss"].item() > 0 and plain["grads"][0].abs().sum() > 0
        assert_same((plain["loss"], plain["grads"]), (chunked["loss"], chunked["grads"]))
    # ...and both match one process on the whole batch: same loss, WORLD × its gradients
    # (all_gather's backward sums the gradient of the same loss over the WORLD copies).
    single = _distributed_case(0, *_CASES[loss](), world=1)["chunked"]
    for rank, results in enumerate(two_process_results):
        rows = slice(rank * GLOBAL_B // WORLD, (rank + 1) * GLOBAL_B // WORLD)
        chunked = results[loss]["chunked"]
        torch.testing.assert_close(chunked["loss"], single["loss"], rtol=1e-12, atol=1e-12)
        for got, want in zip(chunked["grads"], single["grads"], strict=True):
            torch.testing.assert_close(got, WORLD * want[rows], rtol=1e-10, atol=1e-12)
