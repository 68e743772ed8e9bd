"""MoCo, ALBEF, SwAV, Barlow Twins and SupCon on a fixed batch: which embeddings each loss
compares (the losses themselves are checked against their formulas in tests/losses), and
what ``after_step`` does to momentum encoders, queues, prototypes and a learnt
temperature."""

import math

import pytest
import torch
import torch.nn.functional as F
from helpers import LABELS, fixed_batch, make_method

from mmssl.losses import (
    ALBEFContrastiveLoss,
    BarlowTwinsLoss,
    MoCoLoss,
    SupConLoss,
    SwAVLoss,
)


def projected(method, video, normalize=True):
    z = method.projector(method.towers.encode("video", video))
    return F.normalize(z, dim=-1) if normalize else z


def momentum_projected(method, video):
    inputs = method.towers.inputs("video", video)
    return F.normalize(method.target["projector"](method.target["encoder"](inputs)), dim=-1)


def test_moco_terms_and_queue_after_the_step():
    method = make_method("moco", temperature=0.2, queue_size=7, momentum=0.9)
    b = fixed_batch()
    with torch.no_grad():
        out = method.training_step(b)
        q1, q2 = (projected(method, b[k]) for k in ("video", "video_view2"))
        k1, k2 = (momentum_projected(method, b[k]) for k in ("video", "video_view2"))
        queue = method.queue.features.clone()
    loss = MoCoLoss(0.2)
    expected = loss(q1, k2, queue) + loss(q2, k1, queue)
    assert float(out["loss_ssl"]) == pytest.approx(float(expected), rel=1e-12)
    online = {n: p.clone() for n, p in method.towers["video"].named_parameters()}
    with torch.no_grad():  # an optimiser step on the online encoder, then after_step
        for p in method.towers["video"].parameters():
            p.add_(0.5)
    before = {n: p.clone() for n, p in method.target["encoder"].named_parameters()}
    method.after_step()
    for name, p in method.target["encoder"].named_parameters():
        torch.testing.assert_close(p, 0.9 * before[name] + 0.1 * (online[name] + 0.5))
    # The step's keys of the first view, then of the second, at slots 0..2B-1 (mod 7).
    slots = [i % 7 for i in range(10)]
    expected_queue = queue.clone()
    for slot, key in zip(slots, torch.cat([k1, k2]), strict=True):
        expected_queue[slot] = key
    torch.testing.assert_close(method.queue.features, expected_queue)
    assert int(method.queue.ptr) == 10 % 7


def test_albef_terms_learnt_temperature_and_queues():
    method = make_method("albef", learn_temperature=True, queue_size=6, alpha=0.3)
    b = fixed_batch()
    with torch.no_grad():
        method.scoring.learnt_temperature.fill_(0.2)
        out = method.training_step(b)
        v = F.normalize(method.spaces("video", method.towers.encode("video", b["video"]))["vt"],
                        dim=-1)
        anchor = b["text"][:, 0]
        t = F.normalize(method.spaces("text", method.towers.encode("text", anchor))["vt"],
                        dim=-1)
        target = method.target
        v_m = F.normalize(target["spaces"]("video", target["towers"].encode(
            "video", b["video"]))["vt"], dim=-1)
        t_m = F.normalize(target["spaces"]("text", target["towers"].encode(
            "text", anchor))["vt"], dim=-1)
        qv, qt = method.queues["video"].features.clone(), method.queues["text"].features.clone()
    expected = ALBEFContrastiveLoss(alpha=0.3)(v, t, v_m, t_m, qv, qt,
                                               temperature=torch.tensor(0.2, dtype=torch.float64))
    assert float(out["loss_vt"]) == pytest.approx(float(expected), rel=1e-10)
    assert float(out["temperature"]) == pytest.approx(0.2, rel=1e-12)
    with torch.no_grad():
        method.scoring.learnt_temperature.fill_(0.8)  # an optimiser step past ALBEF's range
    method.after_step()
    assert method.scoring.learnt_temperature.item() == pytest.approx(0.5)
    torch.testing.assert_close(method.queues["video"].features[:5], v_m)
    torch.testing.assert_close(method.queues["text"].features[:5], t_m)


