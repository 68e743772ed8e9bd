"""Embeddings of N items of one modality, and how two sets of them are compared.

A method embeds each modality into every space where it meets another
(``mmssl/models/spaces.py``): ``vt`` (video-text), ``at`` (audio-text), ``va``
(video-audio). Two sets are comparable in a space both have; the score is the one the
method was trained with, a dot product of embeddings as :class:`~mmssl.methods.scoring.
Scoring` returns them (cosine similarity when they are L2-normalised, the default)::

    text↔video         S = z_t^vt · z_v^vt                      (Q, N)
    text↔audio         S = z_t^at · z_a^at
    text↔video+audio   S = z_t^vt · z_v^vt + z_t^at · z_a^at    (the retrieval's sum)
    video↔audio        S = z_v^va · z_a^va
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor

from mmssl.models.spaces import PAIRS

MODALITIES = ("video", "audio", "text")


@dataclass
class Embeddings:
    """``vectors[space]`` is (N, D) for each space of the modality (``"features"``, the
    encoder output, at level backbone); ``keys[i]`` names row i (the sentence, or
    ``<video_id>@<start>-<end>``); ``has_audio`` (N,) is false for a span whose file had
    no sound (its audio rows are zeros)."""

    modality: str
    keys: list[str]
    vectors: dict[str, Tensor]
    has_audio: Tensor | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.keys)

    def __getitem__(self, space: str) -> Tensor:
        if space not in self.vectors:
            raise KeyError(f"{self.modality} embeddings have spaces {sorted(self.vectors)}, "
                           f"not {space!r}")
        return self.vectors[space]

    @property
    def spaces(self) -> tuple[str, ...]:
        return tuple(self.vectors)


def pair_name(first: str, second: str) -> str | None:
    """The space name where two different modalities meet (``vt``, ``at``, ``va``)."""
    return next((pair for pair, members in PAIRS.items()
                 if set(members) == {first, second}), None)


def shared_space(a: Embeddings, b: Embeddings, space: str | None = None) -> str:
    """The space ``a`` and ``b`` are compared in: ``space`` when given, else the pair of
    their two modalities, else (same modality) the one space they share."""
    common = [name for name in a.vectors if name in b.vectors]
    if space is None:
        pair = pair_name(a.modality, b.modality) if a.modality != b.modality else None
        candidates = [pair] if pair in common else common if a.modality == b.modality else []
        if len(candidates) != 1:
            raise ValueError(f"{a.modality} {list(a.vectors)} and {b.modality} "
                             f"{list(b.vectors)}: no single space to compare them in; "
                             f"pass space= (shared: {common})")
        space = candidates[0]
    if space not in common:
        raise ValueError(f"space {space!r} is not shared by {a.modality} {list(a.vectors)} "
                         f"and {b.modality} {list(b.vectors)}")
    return space


def similarity(a: Embeddings, b: Embeddings | Sequence[Embeddings],
               space: str | None = None) -> Tensor:
    """(len(a), len(b)) scores: ``a[s] @ b[s].T`` in their :func:`shared_space` ``s``;
    ``b`` a pair ``(video, audio)`` of the same spans scores against video+audio, the sum of
    both scores, audio counting zero for spans without sound (as retrieval scores them)."""
    parts = [b] if isinstance(b, Embeddings) else list(b)
    if not parts or len({len(part) for part in parts}) != 1:
        raise ValueError("compare against one set of embeddings, or a (video, audio) pair "
                         "of the same spans")
    total = torch.zeros(len(a), len(parts[0]))
    for part in parts:
        name = shared_space(a, part, space if len(parts) == 1 else None)
        other = part[name].to(a[name].device)
        if len(parts) > 1 and part.modality == "audio" and part.has_audio is not None:
            other = other * part.has_audio.to(other)[:, None]
        total = total.to(a[name].device) + a[name] @ other.T
    return total


def comparable(spaces: dict[str, tuple[str, ...]]) -> list[str]:
    """What a method's spaces let one compare, e.g. ``["text↔video (vt)", ...,
    "text↔video+audio (vt+at)"]``."""
    out = []
    for name, members in spaces.items():
        first, second = (members * 2)[:2]
        out.append(f"{first}↔{second} ({name})")
    if "vt" in spaces and "at" in spaces:
        out.append("text↔video+audio (vt+at)")
    return out
