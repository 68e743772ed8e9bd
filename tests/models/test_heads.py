"""Projection heads against their formulas: AVLnet's Gated Embedding Unit and its audio
head, and the identity head CLIP's towers use."""

import pytest
import torch

from mmssl.models.heads import GatedEmbeddingUnit, projection_head


def test_gated_embedding_unit():
    torch.manual_seed(0)
    unit = GatedEmbeddingUnit(6, 4)
    x = torch.randn(3, 6)
    y = x @ unit.fc.weight.T + unit.fc.bias
    expected = y * torch.sigmoid(y @ unit.cg.fc.weight.T + unit.cg.fc.bias)
    torch.testing.assert_close(unit(x), expected)
    assert sorted(unit.state_dict()) == ["cg.fc.bias", "cg.fc.weight", "fc.bias", "fc.weight"]


def test_audio_head_gates_then_projects_and_identity_keeps_sizes():
    head = projection_head(6, 4, "gated_linear")
    assert isinstance(head[0], GatedEmbeddingUnit) and head[0].fc.weight.shape == (6, 6)
    assert head[1].weight.shape == (4, 6)
    x = torch.randn(2, 5)
    assert projection_head(5, 5, "identity")(x) is x
    with pytest.raises(ValueError, match="equal sizes"):
        projection_head(5, 4, "identity")
