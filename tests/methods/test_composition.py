"""Each method's loss on a fixed, seeded batch equals its terms written out from the
formulas (docs/protocols.md), for cosine / τ and for raw dot products: which embeddings
each term compares, how it is scored, and how the terms are weighted.

The encoders and heads are the method's own (the embeddings before any scoring); the
scoring, the terms and their weights are recomputed here with plain loops over floats.
"""

import math

import pytest
import torch
import torch.nn.functional as F
from helpers import HAS_AUDIO, TAU, TEXT_MASK, VOCAB, B, tiny_config
from helpers import fixed_batch as batch
from helpers import make_method as make

from mmssl.config import demo_train_config
from mmssl.losses import MILNCELoss, NCELoss
from mmssl.methods import build_method


def heads(method, modality: str, x: torch.Tensor) -> dict:
    """{pair: rows} through the method's encoder and heads, before any scoring; text
    (B, K, L) → (B, K, D) per pair."""
    flat = x.reshape(-1, x.shape[-1]) if modality == "text" else x
    out = method.spaces(modality, method.towers.encode(modality, flat))
    if modality != "text":
        return out
    return {pair: z.reshape(*x.shape[:-1], -1) for pair, z in out.items()}


def scored(z: torch.Tensor, normalize: bool) -> torch.Tensor:
    return z / z.norm(dim=-1, keepdim=True) if normalize else z


def dot(a, b) -> float:
    return float((a * b).sum())


def log_sum_exp(values) -> float:
    top = max(values)
    return top + math.log(sum(math.exp(v - top) for v in values))


def nce(x, y, scale: float, keep=None) -> float:
    """½·mean_i[−log softmax_j(s·x_i·y_j)_i] + ½·mean_i[−log softmax_j(s·x_j·y_i)_i] over
    the kept rows."""
    rows = [i for i in range(len(x)) if keep is None or keep[i]]
    s = {(i, j): scale * dot(x[i], y[j]) for i in rows for j in rows}
    xy = [log_sum_exp([s[i, j] for j in rows]) - s[i, i] for i in rows]
    yx = [log_sum_exp([s[j, i] for j in rows]) - s[i, i] for i in rows]
    return 0.5 * (sum(xy) + sum(yx)) / len(rows)


def milnce(v, t, mask, scale: float) -> float:
    """Symmetric MIL-NCE: mean_i [log(Σ_{j,k∈P_j} e^{s(v_i,t_jk)} + Σ_{j,k∈P_i} e^{s(v_j,t_ik)})
    − log Σ_{k∈P_i} e^{s(v_i,t_ik)}]."""
    rows = range(len(v))
    valid = [[k for k in range(len(mask[j])) if mask[j][k]] for j in rows]
    per_row = []
    for i in rows:
        positives = [scale * dot(v[i], t[i, k]) for k in valid[i]]
        row = [scale * dot(v[i], t[j, k]) for j in rows for k in valid[j]]
        column = [scale * dot(v[j], t[i, k]) for j in rows for k in valid[i]]
        per_row.append(log_sum_exp(row + column) - log_sum_exp(positives))
    return sum(per_row) / len(per_row)


def mms(x, y, margin: float, keep=None) -> float:
    """Masked margin softmax: the sum of the row and column cross-entropies of S − δ·I."""
    rows = [i for i in range(len(x)) if keep is None or keep[i]]
    s = {(i, j): dot(x[i], y[j]) - (margin if i == j else 0.0) for i in rows for j in rows}
    row = [log_sum_exp([s[i, j] for j in rows]) - s[i, i] for i in rows]
    column = [log_sum_exp([s[j, i] for j in rows]) - s[i, i] for i in rows]
    return (sum(row) + sum(column)) / len(rows)


def check(out: dict, terms: dict, weights: dict) -> None:
    """The method's output against terms computed here and their weighted sum."""
    assert set(out) >= {"loss"} | {f"loss_{name}" for name in terms}
    for name, value in terms.items():
        assert float(out[f"loss_{name}"]) == pytest.approx(value, rel=1e-10), name
    total = sum(weights[name] * value for name, value in terms.items())
    assert float(out["loss"]) == pytest.approx(total, rel=1e-10)


