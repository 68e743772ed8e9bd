"""Configuration: nested dataclasses are the only home of defaults, and of each field's
one-line meaning (:func:`setting`), which every command's ``--help`` lists.

A YAML file overrides any subset of fields (unknown keys are errors, so a typo cannot be
silently ignored); ``--a.b=c`` on the command line overrides after the file (how a command
line becomes overrides: :mod:`mmssl.command_line`). The resolved config is written next to
every checkpoint and every evaluation result.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from mmssl.errors import UserError


def setting(default=dataclasses.MISSING, help: str = "", *, factory=dataclasses.MISSING):
    """A config field with its default (or ``factory`` for a mutable one) and its one-line
    meaning, kept in the field's metadata for ``--help``."""
    return field(default=default, default_factory=factory, metadata={"help": help})


@dataclass
class SynthConfig:
    """The synthetic world: how many videos of each dataset format, and their media."""

    seed: int = setting(0, "seed of everything generated (the world is a function of it)")
    howto_videos: int = setting(160, "HowTo100M-format videos")
    howto_seconds: tuple[float, float] = setting(
        (34.0, 46.0), "[shortest, longest] HowTo100M-format video, seconds")
    youcook_val_videos: int = setting(44, "YouCook2-format videos in the validation subset")
    youcook_train_videos: int = setting(8, "YouCook2-format videos in the training subset")
    youcook_seconds: tuple[float, float] = setting(
        (30.0, 42.0), "[shortest, longest] YouCook2-format video, seconds")
    coin_videos: int = setting(24, "COIN-format videos (0: none)")
    audioset_clips: int = setting(48, "AudioSet-format clips (0: none)")
    width: int = setting(128, "frame width of the generated videos, pixels")
    height: int = setting(96, "frame height of the generated videos, pixels")
    fps: float = setting(16.0, "frame rate of the generated videos")
    audio_rate: int = setting(22050, "audio sample rate of the generated videos, Hz")
    no_audio_fraction: float = setting(
        0.03, "fraction of HowTo100M-format videos written without an audio stream")
    workers: int = setting(2, "processes writing videos")


@dataclass
class PrepConfig:
    """How source videos become shard samples (see ``mmssl/shard_format.py``). Sources
    beyond ``max_pixels`` or ``max_seconds`` (read from the container header, before
    decoding) are skipped and counted, rather than tying a worker up."""

    fps: float = setting(8.0, "frame rate of the stored clips")
    short_side: int = setting(48, "short side of the stored frames, pixels (aspect kept)")
    gop: int = setting(8, "keyframe interval of the stored H.264, frames")
    crf: int = setting(20, "constant rate factor of the stored H.264 (lower: better, larger)")
    max_sample_seconds: float = setting(
        60.0, "longest HowTo100M sample, seconds (a video is cut into samples this long)")
    samples_per_shard: int = setting(16, "segments per shard tar (a video is never split)")
    workers: int = setting(2, "conversion processes (process executor)")
    max_pixels: int = setting(7680 * 4320, "skip sources with more pixels per frame "
                              "(absurd_resolution)")
    max_seconds: float = setting(12 * 3600.0, "skip sources longer than this, seconds "
                                 "(absurd_duration)")
    video_backend: str = setting("pyav", "video decoder, a name in mmssl.media.backends' "
                                 "registry (pyav); audio always uses PyAV")
    keep_truncated: bool = setting(
        True, "keep the samples of a truncated download that end before its first "
        "undecodable point (--strict turns it off)")


