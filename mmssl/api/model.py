"""A checkpoint as a model that embeds sentences, videos and sounds.

    import mmssl

    model = mmssl.load("runs/demo/checkpoint")
    text = model.embed_text(["whisk the eggs", "fry the onion"])
    video = model.embed_video("clip.mp4", start=12.0, end=16.0)
    model.similarity(text, video)            # (2, 1) scores in the video-text space

Everything a checkpoint needs to turn raw media into model inputs comes from the
checkpoint (``mmssl/checkpoint.py``): the prep settings its training shards were made
with (``prep.yaml``: frame rate, short side, H.264 settings), clip length, crop size,
video normalisation, log-mel settings and tokenizer. A span of a raw file is prepared in
memory as ``mmssl prep`` prepares a shard sample (:mod:`mmssl.api.raw_media`), then
embedded as evaluation embeds a segment: ``windows`` clips of the model's clip length
starting at ``linspace(0, d − c, W)``, each encoded, the W results averaged
(``mmssl/eval/features.py``). So the embedding of a raw span equals the one of its
prepared shard sample.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path

import numpy as np
import torch

from mmssl.api.embeddings import Embeddings, comparable, similarity
from mmssl.api.raw_media import frames_file, prepared_samples, sound_file
from mmssl.checkpoint import load_checkpoint, load_prep
from mmssl.config import EvalConfig, PrepConfig
from mmssl.eval.embed import encode_sentences
from mmssl.eval.features import FeatureExtractor, WindowAverager
from mmssl.media import MediaError
from mmssl.models.spaces import PAIRS
from mmssl.prep.convert import Failure
from mmssl.prep.videos import video_duration

LEVELS = ("embedding", "backbone")


def span_key(video_id: str, start: float, end: float) -> str:
    """``<video_id>@<start>-<end>`` (seconds, 2 decimals): how a span is named."""
    return f"{video_id}@{float(start):.2f}-{float(end):.2f}"


def parse_span_key(key: str) -> tuple[str, float, float]:
    """``(video_id, start, end)`` of a :func:`span_key`."""
    video_id, _, times = key.rpartition("@")
    start, _, end = times.partition("-")
    return video_id, float(start), float(end)


@dataclass
class SpanEmbeddings:
    """Spans of raw videos, embedded: ``by_modality[m]`` holds the rows of every span
    cut; ``failures`` what could not be (a file, or a span, with its reason)."""

    by_modality: dict[str, Embeddings] = field(default_factory=dict)
    failures: list[Failure] = field(default_factory=list)


class Model:
    """A trained method with its preprocessing; build one with :func:`load`.

    Args:
        method, config, tokenizer: what :func:`mmssl.checkpoint.load_checkpoint` returns.
        prep: the settings raw media is prepared with; None when the checkpoint records
            none (then raw media raises, naming what to pass).
        device: torch device to run on; batch_size: clips or sentences per forward pass;
        windows: clips averaged per span; reencode: False skips prep's H.264 re-encode
            (faster, slightly different embeddings; see :mod:`mmssl.api.raw_media`).
    """

    def __init__(self, method, config, tokenizer, prep: PrepConfig | None, *,
                 device: str | torch.device = "cpu", batch_size: int = EvalConfig.batch_size,
                 windows: int = EvalConfig.windows, reencode: bool = True, name: str = ""):
        self.method = method.to(device).eval()
        self.config, self.tokenizer, self.prep = config, tokenizer, prep
        self.batch_size, self.windows, self.reencode, self.name = (batch_size, windows,
                                                                   reencode, name)
        self._extractors: dict[str, FeatureExtractor] = {}

    def __repr__(self) -> str:
        prep = (f"{self.prep.fps:g} fps, short side {self.prep.short_side}" if self.prep
                else "no prep settings")
        return (f"Model({self.name or self.config.method}: {self.config.method}, "
                f"modalities {list(self.modalities)}, spaces {list(self.spaces)}, {prep}, "
                f"device {self.device})")

    @property
    def device(self) -> torch.device:
        return next(self.method.parameters()).device

    @property
    def modalities(self) -> tuple[str, ...]:
        return tuple(self.method.modalities)

    @property
    def spaces(self) -> dict[str, tuple[str, ...]]:
        """``{space: modalities embedded there}``, e.g. ``{"va": ("video", "audio"), ...}``
        (a method without joint spaces, SimCLR or BYOL, has ``{"video": ("video",)}``)."""
        heads = getattr(self.method, "spaces", None)
        if heads is None:
            return {modality: (modality,) for modality in self.modalities}
        return {pair: PAIRS[pair] for pair in heads.pairs}

    @property
    def comparable(self) -> list[str]:
        """What can be scored against what, e.g. ``"text↔video+audio (vt+at)"``."""
        return comparable(self.spaces)

    def similarity(self, a: Embeddings, b: Embeddings | Sequence[Embeddings],
                   space: str | None = None) -> torch.Tensor:
        """(len(a), len(b)) scores (:func:`mmssl.api.embeddings.similarity`)."""
        return similarity(a, b, space)

    def embed_text(self, sentences: Sequence[str], level: str = "embedding") -> Embeddings:
        """Sentences through the checkpoint's tokenizer and text tower, ``batch_size`` at a
        time: ``vectors[space]`` (S, D)."""
        if isinstance(sentences, str):
            sentences = [sentences]
        self._require("text")
        if not sentences:
            raise ValueError("no sentence to embed")
        return Embeddings("text", list(sentences),
                          encode_sentences(self.extractor(level), list(sentences)))

    def embed_video(self, video, start: float | None = None, end: float | None = None, *,
                    fps: float | None = None, level: str = "embedding") -> Embeddings:
        """One row: the span [start, end] seconds (default: the whole video) of a file, or
        of decoded frames (T, H, W, 3) uint8 RGB at ``fps``."""
        return self._embed_one("video", video, start, end, fps, level)

    def embed_audio(self, audio, start: float | None = None, end: float | None = None, *,
                    rate: int | None = None, level: str = "embedding") -> Embeddings:
        """One row: the sound of the span [start, end] seconds (default: all of it) of a
        video or audio file, or of a waveform ((N,) or (C, N) floats in [-1, 1]) at
        ``rate`` Hz."""
        return self._embed_one("audio", audio, start, end, rate, level)

    def embed_spans(self, videos: Iterable[tuple[str, str, list[tuple[float, float]]]],
                    modalities: Sequence[str] = ("video",), level: str = "embedding",
                    on_video: Callable[[str], None] | None = None) -> SpanEmbeddings:
        """Many spans of many files, ``(video_id, path, [(start, end), ...])`` each, their
        windows batched together; ``on_video(video_id)`` after each file. Keys are
        :func:`span_key` of each span as cut (its end where its frames end)."""
        for modality in modalities:
            self._require(modality)
        extractor = self.extractor(level)
        prep = self.require_prep()
        averagers = {m: WindowAverager(partial(extractor.encode, m), self.batch_size)
                     for m in modalities}
        keys, has_audio, failures = [], [], []
        for video_id, path, spans in videos:
            samples, failed = prepared_samples(video_id, path, spans, prep, self.reencode)
            failures.extend(failed)
            for sample in samples:
                try:  # every window of a span before any is queued: a bad span leaves no trace
                    windows = {m: extractor.windows_of(sample, m) for m in modalities}
                except MediaError as error:
                    failures.append(Failure(video_id, error.reason, error.detail))
                    continue
                for modality, x in windows.items():
                    averagers[modality].add(x)
                keys.append(span_key(video_id, sample.meta["start"], sample.meta["end"]))
                has_audio.append(sample.has_audio)
            if on_video is not None:
                on_video(video_id)
        audio_flags = torch.tensor(has_audio, dtype=torch.bool)
        return SpanEmbeddings({m: Embeddings(m, list(keys), averager.finish(), audio_flags)
                               for m, averager in averagers.items()}, failures)

    def extractor(self, level: str = "embedding") -> FeatureExtractor:
        """The evaluation's feature extractor at ``level`` (embedding | backbone)."""
        if level not in LEVELS:
            raise ValueError(f"level must be one of {LEVELS}, got {level!r}")
        if level not in self._extractors:
            self._extractors[level] = FeatureExtractor(self.method, self.config.data,
                                                       self.tokenizer, self.windows, (level,),
                                                       self.batch_size)
        return self._extractors[level]

    def require_prep(self) -> PrepConfig:
        """The prep settings raw media needs, or an error saying how to give them."""
        if self.prep is None:
            raise ValueError(f"{self.name or 'this checkpoint'} records no prep settings "
                             "(prep.yaml; written before checkpoints kept them, or trained on "
                             "shards prepared differently): pass the frame rate and short "
                             "side its training shards were prepared at, mmssl.load(path, "
                             "fps=8, short_side=48) or mmssl embed --fps=8 --short-side=48")
        return self.prep

    def _require(self, modality: str) -> None:
        if modality not in self.modalities:
            raise ValueError(f"{self.config.method} has no {modality} tower (it has "
                             f"{list(self.modalities)})")

    def _embed_one(self, modality: str, media, start, end, rate, level) -> Embeddings:
        """One span of a file, or of an array written to a temporary file first."""
        with tempfile.TemporaryDirectory(prefix="mmssl-") as scratch:
            if isinstance(media, (str, Path)):
                path, video_id = str(media), Path(media).stem
            else:
                array = media.numpy() if isinstance(media, torch.Tensor) else np.asarray(media)
                path = str(frames_file(array, rate, scratch) if modality == "video"
                           else sound_file(array, rate, scratch))
                video_id = "array"
            span = (float(start or 0.0), float(end) if end is not None else video_duration(path))
            result = self.embed_spans([(video_id, path, [span])], (modality,), level)
        if result.failures:
            failure = result.failures[0]
            raise ValueError(f"{path}: cannot embed {modality} of {span[0]}-{span[1]} s: "
                             f"{failure.reason} {failure.detail}".rstrip())
        embeddings = result.by_modality[modality]
        if modality == "audio" and not bool(embeddings.has_audio.all()):
            raise ValueError(f"{path}: no audio track to embed")
        return embeddings


def load(checkpoint: str | Path, *, device: str | torch.device = "cpu",
         batch_size: int = EvalConfig.batch_size, windows: int = EvalConfig.windows,
         prep: PrepConfig | None = None, fps: float = 0.0, short_side: int = 0,
         reencode: bool = True) -> Model:
    """The model of any mmssl checkpoint directory (a training run's ``checkpoint/``, or a
    published model converted by ``mmssl convert``).

    ``prep`` replaces the checkpoint's prep settings; ``fps`` / ``short_side`` override
    those two (both are needed for a checkpoint that records none). ``device``,
    ``batch_size``, ``windows``, ``reencode``: see :class:`Model`."""
    method, config, tokenizer = load_checkpoint(checkpoint)
    prep = prep if prep is not None else load_prep(checkpoint)
    if fps or short_side:
        if prep is None and not (fps and short_side):
            raise ValueError(f"{checkpoint} records no prep settings: give both fps and "
                             "short_side")
        prep = replace(prep or PrepConfig(), **({"fps": float(fps)} if fps else {}),
                       **({"short_side": int(short_side)} if short_side else {}))
    return Model(method, config, tokenizer, prep, device=device, batch_size=batch_size,
                 windows=windows, reencode=reencode, name=str(checkpoint))
