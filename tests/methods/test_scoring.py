"""The one scoring policy (Scoring) and the config fields each method refuses to ignore."""

import math

import pytest
import torch

from mmssl.config import LossConfig, TrainConfig, load_config
from mmssl.methods import METHODS, build_method
from mmssl.methods.scoring import Scoring
from mmssl.models.heads import GatedEmbeddingUnit


def test_cosine_over_temperature():
    scoring = Scoring(normalize=True, temperature=0.25)
    z = torch.tensor([[3.0, 4.0], [0.0, -2.0]])
    torch.testing.assert_close(scoring.embedding(z), torch.tensor([[0.6, 0.8], [0.0, -1.0]]))
    assert scoring.temperature == 0.25 and scoring.scale({}) == 4.0
    assert scoring.features() == {} and scoring.report({}) == {}
    assert list(scoring.parameters()) == []


def test_raw_dot_products_have_no_temperature():
    scoring = Scoring(normalize=False, temperature=0.25)
    z = torch.tensor([[3.0, 4.0]])
    assert scoring.embedding(z) is z
    assert scoring.temperature == 1.0 and scoring.scale({}) == 1.0


def test_learnable_temperature_starts_at_tau_and_is_bounded_in_place():
    scoring = Scoring(normalize=True, temperature=0.05, learnt="logit_scale")
    features = scoring.features()
    assert features["logit_scale"] is scoring.logit_scale and scoring.logit_scale.requires_grad
    assert scoring.scale(features).item() == pytest.approx(20.0)
    assert scoring.report(features)["temperature"].item() == pytest.approx(0.05)
    with torch.no_grad():
        scoring.logit_scale.fill_(math.log(1000.0))
    scoring.scale(features).backward()
    assert float(scoring.logit_scale.grad) != 0.0  # past the bound the gradient still acts
    scoring.clamp_()  # what a method's after_step does after every optimiser step
    assert scoring.logit_scale.item() == pytest.approx(math.log(100.0))  # 1/τ ≤ 100


def test_albef_temperature_is_learnt_as_tau_and_kept_in_its_range():
    scoring = Scoring(normalize=True, temperature=0.9, learnt="temperature")
    assert scoring.learnt_temperature.item() == pytest.approx(0.5)  # clamped when built
    features = scoring.features()
    assert features["learnt_temperature"] is scoring.learnt_temperature
    assert scoring.temperature_of(features) is scoring.learnt_temperature
    assert scoring.logit_scale_of(features) is None
    with torch.no_grad():
        scoring.learnt_temperature.fill_(1e-5)
    scoring.clamp_()
    assert scoring.learnt_temperature.item() == pytest.approx(0.001)
    assert scoring.scale(scoring.features()).item() == pytest.approx(1000.0)


def test_invalid_scoring():
    with pytest.raises(ValueError, match="temperature must be > 0"):
        Scoring(temperature=0.0)
    with pytest.raises(ValueError, match="needs normalised"):
        Scoring(normalize=False, learnt="logit_scale")


@pytest.mark.parametrize(("loss", "options", "message"), [
    ({"normalize": False, "temperature": 0.2}, {}, "temperature=0.2 is unused"),
    ({"learn_temperature": True}, {}, "learn_temperature is not available"),
    ({"learn_temperature": True, "normalize": False}, {"learnable": "logit_scale"},
     "learn_temperature needs loss.normalize=true"),
    ({"normalize": False}, {"cosine_only": True}, "normalize=false is not available"),
])
def test_from_config_rejects_what_it_would_ignore(loss, options, message):
    with pytest.raises(ValueError, match=message):
        Scoring.from_config(LossConfig(**loss), "m", **options)


def test_from_config_takes_defaults_and_explicit_defaults():
    assert Scoring.from_config(LossConfig(normalize=False, temperature=0.07), "m").scale({}) == 1
    assert Scoring.from_config(LossConfig(), "m", cosine_only=True).normalize


