"""AVLnet (Rouditchenko et al., "AVLnet: Learning Audio-Visual Language Representations
from Instructional Videos", Interspeech 2021): audio, video and text in one shared space,
trained with the Masked Margin Softmax loss on three pairs::

    L = w_vt · MMS(z_v, z_t) + w_at · MMS(z_a, z_t) + w_vat · MMS(z_v + z_a, z_t)

with the clip's anchor narration as its text. AVLnet scores raw dot products; with
``loss.normalize`` we score cosine / τ instead (the MMS loss has no temperature of its
own). Clips without audio are left out of the audio terms.
"""

from __future__ import annotations

from torch import Tensor

from mmssl.config import TrainConfig
from mmssl.distributed import gather_features
from mmssl.losses import MaskedMarginSoftmaxLoss
from mmssl.methods.base import SpaceMethod
from mmssl.methods.registry import METHODS
from mmssl.methods.terms import resolve_weights, weighted_total
from mmssl.methods.towers import build_spaces, build_towers


@METHODS.register("avlnet")
class AVLnet(SpaceMethod):
    modalities = ("video", "audio", "text")
    default_weights = {"vt": 1.0, "at": 1.0, "vat": 1.0}

    def __init__(self, config: TrainConfig, vocab_size: int):
        super().__init__()
        self.towers = build_towers(config, vocab_size, self.modalities)
        self.spaces = build_spaces(config, self.towers, ("va", "vt", "at"), kind="shared")
        self.weights = resolve_weights(self.default_weights, config.loss.weights, "avlnet")
        self.normalize = config.loss.normalize
        self.scale = 1.0 / config.loss.temperature if self.normalize else 1.0
        self.mms = MaskedMarginSoftmaxLoss(margin=config.loss.margin)

    def features(self, batch: dict) -> dict[str, Tensor]:
        """This process's ``video``, ``audio`` (B, D) and anchor ``text`` (B, D) embeddings
        in the shared space (text already scaled by 1/τ), and ``audio_mask`` (B,)."""
        return {"video": self.embed("video", batch["video"])["vt"],
                "audio": self.embed("audio", batch["audio"])["at"],
                "text": self.embed("text", batch["text"][:, 0])["vt"] * self.scale,
                "audio_mask": batch["audio_mask"]}

    def loss(self, features: dict[str, Tensor]) -> dict[str, Tensor]:
        f = gather_features(features)
        v, a, t, has_audio = f["video"], f["audio"], f["text"], f["audio_mask"]
        terms = {}
        if self.weights["vt"]:
            terms["vt"] = self.mms(v, t)
        if self.weights["at"]:
            terms["at"] = self.mms(a, t, mask=has_audio)
        if self.weights["vat"]:
            # A clip without audio contributes its video alone (its audio row is masked).
            terms["vat"] = self.mms(v + a * has_audio[:, None], t)
        return weighted_total(terms, self.weights)
