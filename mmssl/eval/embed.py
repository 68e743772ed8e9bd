"""``mmssl embed``: export embeddings of videos, audio or sentences with their keys.

Segments of prepared shards get the W-window average of :mod:`mmssl.eval.features`
(key ``<video_id>@<start>``); sentences (one per line of a text file) are embedded as they
are (key = the sentence). Arrays are named ``<modality>.<space>`` — ``video.vt``,
``audio.at``, ``text.vt``, ... — or ``<modality>.features`` for backbone features (level
``backbone``: every modality's encoder output, text included). Raw videos
(``--videos``) are embedded by :mod:`mmssl.api.collection`.

Output by suffix:

- ``X.safetensors``: one file, the arrays plus metadata ``keys`` (JSON list, row order)
  and ``source``;
- anything else: a directory with ``<modality>.<space>.npy`` per array and ``keys.json``.

Every array has one row per key, float32.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file

from mmssl.checkpoint import load_checkpoint
from mmssl.config import EvalConfig
from mmssl.eval.features import FeatureExtractor, subset_filter


def embed_shards(checkpoint: str | Path, shards: str, modalities=None,
                 windows: int = EvalConfig.windows, subset: str | None = None,
                 level: str = "embedding", progress: bool = False,
                 batch_size: int = EvalConfig.batch_size
                 ) -> tuple[list[str], dict[str, torch.Tensor]]:
    """(keys, {"<modality>.<space>": (N, D)}) for every segment of ``shards``, encoded
    ``batch_size`` clips at a time; text is each segment's first sentence."""
    method, config, tokenizer = load_checkpoint(checkpoint)
    extractor = FeatureExtractor(method, config.data, tokenizer, windows, (level,),
                                 batch_size)
    features = extractor.extract(shards, modalities, keep=subset_filter(subset),
                                 progress=progress)
    if features.text and level == "backbone":  # the extractor's text is embedded only
        features.text = encode_sentences(extractor, [(m.get("texts") or [{"text": ""}])[0]
                                                     ["text"] for m in features.metas])
    arrays = {f"{modality}.{space}": value
              for modality in ("video", "audio", "text")
              for space, value in getattr(features, modality).items()}
    return features.keys, arrays


def embed_sentences(checkpoint: str | Path, sentences: list[str],
                    batch_size: int = EvalConfig.batch_size, level: str = "embedding"
                    ) -> tuple[list[str], dict[str, torch.Tensor]]:
    """(sentences, {"text.<space>": (S, D)}) through the run's tokenizer and text tower,
    ``batch_size`` sentences at a time (``text.features`` at level backbone)."""
    if not sentences:
        raise ValueError("no sentence to embed")
    method, config, tokenizer = load_checkpoint(checkpoint)
    if "text" not in method.modalities:
        raise ValueError(f"{config.method} has no text tower")
    extractor = FeatureExtractor(method, config.data, tokenizer, levels=(level,),
                                 batch_size=batch_size)
    return list(sentences), {f"text.{space}": value
                             for space, value in encode_sentences(extractor, sentences).items()}


def encode_sentences(extractor: FeatureExtractor, sentences: list[str]) -> dict[str, torch.Tensor]:
    """{space or "features": (S, D)}: sentences tokenised as in training, encoded at the
    extractor's levels ``extractor.batch_size`` at a time."""
    ids = extractor.tokenizer(list(sentences), extractor.max_words)
    parts = [extractor.encode("text", chunk) for chunk in ids.split(extractor.batch_size)]
    return {name: torch.cat([part[name] for part in parts]) for name in parts[0]}


def read_sentences(path: str | Path) -> list[str]:
    """Non-empty lines of a UTF-8 text file."""
    lines = [line.strip() for line in Path(path).read_text(encoding="utf-8").splitlines()]
    sentences = [line for line in lines if line]
    if not sentences:
        raise ValueError(f"{path}: no sentence (one per line expected)")
    return sentences


def write_embeddings(out: str | Path, keys: list[str], arrays: dict[str, torch.Tensor],
                     source: str) -> Path:
    """Write ``arrays`` and ``keys`` as described in the module docstring."""
    out = Path(out)
    for name, value in arrays.items():
        if len(value) != len(keys):
            raise ValueError(f"{name} has {len(value)} rows for {len(keys)} keys")
    plain = {name: value.detach().float().cpu().contiguous() for name, value in arrays.items()}
    if out.suffix == ".safetensors":
        out.parent.mkdir(parents=True, exist_ok=True)
        save_file(plain, str(out), metadata={"keys": json.dumps(keys), "source": source})
        return out
    out.mkdir(parents=True, exist_ok=True)
    for name, value in plain.items():
        np.save(out / f"{name}.npy", value.numpy())
    (out / "keys.json").write_text(json.dumps({"keys": keys, "source": source}, indent=1))
    return out