def config_for(method: str, *overrides: str) -> TrainConfig:
    views = ["--data.views=2"] if method in ("simclr", "byol") else []
    return load_config(TrainConfig, None, [f"--method={method}", *views, *overrides])


@pytest.mark.parametrize(("method", "override", "message"), [
    ("avlnet", "--model.space=fac", "model.space='fac' is not available"),
    ("milnce", "--model.space=disjoint", "model.space='disjoint' is not available"),
    ("clip", "--model.space=fac", "model.space='fac' is not available"),
    ("simclr", "--model.space=shared", "does not use model.space='shared'"),
    ("mmv", "--model.space=joint", "model.space='joint' is not available"),
    ("simclr", "--loss.normalize=false", "normalize=false is not available"),
    ("byol", "--loss.normalize=false", "does not use loss.normalize=False"),
    ("byol", "--loss.temperature=0.2", "does not use loss.temperature=0.2"),
    ("mmv", "--loss.margin=0.1", "does not use loss.margin=0.1"),
    ("mmv", "--loss.momentum=0.9", "does not use loss.momentum=0.9"),
    ("mmv", "--loss.learn_temperature=true", "learn_temperature is not available"),
    ("clip", "--loss.margin=0.1", "does not use loss.margin=0.1"),
    ("simclr", "--loss.momentum=0.9", "does not use loss.momentum=0.9"),
    ("avlnet", "--model.va_dim=64", "does not use model.va_dim=64"),
    ("mmv", "--model.va_dim=64 --model.space=shared", "does not use model.va_dim=64"),
    ("milnce", "--model.audio_width=8", "does not use model.audio_width=8"),
    ("byol", "--model.word_vectors=glove.txt", "does not use model.word_vectors='glove.txt'"),
    ("mmv", "--data.views=2", "does not use data.views=2"),
])
def test_methods_reject_fields_they_would_ignore(method, override, message):
    with pytest.raises(ValueError, match=message):
        build_method(config_for(method, *override.split()), 30)


@pytest.mark.parametrize(("method", "overrides"), [
    ("mmv", ["--model.space=disjoint", "--model.va_dim=64"]),
    ("avlnet", ["--model.space=shared", "--loss.margin=0.1", "--loss.normalize=false",
                "--data.num_candidates=1"]),
    ("milnce", ["--model.head=mlp", "--loss.normalize=false"]),
    ("clip", ["--loss.learn_temperature=true", "--loss.temperature=0.1"]),
    ("simclr", ["--loss.temperature=0.2", "--loss.normalize=true", "--model.vat_dim=16"]),
    ("byol", ["--loss.momentum=0.9", "--model.head=linear", "--loss.weights.ssl=2"]),
])
def test_methods_take_the_fields_they_use(method, overrides):
    assert isinstance(build_method(config_for(method, *overrides), 30), METHODS.get(method))


def test_empty_space_and_head_mean_the_methods_own():
    assert build_method(config_for("mmv"), 30).spaces.kind == "fac"
    for method in ("avlnet", "milnce", "clip"):
        spaces = build_method(config_for(method), 30).spaces
        assert spaces.kind == "shared"
        if method != "avlnet":
            assert all(isinstance(head, torch.nn.Linear) for head in spaces.heads.values())
    # AVLnet's own: Gated Embedding Units, the audio one gated at the encoder's width.
    heads = build_method(config_for("avlnet"), 30).spaces.heads
    assert isinstance(heads["video"], GatedEmbeddingUnit)
    assert isinstance(heads["text"], GatedEmbeddingUnit)
    assert isinstance(heads["audio"][0], GatedEmbeddingUnit)
    assert isinstance(heads["audio"][1], torch.nn.Linear)
    assert isinstance(build_method(config_for("simclr"), 30).projector, torch.nn.Sequential)
    linear = build_method(config_for("simclr", "--model.head=linear"), 30).projector
    assert isinstance(linear, torch.nn.Linear)
