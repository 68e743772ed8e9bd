"""AVLnet-Text-Tri's released weights (``AVLnet_Text_Tri_release.pth``, from
github.com/roudimit/AVLnet) → an mmssl ``avlnet`` checkpoint.

Where each released weight goes:

=============================  =======================================================
released                       mmssl
=============================  =======================================================
``DAVEnet.*``                  ``towers.audio.*`` (:mod:`mmssl.models.resdavenet`)
``GU_audio.*``                 ``spaces.heads.audio.0.*`` (gated at 1024)
``DAVEnet_projection.*``       ``spaces.heads.audio.1.*`` (1024 → D)
``GU_video.*``                 ``spaces.heads.video.*`` (video features → D)
``text_pooling_caption.fc.*``  ``towers.text.fc1.*`` (300 → D, :mod:`mmssl.models.milnce_text`)
``GU_text_captions.*``         ``spaces.heads.text.*`` (D → D)
=============================  =======================================================

What the checkpoint does not hold, the converter asks for:

- **word vectors** (``--word-vectors``): AVLnet embeds each word found in GoogleNews'
  word2vec (case kept, unknown words dropped, zero vectors as padding, up to 20 words)
  before its max-pool; give a word2vec/GloVe *text* file — the words it lists become the
  tokenizer's vocabulary, their vectors the frozen embedding (row 0, the padding, zeros);
- **the video tower** (``--video-encoder``): AVLnet's video input is a 4096-d feature
  computed offline (ResNet-152 at 1 fps ⊕ 3D ResNeXt-101 at 24 fps, each max-pooled over
  the clip and L2-normalised), which mmssl does not compute; the named encoder's
  ``out_dim`` must be ``GU_video``'s input size, and it starts untrained.

AVLnet (audio-video only, no text branch) and AVLnet-Text-Fused (audio and text fused
before the space) are other architectures and are refused with that reason.
"""

from __future__ import annotations

from pathlib import Path

import torch

from mmssl.checkpoint import save_checkpoint
from mmssl.config import DataConfig, LossConfig, ModelConfig, TrainConfig
from mmssl.convert.released import StateMapping, read_released, shape_of
from mmssl.convert.vocabulary import dictionary_tokenizer, read_vectors_file
from mmssl.methods import build_method

MAX_WORDS = 20  # AVLnet's --max_words, what its YouCook2 loader is given


def avlnet_config(video_encoder: str, word_dim: int, dim: int, out: str = "") -> TrainConfig:
    """The config of a converted AVLnet-Text-Tri (see the module docstring)."""
    return TrainConfig(
        method="avlnet", output_dir=out,
        data=DataConfig(max_words=MAX_WORDS, num_candidates=1),
        model=ModelConfig(video_encoder=video_encoder, audio_encoder="resdavenet",
                          text_encoder="milnce_text", word_dim=word_dim, text_width=dim,
                          vat_dim=dim),
        loss=LossConfig(normalize=False))


def check_tri_modal(released: dict, weights: str | Path) -> None:
    """Refuse the releases that are not AVLnet-Text-Tri, naming the reason."""
    if "GU_audio_text.fc_audio.weight" in released:
        raise ValueError(f"{weights}: AVLnet-Text-Fused fuses audio and text before the "
                         "joint space; mmssl's avlnet keeps three towers (convert "
                         "AVLnet_Text_Tri_release.pth)")
    if "GU_text_captions.fc.weight" not in released:
        raise ValueError(f"{weights}: no text branch (AVLnet audio-video only); mmssl's "
                         "avlnet needs one (convert AVLnet_Text_Tri_release.pth)")


def convert_avlnet(weights: str | Path, video_encoder: str, out: str | Path,
                   word_vectors: str | Path | None = None) -> Path:
    """Write the mmssl checkpoint directory ``out`` of the released ``weights``, with the
    vocabulary and vectors of ``word_vectors`` and an untrained ``video_encoder``."""
    released = read_released(weights, "AVLnet weights file")
    check_tri_modal(released, weights)
    if not word_vectors:
        raise ValueError(f"{weights}: AVLnet-Text embeds words with word2vec vectors the "
                         "checkpoint does not hold; pass --word-vectors (a word2vec/GloVe "
                         "text file)")
    dim, word_dim = shape_of(released, "text_pooling_caption.fc.weight", weights)
    words, vectors = read_vectors_file(word_vectors)
    if vectors.shape[1] != word_dim:
        raise ValueError(f"{word_vectors}: {vectors.shape[1]}-d vectors, AVLnet's text "
                         f"branch takes {word_dim}")
    tokenizer = dictionary_tokenizer(words)
    config = avlnet_config(video_encoder, word_dim, dim, str(out))
    method = build_method(config, tokenizer.vocab_size)
    video_dim = shape_of(released, "GU_video.fc.weight", weights)[1]
    if method.towers["video"].out_dim != video_dim:
        raise ValueError(f"{weights}: GU_video takes {video_dim}-d video features; video "
                         f"encoder {video_encoder!r} gives {method.towers['video'].out_dim}")
    mapping = StateMapping(released, weights)
    mapping.move("DAVEnet.", "towers.audio.")
    mapping.move("GU_audio.", "spaces.heads.audio.0.")
    mapping.move("DAVEnet_projection.", "spaces.heads.audio.1.")
    mapping.move("GU_video.", "spaces.heads.video.")
    mapping.move("text_pooling_caption.fc.", "towers.text.fc1.")
    mapping.move("GU_text_captions.", "spaces.heads.text.")
    mapping.mapped["towers.text.word_embd.weight"] = torch.cat(
        [torch.zeros(1, word_dim), vectors])  # row 0: AVLnet pads with zero vectors
    for key, value in method.towers["video"].state_dict().items():
        mapping.mapped[f"towers.video.{key}"] = value  # not AVLnet's: see module docstring
    mapping.load_into(method)
    return save_checkpoint(out, method.eval(), config, tokenizer)
