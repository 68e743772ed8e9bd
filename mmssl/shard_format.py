"""The shard format: the one contract between ``mmssl.prep`` (writer) and ``mmssl.data``
(reader). This docstring is its only specification.

A prepared dataset is a directory::

    shard-000000.tar            WebDataset tar (POSIX ustar), samples in a fixed order
    shard-000000.stats.json     written after the tar; the shard is complete only when both exist
    ...
    manifest.json               shard list with sample counts, failures by reason, prep settings

Writers create ``<final name>.<host>-<pid>-<random>.partial`` names (one per writer, so two
runs, or a run and the orphaned worker of a killed one, never write the same file) and
rename them into place, so a crash never leaves a half-written file under a final name.
Shards are reproducible byte for byte: the same sources and settings give the same tar
bytes on any executor, node split or resume (tar
members carry the fixed time :data:`MEMBER_MTIME`; decoding and encoding are single-threaded
per video, parallelism comes from converting many videos at once).

Each sample has two members sharing one key, :func:`sample_key`::

    <readable id>-<id hash>_<start in ms, 9 digits>    e.g. nVbIUDjzWY4-56782d98462ed1f6_000060000

``readable id`` is the video id with every character outside ``A-Z a-z 0-9 _ -`` replaced
by ``_``, cut to :data:`KEY_ID_CHARS` characters; ``id hash`` is the first 16 hex digits of
the SHA-256 of the exact id (UTF-8). So a key is a safe file name whatever the id holds
(``/``, ``..``, an absolute path, dots, which would split WebDataset's key from its
extension, any unicode), and two ids that differ anywhere — even only in ``.`` vs ``_`` —
give different keys. The exact id is the JSON member's ``video_id``. A video's second,
third... segment starting at the same millisecond with a different end (YouCook2 has steps
that start together) gets the key with ``_2``, ``_3``... appended, so that no sample hides
another; a segment listed twice (same start and end) or a key two ids would share is
refused before any conversion, naming both records.

``<key>.mp4``
    The clip, re-encoded: H.264 (yuv420p, fixed GOP so random access is cheap) at the
    prepared ``fps`` and short side; AAC-LC mono 16 kHz audio without perceptual noise
    substitution (so random access is exact as well) when the source had audio. An
    audio-only sample (a dataset whose sources may lack video, e.g. AudioSet) has the AAC
    stream alone.
``<key>.json``
    UTF-8 JSON object:

    ==============  ==========================================================================
    dataset         ``"howto100m"`` | ``"youcook2"`` | ...
    video_id        source video id (YouTube id for the public datasets)
    source          path of the source file as the converter found it
    start, end      the clip's span in the source file, seconds (end = start + frames / fps;
                    audio-only: the audio's span)
    fps             frame rate of the clip; ``num_frames``, ``width``, ``height`` its geometry
    has_video       whether the mp4 has a video stream; false for an audio-only sample, whose
                    ``num_frames``, ``width`` and ``height`` are 0. Missing (shards written
                    before the field existed) means true.
    has_audio       whether the mp4 has an audio stream; ``audio_rate`` = 16000
    audio_seekable  true when the AAC was encoded without perceptual noise substitution,
                    so a window decoded from one AAC frame before it is exactly that slice
                    of the whole track (readers then seek); missing or false (shards written
                    before the field existed) means the track must be decoded from its start
                    for exact windows (:func:`audio_seekable`)
    texts           list of ``{"start", "end", "text"}``, times in seconds *relative to the
                    clip's start*, sorted by start (HowTo100M: the ASR narrations inside the
                    clip; YouCook2: one entry, the step sentence spanning the clip)
    labels          dataset-specific dict (HowTo100M: ``task_id``; YouCook2: ``subset``,
                    ``recipe_type``, ``segment_id``; AudioSet: ``subset``, ``mids``,
                    ``indices`` (the positive classes' indices, sorted), ``segment``
                    ([start_seconds, end_seconds] in the YouTube video))
    ==============  ==========================================================================

Readers ignore members with other extensions (room for later additions). A JSON member
without one of the fields readers need (:data:`REQUIRED_META`), or with one of the wrong
type, is skipped and counted as ``bad_meta`` (:func:`check_meta`).

``shard-NNNNNN.stats.json``: ``{"shard", "samples", "videos", "seconds", "bytes",
"failed": {reason: count}, "failures": [{"video_id", "reason", "detail"}],
"truncated_kept", "truncated_seconds_kept", "words": {word: count}}``. ``truncated_kept``
and ``truncated_seconds_kept`` count the truncated or damaged downloads whose samples before
the first undecodable point were kept, and those samples' seconds (absent in shards written
before they existed: read as 0). ``words`` counts the words of every ``texts`` entry of the
shard's samples, split by :func:`words_of` (NFKC, lower case, then ``tokenizers``'
``Whitespace`` pre-tokenizer, ``\\w+|[^\\w\\s]+``: the word tokenizer's own rule), so a
training run builds its vocabulary from these small files instead of reading every tar;
shards written before the field existed lack it, and their JSON members are read instead.

``manifest.json``: ``{"dataset", "shards": [{"name", "samples"}], "total_samples",
"failed": {reason: count}, "truncated_kept", "truncated_seconds_kept",
"prep": {...settings...}}``.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from pathlib import Path

MEDIA_KEY = "mp4"
META_KEY = "json"
MANIFEST_NAME = "manifest.json"
PARTIAL_SUFFIX = ".partial"
AUDIO_RATE = 16000  # Hz, mono: every sample's audio, and what mmssl.media decodes to


def shard_name(index: int) -> str:
    return f"shard-{index:06d}.tar"


MEMBER_MTIME = 0  # tar member time, fixed so that a shard's bytes depend on its contents only


def stats_path(tar_path: str | Path) -> Path:
    tar_path = Path(tar_path)
    return tar_path.with_name(tar_path.name.removesuffix(".tar") + ".stats.json")


KEY_ID_CHARS = 40  # of the readable part of a key: member names stay well under ustar's 100
KEY_HASH_DIGITS = 16  # 64 bits: a chance collision among 10^7 ids has odds ~3·10^-6
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def sample_key(video_id: str, start: float) -> str:
    """``<readable id>-<SHA-256 of the id, 16 hex digits>_<start ms, 9 digits>``: a safe tar
    member name, different for any two ids (a repeated start of one video gets a suffix:
    see the module docstring)."""
    readable = _UNSAFE.sub("_", video_id)[:KEY_ID_CHARS]
    digest = hashlib.sha256(video_id.encode("utf-8", "surrogatepass")).hexdigest()
    return f"{readable}-{digest[:KEY_HASH_DIGITS]}_{int(round(start * 1000)):09d}"


def clip_key(video_id: str, start: float) -> str:
    """``<video_id>@<start seconds in the source, 2 decimals>``: how results, exports and
    batch metas name a clip or a segment (unlike :func:`sample_key`, for people to read)."""
    return f"{video_id}@{float(start):.2f}"


def is_complete(tar_path: str | Path) -> bool:
    """A shard is complete when both its tar and its stats file are in place."""
    return Path(tar_path).is_file() and stats_path(tar_path).is_file()


def encode_meta(meta: dict) -> bytes:
    return json.dumps(meta, sort_keys=True).encode("utf-8")


def decode_meta(raw: bytes) -> dict:
    """The JSON member's value (a ``ValueError`` when it is not UTF-8 JSON)."""
    return json.loads(raw.decode("utf-8"))


