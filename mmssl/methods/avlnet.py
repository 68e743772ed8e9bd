"""AVLnet (Rouditchenko et al., "AVLnet: Learning Audio-Visual Language Representations
from Instructional Videos", Interspeech 2021): audio, video and text in one shared space,
trained with the Masked Margin Softmax loss on three pairs::

    L = w_vt · MMS(z_v, z_t) + w_at · MMS(z_a, z_t) + w_vat · MMS(z_v + z_a, z_t)

with the clip's anchor narration as its text. The reference scores raw dot products
(``loss.normalize=false``); by default we score cosine / τ
(:class:`~mmssl.methods.scoring.Scoring`; the MMS loss has no temperature of its own, so
the text side is multiplied by 1/τ). Clips without audio are left out of the audio terms.
"""

from __future__ import annotations

from torch import Tensor

from mmssl.config import TrainConfig
from mmssl.distributed import gather_features
from mmssl.losses import MaskedMarginSoftmaxLoss
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


@METHODS.register("avlnet")
class AVLnet(Method):
    modalities = ("video", "audio", "text")
    default_weights = {"vt": 1.0, "at": 1.0, "vat": 1.0}

    def __init__(self, config: TrainConfig, vocab_size: int):
        super().__init__()
        space = chosen_space(config, "avlnet", ("shared",))
        reject_unused(config, "avlnet", tower_fields(self.modalities) | space_fields(space)
                      | SCORING_FIELDS | {"loss.weights", "loss.margin"})
        self.scoring = Scoring.from_config(config.loss, "avlnet")
        self.towers = build_towers(config, vocab_size, self.modalities)
        self.spaces = build_spaces(config, self.towers, ("va", "vt", "at"), space)
        self.weights = resolve_weights(self.default_weights, config.loss.weights, "avlnet")
        self.mms = MaskedMarginSoftmaxLoss(margin=config.loss.margin)

    def features(self, batch: dict) -> dict[str, Tensor]:
        """This process's ``video``, ``audio`` (B, D) and anchor ``text`` (B, D) embeddings
        in the shared space, and ``audio_mask`` (B,)."""
        return {"video": self.embed("video", batch["video"])["vt"],
                "audio": self.embed("audio", batch["audio"])["at"],
                "text": self.embed("text", batch["text"][:, 0])["vt"],
                "audio_mask": batch["audio_mask"]}

    def loss(self, features: dict[str, Tensor]) -> dict[str, Tensor]:
        f = gather_features(features)
        v, a, has_audio = f["video"], f["audio"], f["audio_mask"]
        t = f["text"] * self.scoring.scale(f)  # s(x, t) = x·t/τ through MMS's plain dots
        terms = {}
        if self.weights["vt"]:
            terms["vt"] = self.mms(v, t)
        if self.weights["at"]:
            terms["at"] = self.mms(a, t, mask=has_audio)
        if self.weights["vat"]:
            # A clip without audio contributes its video alone (its audio row is masked).
            terms["vat"] = self.mms(v + a * has_audio[:, None], t)
        return weighted_total(terms, self.weights)