@pytest.mark.parametrize("normalize", [True, False])
def test_mmv_terms(normalize):
    weights = {"va": 0.5, "vt": 2.0, "at": 1.5}
    method = make("mmv", weights=weights, normalize=normalize)
    b = batch()
    with torch.no_grad():
        out = method.training_step(b)
        z = {m: {p: scored(e, normalize) for p, e in heads(method, m, b[m]).items()}
             for m in ("video", "audio", "text")}
    scale = 1.0 / TAU if normalize else 1.0  # raw dot products: no temperature anywhere
    has_audio = [i for i in range(B) if HAS_AUDIO[i]]
    terms = {"va": nce(z["video"]["va"], z["audio"]["va"], scale, keep=HAS_AUDIO),
             "vt": milnce(z["video"]["vt"], z["text"]["vt"], TEXT_MASK, scale),
             "at": milnce(z["audio"]["at"][has_audio], z["text"]["at"][has_audio],
                          [TEXT_MASK[i] for i in has_audio], scale)}
    check(out, terms, weights)


def test_mmv_default_leaves_the_audio_text_term_out():
    with torch.no_grad():
        out = make("mmv").training_step(batch())
    assert "loss_at" not in out
    assert float(out["loss"]) == pytest.approx(float(out["loss_va"] + out["loss_vt"]), rel=1e-12)


def test_demo_mmv_loss_is_the_one_it_always_was():
    """The demo's method (MMV-FAC, cosine / 0.07, audio-text term on) computes exactly,
    bit for bit, the calls MMV made before the scoring policy had one home: normalised
    head outputs, NCE(τ) on S_va and MIL-NCE(τ) on S_vat."""
    config = tiny_config(demo_train_config())
    torch.manual_seed(0)
    method = build_method(config, VOCAB).eval()
    b = batch(torch.float32)
    with torch.no_grad():
        out = method.training_step(b)
        z = {m: {p: F.normalize(e, dim=-1) for p, e in heads(method, m, b[m]).items()}
             for m in ("video", "audio", "text")}
    has_audio, text_mask = b["audio_mask"], b["text_mask"]
    old = {"va": NCELoss(temperature=TAU, normalize=False)(z["video"]["va"], z["audio"]["va"],
                                                          mask=has_audio),
           "vt": MILNCELoss(temperature=TAU)(z["video"]["vt"], z["text"]["vt"], text_mask),
           "at": MILNCELoss(temperature=TAU)(z["audio"]["at"][has_audio],
                                             z["text"]["at"][has_audio], text_mask[has_audio])}
    assert method.spaces.kind == "fac" and method.weights == {"va": 1.0, "vt": 1.0, "at": 1.0}
    for name, value in old.items():
        assert torch.equal(out[f"loss_{name}"], value), name
    assert torch.equal(out["loss"], torch.zeros(()) + old["va"] + old["vt"] + old["at"])


@pytest.mark.parametrize("normalize", [True, False])
def test_avlnet_terms(normalize):
    weights = {"va": 0.7, "vt": 1.0, "at": 0.5, "vat": 2.0}
    method = make("avlnet", weights=weights, normalize=normalize, margin=0.1)
    b = batch()
    with torch.no_grad():
        out = method.training_step(b)
        v = scored(heads(method, "video", b["video"])["vt"], normalize)
        a = scored(heads(method, "audio", b["audio"])["at"], normalize)
        t = scored(heads(method, "text", b["text"][:, 0])["vt"], normalize)
    scale = 1.0 / TAU if normalize else 1.0  # MMS has no temperature: s(x, y) = x·y/τ
    fused = v + a * torch.tensor(HAS_AUDIO, dtype=a.dtype)[:, None]
    terms = {"va": mms(a * scale, v, 0.1, keep=HAS_AUDIO), "vt": mms(v, t * scale, 0.1),
             "at": mms(a, t * scale, 0.1, keep=HAS_AUDIO), "vat": mms(fused, t * scale, 0.1)}
    check(out, terms, weights)


def test_avlnet_trains_its_published_objective_by_default():
    """AVLnet-Text-Tri's pretraining loss is MMS(a,v) + MMS(a,t) + MMS(t,v); the fused
    text-vs-(video+audio) term is its fine-tuning option, off unless weighted."""
    method = make("avlnet", normalize=False)
    assert method.weights == {"va": 1.0, "at": 1.0, "vt": 1.0, "vat": 0.0}
    with torch.no_grad():
        out = method.training_step(batch())
    assert {name for name in out if name.startswith("loss_")} == {"loss_va", "loss_at",
                                                                 "loss_vt"}


@pytest.mark.parametrize("normalize", [True, False])
def test_milnce_terms(normalize):
    method = make("milnce", normalize=normalize, weights={"vt": 3.0})
    b = batch()
    with torch.no_grad():
        out = method.training_step(b)
        v = scored(heads(method, "video", b["video"])["vt"], normalize)
        t = scored(heads(method, "text", b["text"])["vt"], normalize)
    scale = 1.0 / TAU if normalize else 1.0
    check(out, {"vt": milnce(v, t, TEXT_MASK, scale)}, {"vt": 3.0})


