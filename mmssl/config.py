"""Configuration: nested dataclasses are the only home of defaults.

A YAML file overrides any subset of fields (unknown keys are errors, so a typo cannot be
silently ignored); ``--a.b=c`` on the command line overrides after the file. The resolved
config is written next to every checkpoint and every evaluation result.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path

import yaml


@dataclass
class SynthConfig:
    """The synthetic world: how many videos of each dataset format, and their media."""

    seed: int = 0
    howto_videos: int = 160
    howto_seconds: tuple[float, float] = (34.0, 46.0)
    youcook_val_videos: int = 44
    youcook_train_videos: int = 8
    youcook_seconds: tuple[float, float] = (30.0, 42.0)
    coin_videos: int = 24
    audioset_clips: int = 48
    width: int = 128
    height: int = 96
    fps: float = 16.0
    audio_rate: int = 22050
    no_audio_fraction: float = 0.03
    workers: int = 2


@dataclass
class PrepConfig:
    """How source videos become shard samples (see ``mmssl/shard_format.py``)."""

    fps: float = 8.0
    short_side: int = 48
    gop: int = 8
    crf: int = 20
    max_sample_seconds: float = 60.0
    samples_per_shard: int = 16
    workers: int = 2
    # Checked from the container header before decoding: beyond these a file is skipped
    # (counted as absurd_resolution / absurd_duration) rather than tying a worker up.
    max_pixels: int = 7680 * 4320
    max_seconds: float = 12 * 3600.0
    # Video decoding backend (mmssl.media.backends): "pyav" (default; measured faster here,
    # benchmarks/README.md) or "decord" (paths only). Audio is always decoded with PyAV.
    video_backend: str = "pyav"


@dataclass
class DataConfig:
    """Training clips: what the loader cuts from each shard sample.

    ``views=2`` adds a second, independently augmented view of each clip (a different
    start inside the anchor narration and a random crop), for SimCLR/BYOL.
    """

    shards: str = ""
    clip_frames: int = 8
    num_candidates: int = 4
    clips_per_sample: int = 4
    batch_size: int = 64
    num_workers: int = 1
    shuffle_buffer: int = 256
    max_words: int = 16
    views: int = 1
    crop_scale: tuple[float, float] = (0.6, 1.0)
    n_mels: int = 40
    window_ms: float = 25.0
    hop_ms: float = 10.0
    # Resampled-shard mode: {shards directory: weight}. When set, ``shards`` is ignored and
    # every reader draws shards with replacement, directory d with probability ∝ weight_d
    # (open_clip's ``--dataset-resampled``); there are no epochs then.
    mix: dict[str, float] = field(default_factory=dict)


@dataclass
class ModelConfig:
    """Encoders by registered name (``mmssl.models``: ``VIDEO_ENCODERS.list()`` etc.), and
    the embedding spaces (``space``: shared | disjoint | fac, see ``mmssl/models/spaces.py``)
    with their heads (``head``: linear | mlp). Empty means the method's own: ``space`` fac
    for MMV and shared for AVLnet, MIL-NCE and CLIP (which offer no other); ``head``
    linear, an MLP for the SimCLR/BYOL projector.

    ``*_width`` size the tiny encoders (the real-size ones have fixed widths).
    ``*_weights``: a local file to start each encoder from (torchvision ``.pth``,
    ``.safetensors`` or an mmssl checkpoint directory; see ``mmssl/models/weights.py``).
    ``word_vectors``: a GloVe / word2vec text file for ``word_maxpool`` (its vectors must be
    ``word_dim`` long), frozen when ``freeze_word_vectors``. ``hf_text_dir``: a local
    HuggingFace directory for ``text_encoder: hf`` (its tokenizer replaces ours), pooled by
    ``text_pooling`` (mean | cls), frozen when ``freeze_text``.
    ``gradient_checkpointing``: recompute activations in backward, in every encoder that
    supports it (all but tiny3d, tiny_audio and word_maxpool).
    """

    video_encoder: str = "tiny3d"
    audio_encoder: str = "tiny_audio"
    text_encoder: str = "word_maxpool"
    video_width: int = 32
    audio_width: int = 32
    word_dim: int = 128
    text_width: int = 256
    va_dim: int = 128
    vat_dim: int = 128
    space: str = ""
    head: str = ""
    video_weights: str = ""
    audio_weights: str = ""
    text_weights: str = ""
    word_vectors: str = ""
    freeze_word_vectors: bool = True
    hf_text_dir: str = ""
    text_pooling: str = "mean"
    freeze_text: bool = False
    gradient_checkpointing: bool = False


@dataclass
class LossConfig:
    """How a method's loss terms are weighted and computed.

    ``weights`` overrides the method's default weight per term, by term name (each term is
    logged as ``loss_<name>``); an unknown name is an error. MMV's terms are ``va``
    (NCE(v, a) in S_va), ``vt`` (MIL-NCE(v, t)) and ``at`` (MIL-NCE(a, t), audio reaching
    text through g_va->vat; weight 0 by default, the paper's objective).
    ``normalize``/``temperature``: every term scores cosine similarity / τ, or raw dot
    products (then τ is unused); see ``mmssl/methods/scoring.py``.
    ``learn_temperature``: CLIP's learnable exp(logit_scale), clamped at 100.
    ``momentum``: EMA rate of momentum encoders (BYOL). ``margin``: AVLnet's MMS δ.
    A field the method does not use (``margin`` outside AVLnet, ``normalize=false`` for
    SimCLR/BYOL, ...) is an error unless left at its default.
    """

    weights: dict[str, float] = field(default_factory=dict)
    temperature: float = 0.07
    normalize: bool = True
    learn_temperature: bool = False
    momentum: float = 0.99
    margin: float = 0.001


@dataclass
class OptimConfig:
    """``optimizer``: adamw | lars | sgd (weight decay never on norms or biases).
    ``schedule``: cosine | linear | constant, after ``warmup_steps`` of linear warm-up.
    ``accumulation_steps``: loader batches per optimiser step; the loss still sees the
    whole accumulated batch as negatives (features cached, then recomputed per micro-batch).
    """

    lr: float = 2e-3
    weight_decay: float = 1e-4
    warmup_steps: int = 50
    max_steps: int = 650
    grad_clip: float = 1.0
    optimizer: str = "adamw"
    betas: tuple[float, float] = (0.9, 0.999)
    momentum: float = 0.9
    lars_trust: float = 0.001
    schedule: str = "cosine"
    accumulation_steps: int = 1


@dataclass
class TrainConfig:
    """``method``: a registered method name (``mmssl.methods.METHODS``)."""

    method: str = "mmv"
    seed: int = 0
    output_dir: str = "runs/train"
    mixed_precision: str = "no"
    log_every: int = 20
    threads: int = 0
    # Resumable checkpoints under ``<output_dir>/checkpoints/step-N`` every this many steps
    # (0: none), the newest ``keep_checkpoints`` kept; ``resume``: "latest" or a step dir.
    checkpoint_every: int = 500
    keep_checkpoints: int = 3
    resume: str = ""
    tensorboard: bool = True
    # Zero-shot YouCook2 retrieval every ``eval_every`` steps when ``eval_shards`` is set.
    eval_every: int = 0
    eval_shards: str = ""
    eval_windows: int = 3
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)


@dataclass
class EvalConfig:
    """Evaluation (``mmssl/eval``). Zero-shot retrieval with the MIL-NCE protocol on
    ``shards``: ``windows`` clips averaged per segment of ``subset``, or the rows of
    ``clip_list`` (CSV ``end,start,task,text,video_id``; a row matches the segment of its
    video starting within ``clip_tolerance`` s). ``coin_shards`` / ``audioset_shards``, when
    set, add linear probes and zero-shot classification (``probe_windows`` per segment;
    AudioSet class names for prompts from ``audioset_class_names``, a
    ``class_labels_indices.csv``)."""

    shards: str = ""
    windows: int = 10
    batch_size: int = 64
    subset: str = "validation"
    clip_list: str = ""
    clip_tolerance: float = 1.0
    coin_shards: str = ""
    audioset_shards: str = ""
    probe_windows: int = 4
    audioset_class_names: str = ""


def demo_train_config() -> TrainConfig:
    """The demo trains with the audio-text term on (see :class:`LossConfig`), so that words
    only the sound reveals reach S_vat; everything else is the plain default."""
    return TrainConfig(loss=LossConfig(weights={"at": 1.0}))


@dataclass
class DemoConfig:
    synth: SynthConfig = field(default_factory=SynthConfig)
    prep: PrepConfig = field(default_factory=PrepConfig)
    train: TrainConfig = field(default_factory=demo_train_config)
    eval: EvalConfig = field(default_factory=EvalConfig)


class ConfigError(ValueError):
    """A config file or override that does not fit the dataclasses."""


def from_dict(cls, data: dict, where: str = ""):
    """Build dataclass ``cls`` from ``data``, raising :class:`ConfigError` on unknown keys."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where or cls.__name__}: expected a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(f"{where or cls.__name__}: unknown keys {unknown}; "
                          f"known: {sorted(names)}")
    kwargs = {key: _coerce(hints[key], value, f"{where}{key}") for key, value in data.items()}
    return cls(**kwargs)