class MetaError(ValueError):
    """A JSON member that lacks a field readers need, or holds one of the wrong type
    (``reason`` ``bad_meta``, how readers count it)."""

    reason = "bad_meta"


# The fields every reader relies on, and their types (bool is not a number here).
REQUIRED_META = {"video_id": str, "start": float, "end": float, "fps": float,
                 "num_frames": int, "width": int, "height": int, "texts": list}
TEXT_FIELDS = {"start": float, "end": float, "text": str}


def check_meta(meta: dict) -> dict:
    """``meta`` when it has every field of :data:`REQUIRED_META` with its type and each of
    its ``texts`` is ``{"start", "end", "text"}``; else :class:`MetaError` ``bad_meta``
    naming the field."""
    if not isinstance(meta, dict):
        raise MetaError(f"expected a JSON object, got {type(meta).__name__}")
    for field, kind in REQUIRED_META.items():
        if not _is(meta.get(field), kind):
            raise MetaError(f"field {field!r} missing or not {kind.__name__}: "
                            f"{meta.get(field)!r:.60}")
    for index, text in enumerate(meta["texts"]):
        if not isinstance(text, dict) or not all(_is(text.get(f), kind)
                                                 for f, kind in TEXT_FIELDS.items()):
            raise MetaError(f"texts[{index}]: expected {{start, end, text}}, got {text!r:.60}")
    return meta


def audio_seekable(meta: dict) -> bool:
    """Whether a sample's audio windows may be decoded after a seek (its JSON member's
    ``audio_seekable``; false for shards written before the field existed)."""
    return meta.get("audio_seekable") is True


