"""Weighted loss terms: the total, the per-term names, and typo-proof weights."""

import pytest
import torch

from mmssl.methods.terms import resolve_weights, weighted_total


def test_total_and_names():
    terms = {"va": torch.tensor(2.0), "vt": torch.tensor(3.0, requires_grad=True)}
    out = weighted_total(terms, {"va": 0.5, "vt": 2.0, "at": 0.0})
    assert out["loss"].item() == pytest.approx(0.5 * 2.0 + 2.0 * 3.0)
    assert out["loss_va"].item() == 2.0 and out["loss_vt"].item() == 3.0
    out["loss"].backward()
    assert terms["vt"].grad.item() == 2.0


def test_resolve_weights_rejects_unknown_terms():
    assert resolve_weights({"va": 1.0, "at": 0.0}, {"at": 1}, "mmv") == {"va": 1.0, "at": 1.0}
    with pytest.raises(ValueError, match="unknown loss terms \\['ta'\\]"):
        resolve_weights({"va": 1.0, "at": 0.0}, {"ta": 1.0}, "mmv")
    with pytest.raises(ValueError, match="no loss term"):
        weighted_total({}, {})