@dataclass
class DataConfig:
    """Training clips: what the loader cuts from each shard sample.

    Every clip of a batch is ``crop_size`` (height, width) pixels whatever its source's
    aspect ratio or prepared size: frames are scaled to cover that size (aspect kept), then
    cropped — at a random position for training, in the centre for evaluation and export
    (``mmssl/data/augment.py``). ``views=2`` adds a second, independently augmented view of
    each clip (a different start inside the anchor narration and a random resized crop),
    for SimCLR/BYOL. ``label_key`` switches from narrated clips (MIL-NCE's: an anchor
    narration and its neighbours) to labelled ones (one class per sample, for SupCon:
    ``mmssl/data/labelled_clips.py``). ``mix`` switches
    to resampled shards: every reader draws shards with replacement, directory d with
    probability ∝ weight_d (open_clip's ``--dataset-resampled``); there are no epochs then.
    """

    shards: str = setting("", "prepared shard directory to train on")
    clip_frames: int = setting(8, "frames per training clip")
    num_candidates: int = setting(4, "narrations per clip, K: the anchor and its neighbours")
    clips_per_sample: int = setting(4, "anchor narrations (clips) drawn per shard sample")
    batch_size: int = setting(64, "clips per batch on each process")
    num_workers: int = setting(1, "DataLoader worker processes per process")
    shuffle_buffer: int = setting(256, "clips held in the shuffle buffer")
    candidates: str = setting(
        "", "how the K candidate narrations are chosen: reference (MIL-NCE's loader: span "
        "ties extend right, too few narrations repeat the edge ones) | masked (ties extend "
        "left, missing candidates masked); empty: reference for milnce, masked otherwise")
    max_words: int = setting(16, "tokens per narration (padded or truncated)")
    crop_size: tuple[int, int] = setting(
        (48, 64), "[height, width] of every clip: frames scaled to cover it, then cropped")
    views: int = setting(1, "1, or 2: a second augmented view of each clip (SimCLR/BYOL)")
    crop_scale: tuple[float, float] = setting(
        (0.6, 1.0), "[smallest, largest] area fraction of a second view's random crop")
    n_mels: int = setting(40, "log-mel bands of the audio input")
    window_ms: float = setting(25.0, "log-mel analysis window, ms")
    hop_ms: float = setting(10.0, "log-mel hop, ms")
    mix: dict[str, float] = setting(
        factory=dict, help="{shards directory: weight}: resampled shards (replaces shards)")
    label_key: str = setting("", "labelled clips: the shard labels key of each sample's one "
                             "class (COIN task_id | step_id, AudioSet indices); empty: "
                             "narrated clips (SupCon needs it)")
    label_subset: str = setting("", "labelled clips: only samples whose labels.subset is this "
                                "(COIN: training); empty: every sample")
    label_modality: str = setting("video", "labelled clips: what each clip carries besides "
                                  "its label: video (COIN) | audio (AudioSet)")


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
    ``word_dim`` long; ``milnce_text`` too), frozen when ``freeze_word_vectors``. The word
    tokenizer's vocabulary is the ``vocab_size`` most frequent words of the training
    narrations (from the shards' word counts, ``mmssl/data/vocabulary.py``), or the first
    words of the file ``vocabulary`` when set (e.g. the ``word_vectors`` file itself).
    ``hf_text_dir``: a local HuggingFace directory for ``text_encoder: hf`` (its tokenizer
    replaces ours), pooled by ``text_pooling`` (mean | cls), frozen when ``freeze_text``;
    with ``hf_video_dir``, a CLIP directory for ``clip_text`` / ``clip_video``
    (``mmssl/models/clip_towers.py``).
    ``gradient_checkpointing``: recompute activations in backward, in every encoder that
    supports it (all but tiny3d, tiny_audio, word_maxpool and milnce_text).
    ``video_mean``/``video_std``: the video tower's input normalisation, applied by the
    method on the device to the uint8 clips of a batch, ``(x / 255 − mean_c) / std_c``
    (mean 0, std 1: frames in [0, 1], as MIL-NCE's released S3D-G expects).
    """

    video_encoder: str = setting("tiny3d", "registered video encoder (VIDEO_ENCODERS)")
    audio_encoder: str = setting("tiny_audio", "registered audio encoder (AUDIO_ENCODERS)")
    text_encoder: str = setting("word_maxpool", "registered text encoder (TEXT_ENCODERS)")
    video_width: int = setting(32, "channel width of the tiny video encoders")
    audio_width: int = setting(32, "channel width of the tiny audio encoders")
    word_dim: int = setting(128, "word vector size (word_maxpool)")
    text_width: int = setting(256, "output width of the word_maxpool text encoder")
    va_dim: int = setting(128, "size of the video-audio space S_va")
    vat_dim: int = setting(128, "size of the video-audio-text space S_vat")
    space: str = setting("", "embedding spaces: shared | disjoint | fac; empty: the method's "
                         "own (fac for MMV, shared for the others)")
    head: str = setting("", "projection heads: linear | mlp; empty: the method's own (linear "
                        "heads, an MLP projector for SimCLR/BYOL)")
    video_weights: str = setting("", "file to start the video encoder from")
    audio_weights: str = setting("", "file to start the audio encoder from")
    text_weights: str = setting("", "file to start the text encoder from")
    word_vectors: str = setting("", "GloVe / word2vec text file for word_maxpool")
    vocabulary: str = setting("", "fixed word vocabulary: one word per line, or a word2vec /"
                              " GloVe text file; empty: the training narrations' words")
    vocab_size: int = setting(30000, "ids of the word vocabulary (its 2 special tokens "
                              "included): the most frequent words, or a file's first ones")
    freeze_word_vectors: bool = setting(True, "keep the loaded word vectors fixed")
    hf_text_dir: str = setting("", "local HuggingFace model directory for text_encoder: hf "
                               "or clip_text (its tokenizer replaces ours)")
    hf_video_dir: str = setting("", "local HuggingFace CLIP directory for video_encoder: "
                                "clip_video")
    text_pooling: str = setting("mean", "pooling of the hf text encoder: mean | cls")
    freeze_text: bool = setting(False, "keep the hf text encoder fixed")
    gradient_checkpointing: bool = setting(False, "recompute activations in backward")
    video_mean: tuple[float, float, float] = setting(
        (0.45, 0.45, 0.45), "per-channel (RGB) mean subtracted from frames scaled to [0, 1]")
    video_std: tuple[float, float, float] = setting(
        (0.225, 0.225, 0.225), "per-channel (RGB) deviation frames are divided by after that")


@dataclass
class LossConfig:
    """How a method's loss terms are weighted and computed.

    ``weights`` overrides the method's default weight per term, by term name (each term is
    logged as ``loss_<name>``); an unknown name is an error. MMV's terms are ``va``
    (NCE(v, a) in S_va), ``vt`` (MIL-NCE(v, t)) and ``at`` (MIL-NCE(a, t), audio reaching
    text through g_va->vat; weight 0 by default, the paper's objective).
    ``normalize``/``temperature``: every term scores cosine similarity / τ, or raw dot
    products (then τ is unused); see ``mmssl/methods/scoring.py``.
    ``learn_temperature``: CLIP's learnable exp(logit_scale) (kept ≤ 100), ALBEF's τ (kept
    in [0.001, 0.5]). ``kind``: the objective of the video–text methods (``milnce``,
    ``clip``). ``chunk_size``: the memory-linear form of a contrastive loss, the same value
    and gradients in blocks of that many rows. ``momentum``: EMA rate of momentum encoders
    (BYOL, MoCo, ALBEF). ``margin``: the MMS δ (AVLnet, ``kind: mms``).
    A field the method does not use (``margin`` outside AVLnet, ``normalize=false`` for
    SimCLR/BYOL, ...) is an error unless left at its default.
    """

    weights: dict[str, float] = setting(
        factory=dict, help="{term: weight} over the method's default loss-term weights")
    temperature: float = setting(0.07, "softmax temperature τ")
    normalize: bool = setting(True, "score with cosine similarities, else raw dot products")
    learn_temperature: bool = setting(False, "learn the temperature (CLIP's logit scale)")
    momentum: float = setting(0.99, "EMA rate of momentum encoders (BYOL, MoCo, ALBEF)")
    margin: float = setting(0.001, "margin δ of the MMS loss (AVLnet, kind mms)")
    kind: str = setting("", "objective of the video-text methods: infonce | siglip | milnce "
                        "| mms | margin_ranking | hadsell; empty: the method's own")
    chunk_size: int = setting(0, "rows per block of a contrastive loss's memory-linear form "
                              "(0: the whole score matrix at once)")
    ranking_margin: float = setting(0.1, "margin δ of the max-margin ranking loss "
                                    "(kind margin_ranking, HowTo100M)")
    hadsell_margin: float = setting(1.0, "margin of Hadsell's contrastive loss on Euclidean "
                                    "distances (kind hadsell)")
    queue_size: int = setting(4096, "feature queue length (MoCo, ALBEF; SwAV: 0 for none)")
    alpha: float = setting(0.4, "weight of ALBEF's momentum-distilled targets")
    prototypes: int = setting(3000, "SwAV prototypes (clusters)")
    sinkhorn_epsilon: float = setting(0.05, "SwAV's Sinkhorn entropy weight ε")
    sinkhorn_iterations: int = setting(3, "SwAV's Sinkhorn-Knopp iterations")
    lambda_offdiag: float = setting(0.0051, "Barlow Twins' weight λ of the off-diagonal term")


@dataclass
class OptimConfig:
    """Weight decay never applies to norms or biases. ``accumulation_steps``: the loss still
    sees the whole accumulated batch as negatives (features cached, then recomputed per
    micro-batch)."""

    lr: float = setting(2e-3, "peak learning rate")
    weight_decay: float = setting(1e-4, "weight decay (never on norms or biases)")
    warmup_steps: int = setting(50, "steps of linear warm-up")
    max_steps: int = setting(650, "optimiser steps to train")
    grad_clip: float = setting(1.0, "clip the gradient norm to this (0: no clipping)")
    optimizer: str = setting("adamw", "adamw | lars | sgd")
    betas: tuple[float, float] = setting((0.9, 0.999), "AdamW betas")
    momentum: float = setting(0.9, "momentum of sgd and lars")
    lars_trust: float = setting(0.001, "LARS trust coefficient")
    schedule: str = setting("cosine", "learning rate after warm-up: cosine | linear | constant")
    accumulation_steps: int = setting(1, "loader batches per optimiser step")


@dataclass
class TrainConfig:
    """A training run. Resumable checkpoints go under ``<output_dir>/checkpoints/step-N``;
    zero-shot YouCook2 retrieval runs every ``eval_every`` steps when ``eval_shards`` is
    set. A new run refuses to start in an ``output_dir`` holding another run unless told
    to ``resume`` it or to ``overwrite`` it (``mmssl/training/run_directory.py``)."""

    method: str = setting("mmv", "registered method (mmssl.methods.METHODS)")
    seed: int = setting(0, "seed of initialisation and data order")
    output_dir: str = setting("runs/train", "run directory (config, log, checkpoints)")
    mixed_precision: str = setting("inherit", "mixed precision: no | fp16 | bf16; inherit: "
                                   "the launcher's (accelerate launch --mixed_precision), else no")
    log_every: int = setting(20, "steps between log records")
    threads: int = setting(0, "torch CPU threads per process (0: the process's share of "
                           "the cores less its loader workers, mmssl/data/threads.py)")
    checkpoint_every: int = setting(500, "steps between resumable checkpoints (0: none)")
    keep_checkpoints: int = setting(3, "newest resumable checkpoints kept")
    resume: str = setting("", '"latest" or a checkpoints/step-N directory to continue from')
    overwrite: bool = setting(False, "start afresh in an output_dir that holds another run, "
                              "deleting that run's checkpoints, log and tokenizer")
    tensorboard: bool = setting(True, "also log to <output_dir>/tensorboard")
    eval_every: int = setting(0, "steps between zero-shot YouCook2 evaluations (0: none)")
    eval_shards: str = setting("", "YouCook2-format shards evaluated every eval_every steps")
    eval_windows: int = setting(3, "windows averaged per segment in those evaluations")
    eval_protocol: str = setting(
        "mmssl", "retrieval protocol this model is evaluated with (by mmssl eval too, unless "
        "it names one): mmssl | milnce (see EvalConfig)")
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)


@dataclass
class EvalConfig:
    """Evaluation (``mmssl/eval``). Zero-shot retrieval with the MIL-NCE protocol on
    ``shards``: ``windows`` clips averaged per segment of ``subset``, or the rows of
    ``clip_list`` (CSV ``end,start,task,text,video_id``; a row matches the segment of its
    video starting within ``clip_tolerance`` s whose end is nearest, and every row is a
    clip of its own). ``protocol`` places the windows in a segment of d seconds, for clips
    of c seconds: ``mmssl`` at ``linspace(0, max(0, d − c), W)``, ``milnce`` at
    ``linspace(0, max(0, d − c − 0.4), W)`` (MIL-NCE's ``eval_youcook.py``); empty takes
    the checkpoint's own (its ``eval_protocol``: a converted MIL-NCE checkpoint says
    ``milnce``). ``coin_shards`` / ``audioset_shards``, when
    set, add linear probes and zero-shot classification (``probe_windows`` per segment;
    AudioSet class names for prompts from ``audioset_class_names``, a
    ``class_labels_indices.csv``)."""

    shards: str = setting("", "prepared YouCook2-format shards (zero-shot retrieval)")
    windows: int = setting(10, "windows averaged per segment (retrieval)")
    batch_size: int = setting(64, "clips (windows of several segments) or sentences per "
                              "forward pass")
    subset: str = setting("validation", 'segments of this subset ("": every segment)')
    clip_list: str = setting("", "CSV end,start,task,text,video_id: the clips to retrieve")
    clip_tolerance: float = setting(1.0, "seconds a clip_list start may be off its segment's")
    protocol: str = setting("", "window placement: mmssl | milnce; empty: the checkpoint's "
                            "own (its eval_protocol)")
    coin_shards: str = setting("", "prepared COIN shards (probes, zero-shot classification)")
    audioset_shards: str = setting("", "prepared AudioSet shards (probes, zero-shot)")
    probe_windows: int = setting(4, "windows averaged per segment (probes, zero-shot)")
    audioset_class_names: str = setting("", "class_labels_indices.csv: names for prompts")


@dataclass
class EmbedConfig:
    """What ``mmssl embed`` computes for each segment of prepared shards, or for each span
    of raw videos (``--videos``): spans of ``window`` seconds every ``stride`` seconds
    (``mmssl/prep/videos.py``), each the mean of ``windows`` clips, prepared as the
    checkpoint's training shards were (its ``prep.yaml``; ``fps`` and ``short_side`` for
    a checkpoint that records none). ``reencode=false`` skips prep's H.264 re-encode of
    each span: faster, and the embeddings differ slightly from those of prepared shards
    (``benchmarks/README.md``). Raw videos are written ``part_videos`` videos per part,
    the unit a rerun resumes from."""

    windows: int = setting(EvalConfig.windows, "clips averaged per segment or span")
    batch_size: int = setting(EvalConfig.batch_size, "clips or sentences per forward pass")
    subset: str = setting("", 'only segments of this subset ("": every segment)')
    level: str = setting("embedding", "embedding (in each space) | backbone (encoder output)")
    window: float = setting(0.0, "raw videos: seconds per embedded span (0: whole videos)")
    stride: float = setting(0.0, "raw videos: seconds between span starts (0: the window)")
    fps: float = setting(0.0, "raw videos: frame rate to prepare at (0: the checkpoint's)")
    short_side: int = setting(0, "raw videos: short side to prepare at (0: the checkpoint's)")
    reencode: bool = setting(True, "raw videos: re-encode spans as prep does (exact shard "
                             "pixels); false: faster, slightly different")
    part_videos: int = setting(64, "raw videos: videos per written part (resume unit)")
    device: str = setting("cpu", "torch device the model runs on (cpu, cuda, cuda:1, ...)")


@dataclass
class SearchConfig:
    """``mmssl search``: text against an index written by ``mmssl embed --videos``, scored
    in blocks of ``block_rows`` index rows (memory: one block's scores and the running
    best ``top``), or with faiss when ``backend`` is faiss (``pip install faiss-cpu``)."""

    top: int = setting(10, "best-matching spans returned per query")
    target: str = setting("video", "what queries are scored against: video | audio | "
                          "video+audio")
    block_rows: int = setting(65536, "index rows scored at a time (exact search)")
    backend: str = setting("exact", "exact (blocks, torch) | faiss (exact inner product)")
    thumbnails: int = setting(6, "frames in each hit's thumbnail strip (--html)")
    device: str = setting("cpu", "torch device the text tower runs on")


def demo_train_config() -> TrainConfig:
    """The demo trains with the audio-text term on (see :class:`LossConfig`), so that words
    only the sound reveals reach S_vat; everything else is the plain default."""
    return TrainConfig(loss=LossConfig(weights={"at": 1.0}))


@dataclass
class DemoConfig:
    """Every stage of ``mmssl demo``, each section the config of its own command."""

    synth: SynthConfig = field(default_factory=SynthConfig)
    prep: PrepConfig = field(default_factory=PrepConfig)
    train: TrainConfig = field(default_factory=demo_train_config)
    eval: EvalConfig = field(default_factory=EvalConfig)


class ConfigError(UserError, ValueError):
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
    """Defaults of ``cls``, then the YAML file at ``path``, then ``--a.b=value`` overrides.

    An override's value is YAML (``--optim.betas=[0.9, 0.98]``, ``--loss.normalize=false``)
    except for a text field, which takes the text as written (``--mixed_precision=no``,
    ``--subset=``). Keys may spell ``_`` as ``-`` (``--data.batch-size=8``).
    """
    data = to_dict(cls())
    if path:
        data = _merge(cls, data, _read_yaml(path), str(path))
    for item in overrides:
        key, equals, text = item.removeprefix("--").partition("=")
        if not equals:
            raise ConfigError(f"override {item!r} is not of the form --a.b=value")
        found = resolve_key(cls, key)
        keys, hint = found if found else (key.split("."), None)
        value = text if hint is str else yaml.safe_load(text)
        data = _merge(cls, data, _nested(list(keys), value), f"override {item!r}")
    return from_dict(cls, data)


def _read_yaml(path: str | Path) -> dict:
    """The mapping in a YAML config file; a file that is missing or not YAML is a
    :class:`ConfigError` naming it."""
    try:
        return yaml.safe_load(Path(path).read_text()) or {}
    except OSError as error:
        raise ConfigError(f"config file {path}: {error.strerror or error}") from error
    except yaml.YAMLError as error:
        where = getattr(error, "problem_mark", None)
        line = f" (line {where.line + 1})" if where is not None else ""
        raise ConfigError(f"config file {path}: not YAML{line}: "
                          f"{getattr(error, 'problem', None) or error}") from error


def resolve_key(cls, key: str) -> tuple[tuple[str, ...], typing.Any] | None:
    """``(path, type)`` of the dotted ``key`` in dataclass ``cls``, or None when there is
    no such key. Field names may spell ``_`` as ``-``; below a mapping field (``loss.weights``,
    ``data.mix``) the rest of the key is one entry's name, kept as written."""
    parts, path, hint = key.split("."), [], cls
    for index, part in enumerate(parts):
        if typing.get_origin(hint) is dict:
            return (*path, ".".join(parts[index:])), typing.get_args(hint)[1]
        if not dataclasses.is_dataclass(hint):
            return None
        name = part.replace("-", "_")
        hints = {f.name: h for f, h in _field_types(hint)}
        if name not in hints:
            return None
        path.append(name)
        hint = hints[name]
    return tuple(path), hint


def _field_types(cls) -> list[tuple[dataclasses.Field, typing.Any]]:
    hints = typing.get_type_hints(cls)
    return [(f, hints[f.name]) for f in dataclasses.fields(cls)]


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
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        key_type, value_type = typing.get_args(hint)
        return {_coerce(key_type, key, f"{where}.{key}"): _coerce(value_type, item,
                                                                f"{where}.{key}")
                for key, item in value.items()}
    if origin in (typing.Union, types.UnionType):
        return value
    return _scalar(hint, value, where)


def _scalar(hint, value, where: str):
    """``value`` as a field of type ``hint`` takes it. Types are strict where YAML would blur
    them: a bool is not a number (``max_steps: true`` is an error, although Python's bool
    is an int); an int is a float; a text field takes a number as its text (``shards:
    2024``), but not a bool (YAML reads ``no`` as false: quote it)."""
    if hint is str and isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint in (int, float, str) and isinstance(value, bool):
        hint_text = " (quote it)" if hint is str else ""
        raise ConfigError(f"{where}: expected {hint.__name__}, got {value!r}{hint_text}")
    if hint in (int, float, str, bool) and not isinstance(value, hint):
        raise ConfigError(f"{where}: expected {hint.__name__}, got {value!r}")
    return value


def _plain(value):
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value