def test_swav_terms_queue_once_full_and_prototypes_on_the_sphere():
    method = make_method("swav", temperature=0.1, prototypes=4, queue_size=8,
                         sinkhorn_epsilon=0.1, sinkhorn_iterations=4)
    loss = SwAVLoss(0.1, 0.1, 4)
    for step in range(3):
        b = fixed_batch(seed=step)
        with torch.no_grad():
            out = method.training_step(b)
            z1, z2 = (projected(method, b[k]) for k in ("video", "video_view2"))
            w = method.prototypes.weight
            full = all(queue.full for queue in method.queues)
            queue = (torch.stack([q.features.double() @ w.t() for q in method.queues])
                     if full else None)
        assert full == (step >= 2)  # 5 rows a step: full after the second step's enqueue
        expected = loss(z1 @ w.t(), z2 @ w.t(), queue)
        assert float(out["loss_ssl"]) == pytest.approx(expected.item(), rel=1e-10)
        with torch.no_grad():
            method.prototypes.weight.mul_(3.0)  # an optimiser step that leaves the sphere
        method.after_step()
        torch.testing.assert_close(method.prototypes.weight.norm(dim=1),
                                   torch.ones(4, dtype=torch.float64))


def test_barlow_twins_terms():
    method = make_method("barlow_twins", lambda_offdiag=0.02)
    b = fixed_batch()
    with torch.no_grad():
        out = method.training_step(b)
        z1, z2 = (projected(method, b[k], normalize=False) for k in ("video", "video_view2"))
    expected = BarlowTwinsLoss(0.02)(z1, z2)
    assert float(out["loss_ssl"]) == pytest.approx(float(expected), rel=1e-12)


def test_supcon_terms_use_the_batch_labels():
    method = make_method("supcon", temperature=0.3)
    b = fixed_batch()
    with torch.no_grad():
        out = method.training_step(b)
        views = torch.stack([projected(method, b[k], normalize=False)
                             for k in ("video", "video_view2")], dim=1)
    expected = SupConLoss(0.3)(views, torch.tensor(LABELS))
    assert float(out["loss_ssl"]) == pytest.approx(float(expected), rel=1e-12)
    unlabelled = SupConLoss(0.3)(views)  # the labels matter: not SimCLR's positives
    assert float(out["loss_ssl"]) != pytest.approx(float(unlabelled), rel=1e-6)


def test_supcon_needs_labelled_clips():
    from mmssl.config import TrainConfig
    from mmssl.methods import build_method

    config = TrainConfig(method="supcon")
    config.data.views = 2
    with pytest.raises(ValueError, match="set data.label_key"):
        build_method(config, 0)


@pytest.mark.parametrize("method_name", ["clip", "albef"])
def test_learnt_temperature_comes_back_inside_its_bound(method_name):
    """30 AdamW steps from just past the bound (CLIP: ln 100 + 0.05; ALBEF: τ = 0.0009):
    the parameter is clamped in place after each step, so the loss's gradient brings it
    back inside (open_clip: ln 100 + 0.05 → 4.3130 with lr 0.01). A clamp inside the loss
    (exp(s).clamp(max=100)) gave it a zero gradient: it stayed at ln 100 + 0.05 for ever."""
    extra = {"queue_size": 6} if method_name == "albef" else {}
    method = make_method(method_name, learn_temperature=True, **extra).train()
    parameter = method.scoring.parameter
    start = math.log(100.0) + 0.05 if method_name == "clip" else 0.0009
    with torch.no_grad():
        parameter.fill_(start)
    optimizer = torch.optim.AdamW([parameter], lr=0.01, weight_decay=0.0)
    b = fixed_batch()
    for _ in range(30):
        optimizer.zero_grad()
        method.training_step(b)["loss"].backward()
        assert parameter.grad.item() != 0.0
        optimizer.step()
        method.after_step()
    if method_name == "clip":
        assert parameter.item() < math.log(100.0) - 0.2  # came back well inside
    else:
        assert parameter.item() > 10 * 0.001  # τ grew well away from the lower bound
