"""MILNCELoss against a loop reference written straight from the MIL-NCE formula."""

import math

import pytest
import torch

from mmssl.losses import MILNCELoss


def naive_milnce(v, t, mask, symmetric, temperature=None, normalize=False):
    """-mean_i log( Σ_{k∈P_i} e^{S_iik} / (Σ_{j,k∈P_j} e^{S_ijk} [+ Σ_{j,k∈P_i} e^{S_jik}]) )."""
    b, k_max, _ = t.shape
    vs, ts, ms = v.tolist(), t.tolist(), mask.tolist()
    if normalize:
        vs = [[a / math.sqrt(sum(u * u for u in r)) for a in r] for r in vs]
        ts = [[[a / math.sqrt(sum(u * u for u in c)) for a in c] for c in row] for row in ts]

    def s(i, j, k):
        dot = sum(p * q for p, q in zip(vs[i], ts[j][k], strict=True))
        return dot / temperature if temperature else dot

    terms = []
    for i in range(b):
        if not any(ms[i]):
            continue  # no positive: not an anchor
        num = sum(math.exp(s(i, i, k)) for k in range(k_max) if ms[i][k])
        den = sum(math.exp(s(i, j, k)) for j in range(b) for k in range(k_max) if ms[j][k])
        if symmetric:
            den += sum(math.exp(s(j, i, k)) for j in range(b) for k in range(k_max) if ms[i][k])
        terms.append(-math.log(num / den))
    return sum(terms) / len(terms)


def random_inputs(seed, b=5, k=4, d=6, scale=0.5):
    g = torch.Generator().manual_seed(seed)
    v = scale * torch.randn(b, d, generator=g, dtype=torch.float64)
    t = scale * torch.randn(b, k, d, generator=g, dtype=torch.float64)
    mask = torch.rand(b, k, generator=g) < 0.7
    mask[:, 0] |= ~mask.any(dim=1)  # at least one valid candidate per row
    return v, t, mask


@pytest.mark.parametrize("symmetric", [True, False])
@pytest.mark.parametrize("temperature,normalize", [(None, False), (0.3, True), (0.5, False)])
def test_matches_naive_reference(symmetric, temperature, normalize):
    v, t, mask = random_inputs(0)
    assert not mask.all(), "test inputs should exercise the mask"
    loss_fn = MILNCELoss(temperature=temperature, normalize=normalize, symmetric=symmetric)
    loss = loss_fn(v, t, mask)
    expected = naive_milnce(v, t, mask, symmetric, temperature, normalize)
    assert loss.item() == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize("symmetric", [True, False])
def test_no_mask_means_all_valid(symmetric):
    v, t, _ = random_inputs(1)
    loss_fn = MILNCELoss(symmetric=symmetric)
    full = torch.ones(t.shape[:2], dtype=torch.bool)
    assert loss_fn(v, t).item() == pytest.approx(naive_milnce(v, t, full, symmetric), rel=1e-10)


def test_minimum_log2_when_positives_dominate():
    b, k = 4, 3
    v = 40.0 * torch.eye(b, dtype=torch.float64)
    t = torch.eye(b, dtype=torch.float64).unsqueeze(1).expand(b, k, b).contiguous()
    sym = MILNCELoss(symmetric=True)(v, t).item()
    row = MILNCELoss(symmetric=False)(v, t).item()
    assert sym == pytest.approx(math.log(2.0), abs=1e-12)
    assert row == pytest.approx(0.0, abs=1e-12)
    # And log 2 is a lower bound of the symmetric form for arbitrary inputs.
    for seed in range(5):
        v, t, mask = random_inputs(seed, scale=3.0)
        assert MILNCELoss()(v, t, mask).item() > math.log(2.0)


def test_k1_equals_explicit_joint_softmax():
    g = torch.Generator().manual_seed(2)
    v = torch.randn(6, 4, generator=g, dtype=torch.float64)
    t = torch.randn(6, 1, 4, generator=g, dtype=torch.float64)
    s = v @ t[:, 0].t()  # s_ij = v_i·t_j
    terms = []
    for i in range(6):
        den = sum(math.exp(s[i, j].item()) for j in range(6))
        den += sum(math.exp(s[j, i].item()) for j in range(6))
        terms.append(math.log(math.exp(s[i, i].item()) / den))
    expected = -sum(terms) / 6
    assert MILNCELoss()(v, t).item() == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("symmetric", [True, False])
def test_masking_a_candidate_equals_removing_it(symmetric):
    v, t, _ = random_inputs(3, b=5, k=4)
    g = torch.Generator().manual_seed(3)
    drop = torch.randint(0, 4, (5,), generator=g)  # one candidate per row, different columns
    mask = torch.ones(5, 4, dtype=torch.bool)
    mask[torch.arange(5), drop] = False
    smaller = torch.stack([t[i][mask[i]] for i in range(5)])  # (5, 3, D)
    loss_fn = MILNCELoss(symmetric=symmetric)
    assert loss_fn(v, t, mask).item() == pytest.approx(loss_fn(v, smaller).item(), rel=1e-12)
    # Masked candidates get no gradient, even though they hold real numbers.
    tg = t.clone().requires_grad_(True)
    loss_fn(v, tg, mask).backward()
    assert torch.all(tg.grad[~mask] == 0)
    assert torch.all(tg.grad[mask].abs().sum(-1) > 0)


@pytest.mark.parametrize("symmetric", [True, False])
def test_invariant_to_permuting_candidates_within_rows(symmetric):
    v, t, mask = random_inputs(4, b=6, k=5)
    g = torch.Generator().manual_seed(4)
    perms = torch.stack([torch.randperm(5, generator=g) for _ in range(6)])
    t_perm = torch.stack([t[i, perms[i]] for i in range(6)])
    m_perm = torch.stack([mask[i, perms[i]] for i in range(6)])
    loss_fn = MILNCELoss(symmetric=symmetric)
    assert loss_fn(v, t_perm, m_perm).item() == pytest.approx(
        loss_fn(v, t, mask).item(), rel=1e-12)


def test_row_without_candidates_is_not_an_anchor():
    v, t, mask = random_inputs(5)
    mask[2] = False
    loss_fn = MILNCELoss()
    vg = v.clone().requires_grad_(True)
    loss = loss_fn(vg, t, mask)
    assert loss.item() == pytest.approx(naive_milnce(v, t, mask, True), rel=1e-10)
    loss.backward()
    assert torch.isfinite(vg.grad).all()
    empty = MILNCELoss()(vg, t, torch.zeros_like(mask))
    assert empty.item() == 0.0 and empty.requires_grad


def test_gradcheck():
    v, t, mask = random_inputs(6, b=3, k=2, d=3)
    v.requires_grad_(True)
    t.requires_grad_(True)
    loss_fn = MILNCELoss(temperature=0.5, normalize=True)
    assert torch.autograd.gradcheck(lambda a, b: loss_fn(a, b, mask), (v, t))