def _is(value, kind: type) -> bool:
    if isinstance(value, bool):
        return kind is bool
    if kind is float:
        return isinstance(value, int | float)
    return isinstance(value, kind)


def word_rule():
    """``(normalizer, pre_tokenizer)``, new ``tokenizers`` objects: how texts are split into
    words, both for the stats files' ``words`` and by the word tokenizer
    (:mod:`mmssl.data.tokenizer`)."""
    from tokenizers import normalizers, pre_tokenizers

    return (normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()]),
            pre_tokenizers.Whitespace())


_shared_rule = functools.cache(word_rule)


def normalized(text: str) -> str:
    """``text`` as words are compared: NFKC, lower case."""
    return _shared_rule()[0].normalize_str(text)


def words_of(text: str) -> list[str]:
    """The words of ``text`` by :func:`word_rule`: ``"Cut the Onion."`` → ``["cut", "the",
    "onion", "."]``."""
    normalizer, pre_tokenizer = _shared_rule()
    return [word for word, _ in pre_tokenizer.pre_tokenize_str(normalizer.normalize_str(text))]


# The component of a shard location that names the shard files: a brace pattern
# (``shard-{000000..000099}.tar``) or one tar, as WebDataset writes them.
_SHARD_NAME = re.compile(r"[^/\s]*\{[^}/\s]*\}[^/\s]*|[^/\s]*\.tar\b")


def is_url(location: str | Path) -> bool:
    """Whether ``location`` is a URL (``scheme://...``) or a ``pipe:`` command rather than a
    local path."""
    text = str(location)
    return text.startswith("pipe:") or bool(re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", text))


def located(location: str | Path, name: str) -> str:
    """Where file ``name`` of a prepared dataset at ``location`` is: in the directory or
    under the URL prefix, or — for a location naming its shards (a brace pattern, a tar,
    a ``pipe:`` command reading one) — in place of that name."""
    text = str(location)
    names = list(_SHARD_NAME.finditer(text))
    if names:
        last = names[-1]
        return text[: last.start()] + name + text[last.end():]
    if is_url(text):
        return text.rstrip("/") + "/" + name
    return str(Path(text) / name)


def stats_location(tar_location: str | Path) -> str:
    """Where a shard's stats file is: :func:`stats_path` for a local tar; for a URL or a
    ``pipe:`` command, the same location with the tar's name replaced."""
    if not is_url(tar_location):
        return str(stats_path(tar_location))
    tar_name = _SHARD_NAME.findall(str(tar_location))[-1]
    return located(tar_location, tar_name.removesuffix(".tar") + ".stats.json")


def read_manifest(location: str | Path, read=None) -> dict:
    """The manifest of a prepared dataset, with shard names resolved to full paths or URLs.

    ``location``: the directory, a URL prefix (``https://host/data``), a brace pattern of
    its shards (``.../shard-{000000..000099}.tar``: only those shards are listed, in
    manifest order) or a ``pipe:`` command reading them (``pipe:curl -s URL``); the
    manifest is read from the same place (:func:`located`). ``read``: URL → bytes, for
    locations that are not local paths (``mmssl.data.shard_urls.read_location``).
    """
    where = located(location, MANIFEST_NAME)
    if is_url(where):
        if read is None:
            raise ValueError(f"{location}: a remote dataset needs a URL reader")
        manifest = json.loads(read(where))
    else:
        if not Path(where).is_file():
            raise FileNotFoundError(f"{where} not found: prepare the dataset first "
                                    f"(mmssl prep ... --out {location})")
        manifest = json.loads(Path(where).read_text())
    named = list(_SHARD_NAME.finditer(str(location)))
    for shard in manifest["shards"]:
        shard["path"] = located(location, shard["name"])
    if named:  # only the shards the location names
        wanted = set(expand_braces(named[-1].group()))
        manifest["shards"] = [shard for shard in manifest["shards"] if shard["name"] in wanted]
    return manifest


def expand_braces(pattern: str) -> list[str]:
    """``shard-{000..002}.tar`` → the three names (zero-padded to the first bound's width);
    ``{a,b}`` lists expand too, several braces multiply out."""
    match = re.search(r"\{([^{}]*)\}", pattern)
    if match is None:
        return [pattern]
    body, head, tail = match.group(1), pattern[: match.start()], pattern[match.end():]
    bounds = re.fullmatch(r"(\d+)\.\.(\d+)", body)
    if bounds:
        first, last = bounds.groups()
        options = [f"{i:0{len(first)}d}" for i in range(int(first), int(last) + 1)]
    else:
        options = body.split(",")
    return [name for option in options for name in expand_braces(head + option + tail)]
