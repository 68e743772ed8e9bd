"""Shared, disjoint and fine-and-coarse embedding spaces."""

import pytest
import torch

from mmssl.models.spaces import EmbeddingSpaces

DIMS = {"video": 12, "audio": 10, "text": 8}
PAIRS = ("va", "vt", "at")


def features(batch=5):
    g = torch.Generator().manual_seed(0)
    return {m: torch.randn(batch, d, generator=g) for m, d in DIMS.items()}


@pytest.mark.parametrize("kind", ["shared", "disjoint", "fac"])
def test_each_modality_gets_one_embedding_per_pair(kind):
    spaces = EmbeddingSpaces(kind, DIMS, PAIRS, va_dim=6, vat_dim=4)
    f = features()
    out = {m: spaces(m, f[m]) for m in DIMS}
    assert set(out["video"]) == {"va", "vt"} and set(out["audio"]) == {"va", "at"}
    assert set(out["text"]) == {"vt", "at"}
    assert out["text"]["vt"].shape == (5, 4)
    assert out["video"]["va"].shape == (5, 6 if kind != "shared" else 4)


def test_fac_reaches_text_through_the_same_g():
    spaces = EmbeddingSpaces("fac", DIMS, PAIRS, va_dim=6, vat_dim=4)
    f = features()
    video, audio = spaces("video", f["video"]), spaces("audio", f["audio"])
    g = spaces.heads["va_to_vat"]
    torch.testing.assert_close(video["vt"], g(video["va"]))
    torch.testing.assert_close(audio["at"], g(audio["va"]))
    assert torch.equal(spaces("text", f["text"])["vt"], spaces("text", f["text"])["at"])


def test_shared_is_one_space_and_disjoint_is_not():
    f = features()
    shared = EmbeddingSpaces("shared", DIMS, PAIRS, va_dim=6, vat_dim=4)
    video = shared("video", f["video"])
    assert video["va"] is video["vt"]
    disjoint = EmbeddingSpaces("disjoint", DIMS, PAIRS, va_dim=4, vat_dim=4)
    text = disjoint("text", f["text"])
    assert not torch.allclose(text["vt"], text["at"])  # separate heads per pair


def test_mlp_heads_and_errors():
    spaces = EmbeddingSpaces("fac", DIMS, PAIRS, va_dim=6, vat_dim=4, head="mlp")
    assert spaces("video", features()["video"])["vt"].shape == (5, 4)
    with pytest.raises(ValueError, match="unknown space kind"):
        EmbeddingSpaces("joint", DIMS, PAIRS, 6, 4)
    with pytest.raises(ValueError, match="unknown pairs"):
        EmbeddingSpaces("fac", DIMS, ("vx",), 6, 4)