def to_dict(config) -> dict:
    """Plain nested dict (tuples as lists) for YAML/JSON."""
    return _plain(dataclasses.asdict(config))


def load_config(cls, path: str | Path | None = None, overrides: list[str] = ()):
    """Defaults of ``cls``, then the YAML file at ``path``, then ``a.b=c`` overrides."""
    data = to_dict(cls())
    if path:
        loaded = yaml.safe_load(Path(path).read_text()) or {}
        data = _merge(cls, data, loaded, str(path))
    for item in overrides:
        key, _, value = item.lstrip("-").partition("=")
        if not _:
            raise ConfigError(f"override {item!r} is not of the form --a.b=value")
        data = _merge(cls, data, _nested(key.split("."), yaml.safe_load(value)),
                      f"override {item!r}")
    return from_dict(cls, data)


def save_config(config, path: str | Path) -> None:
    Path(path).write_text(yaml.safe_dump(to_dict(config), sort_keys=False))


def _merge(cls, base: dict, update, where: str) -> dict:
    """``update`` over ``base`` for dataclass ``cls``: sub-configs merge key by key (unknown
    keys are errors); mapping fields (e.g. ``loss.weights``) take the union."""
    if not isinstance(update, dict):
        raise ConfigError(f"{where}: expected a mapping, got {update!r}")
    hints = typing.get_type_hints(cls)
    merged = dict(base)
    for key, value in update.items():
        if key not in base:
            raise ConfigError(f"{where}: unknown key {key!r}; known: {sorted(base)}")
        if dataclasses.is_dataclass(hints[key]):
            merged[key] = _merge(hints[key], base[key], value, f"{where}: {key}")
        elif typing.get_origin(hints[key]) is dict and isinstance(value, dict):
            merged[key] = {**base[key], **value}
        else:
            merged[key] = value
    return merged


def _nested(keys: list[str], value) -> dict:
    return {keys[0]: _nested(keys[1:], value)} if len(keys) > 1 else {keys[0]: value}


def _coerce(hint, value, where: str):
    if dataclasses.is_dataclass(hint):
        return from_dict(hint, value, where + ".")
    origin = typing.get_origin(hint)
    if origin is tuple:
        args = typing.get_args(hint)
        if not isinstance(value, (list, tuple)) or len(value) != len(args):
            raise ConfigError(f"{where}: expected a list of {len(args)}, got {value!r}")
        return tuple(_coerce(arg, item, where) for arg, item in zip(args, value, strict=True))
    if origin in (typing.Union, types.UnionType):
        return value
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint in (int, float, str, bool) and not isinstance(value, hint):
        raise ConfigError(f"{where}: expected {hint.__name__}, got {value!r}")
    return value


def _plain(value):
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value
