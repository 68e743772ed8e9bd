"""A local HuggingFace CLIP directory → an mmssl ``clip`` checkpoint scoring video as
CLIP4Clip's parameter-free meanP (Luo et al., 2021; :mod:`mmssl.models.clip_towers`).

Nothing is renamed: the towers load CLIP's own weights from the directory (the config's
``model.hf_video_dir`` and ``model.hf_text_dir``; the checkpoint keeps each half's
architecture and every weight, so it loads after the directory has gone), their
projections end in the shared space (identity heads), and CLIP's ``logit_scale`` becomes
the method's learnable one. The config carries what CLIP expects:
its processor's pixel mean and deviation (``model.video_mean/video_std``), its resolution
(``data.crop_size``), its text length (``data.max_words``), cosine scoring, and
CLIP4Clip's 12 frames per clip (at the 1 fps CLIP4Clip samples, prepare shards with
``--fps 1`` for the same span).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch
from safetensors import safe_open

from mmssl.checkpoint import save_checkpoint
from mmssl.config import DataConfig, LossConfig, ModelConfig, TrainConfig
from mmssl.data.tokenizer import SubwordTokenizer
from mmssl.methods import build_method
from mmssl.models.hf_text import check_hf_directory

# OpenAI CLIP's pixel statistics, used when the directory has no preprocessor_config.json.
OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)
FRAMES = 12  # CLIP4Clip's max_frames


def pixel_settings(directory: Path, image_size: int) -> tuple[tuple, tuple, tuple]:
    """(mean, std, (height, width)) of the directory's image processor: its
    ``image_mean``/``image_std`` and crop size, or OpenAI's statistics and the vision
    tower's ``image_size``."""
    path = directory / "preprocessor_config.json"
    processor = json.loads(path.read_text()) if path.is_file() else {}
    crop = processor.get("crop_size", image_size)
    size = (crop["height"], crop["width"]) if isinstance(crop, dict) else (crop, crop)
    if size != (image_size, image_size):
        raise ValueError(f"{path}: crop size {size} is not the vision tower's image size "
                         f"{image_size}")
    mean = tuple(float(x) for x in processor.get("image_mean", OPENAI_MEAN))
    std = tuple(float(x) for x in processor.get("image_std", OPENAI_STD))
    return mean, std, size


def logit_scale(directory: Path, settings: dict) -> float:
    """CLIP's trained log-scale (``logit_scale`` in ``model.safetensors``), else the
    config's initial one."""
    weights = directory / "model.safetensors"
    if weights.is_file():
        with safe_open(str(weights), "pt") as tensors:
            if "logit_scale" in tensors.keys():
                return float(tensors.get_tensor("logit_scale"))
    return float(settings.get("logit_scale_init_value", math.log(1 / 0.07)))


def clip_config(directory: Path, out: str = "") -> tuple[TrainConfig, float]:
    """The config of a CLIP directory used as CLIP4Clip's meanP (see module docstring),
    and CLIP's log-scale."""
    settings = json.loads((directory / "config.json").read_text())
    vision, text = settings["vision_config"], settings["text_config"]
    mean, std, size = pixel_settings(directory, int(vision.get("image_size", 224)))
    scale = logit_scale(directory, settings)
    config = TrainConfig(
        method="clip", output_dir=out,
        data=DataConfig(clip_frames=FRAMES, crop_size=size,
                        max_words=int(text.get("max_position_embeddings", 77)),
                        num_candidates=1),
        model=ModelConfig(video_encoder="clip_video", text_encoder="clip_text",
                          hf_video_dir=str(directory), hf_text_dir=str(directory),
                          vat_dim=int(settings.get("projection_dim", 512)), head="identity",
                          video_mean=mean, video_std=std),
        loss=LossConfig(learn_temperature=True, temperature=math.exp(-scale)))
    return config, scale


def convert_clip(hf_dir: str | Path, out: str | Path) -> Path:
    """Write the mmssl checkpoint directory ``out`` for the CLIP at ``hf_dir``."""
    directory = check_hf_directory(Path(hf_dir).resolve())
    config, scale = clip_config(directory, str(out))
    tokenizer = SubwordTokenizer.from_directory(directory)
    method = build_method(config, tokenizer.vocab_size)
    with torch.no_grad():  # exactly CLIP's, not exp(-log) of it
        method.scoring.logit_scale.fill_(scale)
    return save_checkpoint(out, method.eval(), config, tokenizer)
