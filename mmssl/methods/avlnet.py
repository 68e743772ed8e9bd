"""AVLnet (Rouditchenko et al., "AVLnet: Learning Audio-Visual Language Representations
from Instructional Videos", Interspeech 2021): audio, video and text in one shared space,
each reached through a Gated Embedding Unit (``model.head`` empty: AVLnet's heads, see
:data:`AVLNET_HEADS`), trained with the Masked Margin Softmax loss. The pretraining
objective of AVLnet-Text-Tri (its ``train.py``) is the sum over the three pairs::

    L = w_va · MMS(z_a, z_v) + w_at · MMS(z_a, z_t) + w_vt · MMS(z_t, z_v)

(MMS sums both retrieval directions, so the order inside a pair does not matter). AVLnet
fine-tunes on a downstream dataset with the fused term instead
(``--fuse_videoaudio_additive``), the one its text→video+audio retrieval scores::

    w_vat · MMS(z_t, z_v + z_a)

weight 0 by default; ``loss.weights: {va: 0, at: 0, vt: 0, vat: 1}`` is AVLnet's
fine-tuning. The clip's anchor narration is its text. The reference scores raw dot
products (``loss.normalize=false``); by default we score cosine / τ
(:class:`~mmssl.methods.scoring.Scoring`; the MMS loss has no temperature of its own, so
the text side — and the audio side in the video-audio term — is multiplied by 1/τ). Clips
without audio are left out of the audio terms and contribute their video alone to the
fused one.
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

# AVLnet's heads (model.py): GU_video and GU_text_captions are Gated Embedding Units; the
# audio is gated at the encoder's width (GU_audio) and then projected (DAVEnet_projection).
AVLNET_HEADS = {"video": "gated", "audio": "gated_linear", "text": "gated"}


@METHODS.register("avlnet")
class AVLnet(Method):
    modalities = ("video", "audio", "text")
    default_weights = {"va": 1.0, "at": 1.0, "vt": 1.0, "vat": 0.0}

    def __init__(self, config: TrainConfig, vocab_size: int):
        super().__init__()
        space = chosen_space(config, "avlnet", ("shared",))
        reject_unused(config, "avlnet", tower_fields(self.modalities) | space_fields(space)
                      | SCORING_FIELDS | {"loss.weights", "loss.margin"})
        self.scoring = Scoring.from_config(config.loss, "avlnet")
        self.towers = build_towers(config, vocab_size, self.modalities)
        self.spaces = build_spaces(config, self.towers, ("va", "vt", "at"), space,
                                   AVLNET_HEADS)
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
        scale = self.scoring.scale(f)  # s(x, y) = x·y/τ through MMS's plain dot products
        t = f["text"] * scale
        terms = {}
        if self.weights["va"]:
            terms["va"] = self.mms(a * scale, v, mask=has_audio)
        if self.weights["at"]:
            terms["at"] = self.mms(a, t, mask=has_audio)
        if self.weights["vt"]:
            terms["vt"] = self.mms(v, t)
        if self.weights["vat"]:
            # A clip without audio contributes its video alone (its audio row is masked).
            terms["vat"] = self.mms(v + a * has_audio[:, None], t)
        return weighted_total(terms, self.weights)