@pytest.mark.parametrize(("normalize", "learnable"), [(True, False), (False, False),
                                                      (True, True)])
def test_clip_terms(normalize, learnable):
    method = make("clip", normalize=normalize, learn_temperature=learnable)
    if learnable:
        with torch.no_grad():
            method.scoring.logit_scale.fill_(math.log(20.0))
    b = batch()
    with torch.no_grad():
        out = method.training_step(b)
        v = scored(heads(method, "video", b["video"])["vt"], normalize)
        t = scored(heads(method, "text", b["text"][:, 0])["vt"], normalize)
    scale = 20.0 if learnable else (1.0 / TAU if normalize else 1.0)
    check(out, {"vt": nce(v, t, scale)}, {"vt": 1.0})
    if learnable:
        assert float(out["temperature"]) == pytest.approx(1.0 / 20.0, rel=1e-12)
    else:
        assert "temperature" not in out


def test_clip_learnt_scale_is_used_as_it_is_and_bounded_after_each_step():
    method = make("clip", learn_temperature=True)
    with torch.no_grad():
        method.scoring.logit_scale.fill_(math.log(150.0))
        b = batch()
        out = method.training_step(b)
        v = scored(heads(method, "video", b["video"])["vt"], True)
        t = scored(heads(method, "text", b["text"][:, 0])["vt"], True)
    assert float(out["loss_vt"]) == pytest.approx(nce(v, t, 150.0), rel=1e-10)
    method.after_step()  # what the loop calls after every optimiser step
    assert method.scoring.logit_scale.item() == pytest.approx(math.log(100.0), rel=1e-12)


def test_simclr_terms():
    method = make("simclr", temperature=0.2, weights={"ssl": 0.5})
    b = batch()
    with torch.no_grad():
        out = method.training_step(b)
        views = [method.projector(method.towers.encode("video", b[key]))
                 for key in ("video", "video_view2")]
    e = scored(torch.cat(views), True)  # NT-Xent: cosine / τ over the 2N views
    n = len(e) // 2
    per_anchor = []
    for a in range(2 * n):
        others = [dot(e[a], e[k]) / 0.2 for k in range(2 * n) if k != a]
        per_anchor.append(log_sum_exp(others) - dot(e[a], e[(a + n) % (2 * n)]) / 0.2)
    check(out, {"ssl": sum(per_anchor) / (2 * n)}, {"ssl": 0.5})


def test_byol_terms():
    method = make("byol")
    b = batch()
    with torch.no_grad():
        out = method.training_step(b)
        online = [method.predictor(method.projector(method.towers.encode("video", b[key])))
                  for key in ("video", "video_view2")]
        target = [method.target["projector"](method.target["encoder"](
                  method.towers.inputs("video", b[key])))
                  for key in ("video", "video_view2")]
    p1, p2 = (scored(p, True) for p in online)
    t1, t2 = (scored(t, True) for t in target)
    regression = [(2 - 2 * dot(p1[i], t2[i])) + (2 - 2 * dot(p2[i], t1[i])) for i in range(B)]
    check(out, {"ssl": sum(regression) / B}, {"ssl": 1.0})


def video_text_embeddings(method, b: dict, normalize: bool):
    """The method's video and anchor-text rows as scored (normalised or not)."""
    v = scored(heads(method, "video", b["video"])["vt"], normalize)
    t = scored(heads(method, "text", b["text"][:, 0])["vt"], normalize)
    return v, t


@pytest.mark.parametrize("method_name", ["clip", "milnce"])
def test_siglip_kind_terms(method_name):
    method = make(method_name, kind="siglip", temperature=0.1)
    with torch.no_grad():
        method.objective.bias.fill_(-2.0)
        b = batch()
        out = method.training_step(b)
        v, t = video_text_embeddings(method, b, True)
    pairs = [(i, j) for i in range(B) for j in range(B)]
    signed = [(1 if i == j else -1) * (10.0 * dot(v[i], t[j]) - 2.0) for i, j in pairs]
    expected = sum(math.log1p(math.exp(-z)) for z in signed) / B  # −Σ log σ(ℓ·z) / B
    check(out, {"vt": expected}, {"vt": 1.0})


