"""MIL-NCE's released HowTo100M model (``s3d_howto100m.pth`` + ``s3d_dict.npy``, from
github.com/antoine77340/S3D_HowTo100M) → an mmssl ``milnce`` checkpoint.

Where each released weight goes:

=============================  =======================================================
released                       mmssl
=============================  =======================================================
``conv1.*`` … ``mixed_5c.*``   ``towers.video.*`` (:mod:`mmssl.models.s3dg`, same names)
``fc.*``                       ``spaces.heads.video.*`` (1024 → 512)
``text_module.word_embd.*``    ``towers.text.word_embd.*`` (:mod:`mmssl.models.milnce_text`)
``text_module.fc1.*``          ``towers.text.fc1.*`` (300 → 2048)
``text_module.fc2.*``          ``spaces.heads.text.*`` (2048 → 512)
=============================  =======================================================

The word list becomes the checkpoint's tokenizer (:mod:`mmssl.convert.vocabulary`). The
config records what the released model expects and how MIL-NCE evaluates it: frames in
[0, 1] (``model.video_mean`` 0, ``video_std`` 1), raw dot products
(``loss.normalize: false``), 32 frames (at 10 fps, so prepare the shards with ``--fps 10``)
of 224×224, 30 words per sentence (``max_words`` of its YouCook2 loader), and
``eval_protocol: milnce``. The stem (space-to-depth or plain) is read from ``conv1``'s
shape, so MIL-NCE's own PyTorch training checkpoints convert too.
"""

from __future__ import annotations

from pathlib import Path

from mmssl.checkpoint import save_checkpoint
from mmssl.config import DataConfig, LossConfig, ModelConfig, TrainConfig
from mmssl.convert.released import StateMapping, read_released, shape_of
from mmssl.convert.vocabulary import dictionary_tokenizer, read_word_list
from mmssl.methods import build_method

# MIL-NCE's evaluation input: 32 frames (at 10 fps: 3.2 s), 224×224 centre crops, and its
# YouCook2 loader's 30 words per sentence.
CLIP_FRAMES, CROP, MAX_WORDS = 32, (224, 224), 30
CANDIDATES = 4  # K of MIL-NCE's released training command, for fine-tuning from here


def milnce_config(space_to_depth: bool, word_dim: int, text_width: int, dim: int,
                  out: str = "") -> TrainConfig:
    """The config of a converted MIL-NCE model (see the module docstring)."""
    return TrainConfig(
        method="milnce", output_dir=out, eval_protocol="milnce",
        data=DataConfig(clip_frames=CLIP_FRAMES, crop_size=CROP, max_words=MAX_WORDS,
                        num_candidates=CANDIDATES),
        model=ModelConfig(video_encoder="s3dg" if space_to_depth else "s3dg_conv7",
                          text_encoder="milnce_text", word_dim=word_dim,
                          text_width=text_width, vat_dim=dim, video_mean=(0.0, 0.0, 0.0),
                          video_std=(1.0, 1.0, 1.0)),
        loss=LossConfig(normalize=False))


def convert_milnce(weights: str | Path, dictionary: str | Path, out: str | Path) -> Path:
    """Write the mmssl checkpoint directory ``out`` of the released ``weights`` and word
    list ``dictionary``; returns ``out``."""
    released = read_released(weights, "MIL-NCE weights file")
    stem_channels = shape_of(released, "conv1.conv1.weight", weights)[1]
    if stem_channels not in (3, 24):
        raise ValueError(f"{weights}: conv1.conv1.weight takes {stem_channels} channels; "
                         "S3D-G's stem takes 3 (plain) or 24 (space-to-depth)")
    rows, word_dim = shape_of(released, "text_module.word_embd.weight", weights)
    text_width = shape_of(released, "text_module.fc1.weight", weights)[0]
    dim = shape_of(released, "fc.weight", weights)[0]
    tokenizer = dictionary_tokenizer(read_word_list(dictionary), rows)
    config = milnce_config(stem_channels == 24, word_dim, text_width, dim, str(out))
    method = build_method(config, tokenizer.vocab_size)
    mapping = StateMapping(released, weights)
    mapping.move("text_module.word_embd.", "towers.text.word_embd.")
    mapping.move("text_module.fc1.", "towers.text.fc1.")
    mapping.move("text_module.fc2.", "spaces.heads.text.")
    mapping.move("fc.", "spaces.heads.video.")
    mapping.move("", "towers.video.")  # what is left is the video network, names unchanged
    mapping.load_into(method)
    return save_checkpoint(out, method.eval(), config, tokenizer)
