"""Embedding spaces where modalities meet: shared, disjoint, or MMV's fine-and-coarse.

A *pair* names two modalities that a loss or a retrieval compares: ``va`` (video-audio),
``vt`` (video-text), ``at`` (audio-text). ``spaces(modality, features)`` returns, for each
pair the modality takes part in, its embedding in the space where that pair meets::

    shared    one space S for everything (AVLnet, CLIP)      z_m = W_m f_m
    disjoint  one space per pair (MMV's "disjoint")           z_m^{pair} = W_m^{pair} f_m
    fac       MMV's fine-and-coarse: video and audio meet in S_va, text meets them in the
              coarser S_vat reached through g: S_va → S_vat (Alayrac et al., NeurIPS 2020)
                  z_v^va = W_v f_v, z_a^va = W_a f_a, z_v^vat = g(z_v^va),
                  z_a^vat = g(z_a^va), z_t^vat = W_t f_t
              so pairs vt and at both live in S_vat, and audio reaches text through the
              same g as video.

Shapes: features (B, in_dim) → embeddings (B, dim) (``va_dim`` for S_va, ``vat_dim`` for
every space text meets, and for the shared space).
"""

from __future__ import annotations

from torch import Tensor, nn

from mmssl.models.heads import projection_head

PAIRS = {"va": ("video", "audio"), "vt": ("video", "text"), "at": ("audio", "text")}
SPACE_KINDS = ("shared", "disjoint", "fac")


def pairs_of(modality: str, pairs) -> list[str]:
    return [pair for pair in pairs if modality in PAIRS[pair]]


class EmbeddingSpaces(nn.Module):
    """Heads for the ``pairs`` a method uses, laid out as ``kind`` (see module docstring).

    Args:
        kind: ``shared`` | ``disjoint`` | ``fac``.
        in_dims: feature size per modality, e.g. ``{"video": 128, "text": 256}``.
        pairs: the pairs that will be compared, e.g. ``("va", "vt")``.
        va_dim, vat_dim: sizes of S_va and of the spaces text meets (and the shared one).
        head: ``linear``, ``mlp``, ... (see :func:`projection_head`), or one kind per
            modality, ``{modality: kind}`` (AVLnet's gated heads: the audio one differs).
    """

    def __init__(self, kind: str, in_dims: dict[str, int], pairs, va_dim: int, vat_dim: int,
                 head: str | dict[str, str] = "linear"):
        super().__init__()
        if kind not in SPACE_KINDS:
            raise ValueError(f"unknown space kind {kind!r}; known: {SPACE_KINDS}")
        unknown = set(pairs) - set(PAIRS)
        if unknown:
            raise ValueError(f"unknown pairs {sorted(unknown)}; known: {sorted(PAIRS)}")
        self.kind, self.pairs = kind, tuple(pairs)
        self.heads = nn.ModuleDict()

        def of(modality: str) -> str:
            return head if isinstance(head, str) else head[modality]

        if kind == "shared":
            for modality in in_dims:
                self.heads[modality] = projection_head(in_dims[modality], vat_dim, of(modality))
        elif kind == "disjoint":
            for pair in self.pairs:
                dim = va_dim if pair == "va" else vat_dim
                for modality in PAIRS[pair]:
                    self.heads[f"{modality}_{pair}"] = projection_head(in_dims[modality], dim,
                                                                       of(modality))
        else:
            for modality in ("video", "audio"):
                if modality in in_dims:
                    self.heads[f"{modality}_va"] = projection_head(in_dims[modality], va_dim,
                                                                   of(modality))
            self.heads["va_to_vat"] = projection_head(va_dim, vat_dim, of("video"))
            if "text" in in_dims:
                self.heads["text_vat"] = projection_head(in_dims["text"], vat_dim, of("text"))

    def forward(self, modality: str, features: Tensor) -> dict[str, Tensor]:
        wanted = pairs_of(modality, self.pairs)
        if self.kind == "shared":
            shared = self.heads[modality](features)
            return {pair: shared for pair in wanted}
        if self.kind == "disjoint":
            return {pair: self.heads[f"{modality}_{pair}"](features) for pair in wanted}
        if modality == "text":
            coarse = self.heads["text_vat"](features)
            return {pair: coarse for pair in wanted}
        fine = self.heads[f"{modality}_va"](features)
        coarse = self.heads["va_to_vat"](fine)
        return {pair: fine if pair == "va" else coarse for pair in wanted}