@pytest.mark.parametrize("normalize", [True, False])
def test_mms_kind_terms(normalize):
    method = make("clip", kind="mms", margin=0.2, normalize=normalize)
    b = batch()
    with torch.no_grad():
        out = method.training_step(b)
        v, t = video_text_embeddings(method, b, normalize)
    scale = 1.0 / TAU if normalize else 1.0  # s(v, t) = (v/τ)·t
    check(out, {"vt": mms(v * scale, t, 0.2)}, {"vt": 1.0})


def test_margin_ranking_kind_terms():
    method = make("clip", kind="margin_ranking", ranking_margin=0.3)
    b = batch()
    with torch.no_grad():
        out = method.training_step(b)
        v, t = video_text_embeddings(method, b, True)
    s = [[dot(v[i], t[j]) for j in range(B)] for i in range(B)]  # cosine, no temperature
    hinges = [max(0.0, 0.3 + s[i][j] - s[i][i]) + max(0.0, 0.3 + s[i][j] - s[j][j])
              for i in range(B) for j in range(B)]
    check(out, {"vt": sum(hinges) / B ** 2}, {"vt": 1.0})


def test_hadsell_kind_terms():
    method = make("milnce", kind="hadsell", hadsell_margin=1.1)
    b = batch()
    with torch.no_grad():
        out = method.training_step(b)
        v, t = video_text_embeddings(method, b, True)
    pairs = []
    for i in range(B):
        for j in range(B):
            d = math.sqrt(sum((float(p) - float(q)) ** 2 for p, q in zip(v[i], t[j], strict=True)))
            pairs.append(0.5 * d * d if i == j else 0.5 * max(0.0, 1.1 - d) ** 2)
    check(out, {"vt": sum(pairs) / B ** 2}, {"vt": 1.0})


def test_clip_with_milnce_kind_is_milnce():
    """The objective, not the registered name, decides the loss."""
    b = batch()
    with torch.no_grad():
        as_clip = make("clip", kind="milnce").training_step(b)
        as_milnce = make("milnce").training_step(b)
    assert float(as_clip["loss"]) == pytest.approx(float(as_milnce["loss"]), rel=1e-12)


@pytest.mark.parametrize(("method_name", "loss"), [
    ("clip", {}), ("clip", {"learn_temperature": True}), ("milnce", {}),
    ("clip", {"kind": "siglip"}), ("clip", {"kind": "mms"}),
    ("clip", {"kind": "margin_ranking"}), ("clip", {"kind": "hadsell"}),
    ("mmv", {"weights": {"at": 1.0}}), ("simclr", {}), ("moco", {"queue_size": 6}),
    ("supcon", {}), ("albef", {"learn_temperature": True, "queue_size": 6}),
])
def test_chunk_size_gives_the_same_loss_and_gradients(method_name, loss):
    """``loss.chunk_size`` on every contrastive method: the memory-linear form of each of
    its terms, the same values and parameter gradients as the whole score matrices."""
    b = batch()
    results = []
    for chunk in (0, 2):
        method = make(method_name, chunk_size=chunk, **loss).train()
        out = method.training_step(b)
        out["loss"].backward()
        grads = {name: p.grad.clone() for name, p in method.named_parameters()
                 if p.grad is not None}
        results.append(({k: float(v.detach()) for k, v in out.items()}, grads))
    (whole, whole_grads), (chunked, chunked_grads) = results
    assert whole.keys() == chunked.keys() and whole_grads.keys() == chunked_grads.keys()
    for key in whole:
        assert chunked[key] == pytest.approx(whole[key], rel=1e-10), key
    for name in whole_grads:
        torch.testing.assert_close(chunked_grads[name], whole_grads[name], rtol=1e-8,
                                   atol=1e-12)


@pytest.mark.parametrize(("method_name", "override", "message"), [
    ("clip", {"kind": "nce"}, "loss.kind='nce' is not available"),
    ("clip", {"kind": "margin_ranking", "temperature": 0.2}, "does not use loss.temperature"),
    ("milnce", {"kind": "hadsell", "learn_temperature": True},
     "does not use loss.learn_temperature"),
    ("clip", {"kind": "infonce", "ranking_margin": 0.5}, "does not use loss.ranking_margin"),
    ("byol", {"chunk_size": 64}, "does not use loss.chunk_size"),
    ("barlow_twins", {"chunk_size": 64}, "does not use loss.chunk_size"),
    ("swav", {"chunk_size": 64}, "does not use loss.chunk_size"),
    ("moco", {"queue_size": 0}, "set loss.queue_size >= 1"),
])
def test_settings_a_method_would_ignore_are_errors(method_name, override, message):
    with pytest.raises(ValueError, match=message):
        make(method_name, **override)
