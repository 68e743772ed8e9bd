"""MMV (Alayrac et al., "Self-Supervised MultiModal Versatile Networks", NeurIPS 2020)::

    L = w_va · NCE(z_v, z_a) + w_vt · MIL-NCE(z_v, {z_t}) [+ w_at · MIL-NCE(z_a, {z_t})]

in the spaces of ``model.space``: ``fac`` (the default: video and audio meet in S_va,
text meets them in S_vat; the paper's best), ``shared`` or ``disjoint`` (its ablations).
Every term scores pairs the same way (:class:`~mmssl.methods.scoring.Scoring`: cosine / τ,
or raw dot products with ``loss.normalize=false``). The bracketed audio-text term (term
``at``, weight 0 by default) trains the path MMV uses at test time for audio; it is what
lets words only the sound reveals reach text. Clips without an audio track are left out of
the audio terms. Negatives come from the whole global batch through
:func:`mmssl.distributed.gather_with_grad`; ``loss.chunk_size`` computes every term in its
memory-linear form.
"""

from __future__ import annotations

from torch import Tensor

from mmssl.config import TrainConfig
from mmssl.distributed import gather_features
from mmssl.methods.base import Method
from mmssl.methods.fields import reject_unused
from mmssl.methods.registry import METHODS
from mmssl.methods.scoring import SCORING_FIELDS, Scoring
from mmssl.methods.terms import resolve_weights, weighted_total
from mmssl.methods.towers import (
    build_spaces,
    build_towers,
    chosen_space,
    space_fields,
    tower_fields,
)
from mmssl.methods.video_text_objective import milnce_loss, nce_loss

SPACES = ("fac", "shared", "disjoint")  # the first is MMV's own


@METHODS.register("mmv")
class MMV(Method):
    """Video, audio and text towers; ``training_step(batch) -> {"loss", "loss_va", ...}``."""

    modalities = ("video", "audio", "text")
    default_weights = {"va": 1.0, "vt": 1.0, "at": 0.0}

    def __init__(self, config: TrainConfig, vocab_size: int):
        super().__init__()
        space = chosen_space(config, "mmv", SPACES)
        reject_unused(config, "mmv", tower_fields(self.modalities) | space_fields(space)
                      | SCORING_FIELDS | {"loss.weights", "loss.chunk_size"})
        self.scoring = Scoring.from_config(config.loss, "mmv")
        self.towers = build_towers(config, vocab_size, self.modalities)
        self.spaces = build_spaces(config, self.towers, ("va", "vt", "at"), space)
        self.weights = resolve_weights(self.default_weights, config.loss.weights, "mmv")
        # The embeddings arrive as scored (normalised or not); the losses apply only τ,
        # in blocks of loss.chunk_size rows when set (same values, memory linear in B).
        tau, chunk = self.scoring.temperature, config.loss.chunk_size
        self.nce = nce_loss(tau, chunk)
        self.milnce = milnce_loss(tau, chunk)

    def features(self, batch: dict) -> dict[str, Tensor]:
        """This process's embeddings, not gathered: ``video_<pair>``, ``audio_<pair>`` (B, D),
        ``text_<pair>`` (B, K, D) per space, ``audio_mask`` (B,), ``text_mask`` (B, K)."""
        out = {}
        for modality in self.modalities:
            for pair, z in self.embed(modality, batch[modality]).items():
                out[f"{modality}_{pair}"] = z
        return {**out, "audio_mask": batch["audio_mask"], "text_mask": batch["text_mask"]}

    def loss(self, features: dict[str, Tensor]) -> dict[str, Tensor]:
        """The weighted terms over the global batch (features gathered from every process)."""
        f = gather_features(features)
        has_audio, text_mask = f["audio_mask"], f["text_mask"]
        terms = {}
        if self.weights["va"]:
            terms["va"] = self.nce(f["video_va"], f["audio_va"], mask=has_audio)
        if self.weights["vt"]:
            terms["vt"] = self.milnce(f["video_vt"], f["text_vt"], text_mask)
        if self.weights["at"]:
            terms["at"] = self.milnce(f["audio_at"][has_audio], f["text_at"][has_audio],
                                      text_mask[has_audio])
        return weighted_total(terms, self.weights)
