"""The shard format: the one contract between ``mmssl.prep`` (writer) and ``mmssl.data``
(reader). This docstring is its only specification.

A prepared dataset is a directory::

    shard-000000.tar            WebDataset tar (POSIX ustar), samples in a fixed order
    shard-000000.stats.json     written after the tar; the shard is complete only when both exist
    ...
    manifest.json               shard list with sample counts, failures by reason, prep settings

Writers create ``*.partial`` names and rename them into place, so a crash never leaves a
half-written file under a final name. Shards are reproducible byte for byte: the same
sources and settings give the same tar bytes on any executor, node split or resume (tar
members carry the fixed time :data:`MEMBER_MTIME`; decoding and encoding are single-threaded
per video, parallelism comes from converting many videos at once).

Each sample has three members sharing one key (``<video_id>_<start in ms, 9 digits>``, no
dots):

``<key>.mp4``
    The clip, re-encoded: H.264 (yuv420p, fixed GOP so random access is cheap) at the
    prepared ``fps`` and short side; AAC mono 16 kHz audio when the source had audio. An
    audio-only sample (a dataset whose sources may lack video, e.g. AudioSet) has the AAC
    stream alone.
``<key>.json``
    UTF-8 JSON object:

    ============  ==========================================================================
    dataset       ``"howto100m"`` | ``"youcook2"`` | ...
    video_id      source video id (YouTube id for the public datasets)
    source        path of the source file as the converter found it
    start, end    the clip's span in the source file, seconds (end = start + frames / fps;
                  audio-only: the audio's span)
    fps           frame rate of the clip; ``num_frames``, ``width``, ``height`` its geometry
    has_video     whether the mp4 has a video stream; false for an audio-only sample, whose
                  ``num_frames``, ``width`` and ``height`` are 0. Missing (shards written
                  before the field existed) means true.
    has_audio     whether the mp4 has an audio stream; ``audio_rate`` = 16000
    texts         list of ``{"start", "end", "text"}``, times in seconds *relative to the
                  clip's start*, sorted by start (HowTo100M: the ASR narrations inside the
                  clip; YouCook2: one entry, the step sentence spanning the clip)
    labels        dataset-specific dict (HowTo100M: ``task_id``; YouCook2: ``subset``,
                  ``recipe_type``, ``segment_id``; AudioSet: ``subset``, ``mids``,
                  ``indices`` (the positive classes' indices, sorted), ``segment``
                  ([start_seconds, end_seconds] in the YouTube video))
    ============  ==========================================================================

Readers ignore members with other extensions (room for later additions).

``shard-NNNNNN.stats.json``: ``{"shard", "samples", "videos", "seconds", "bytes",
"failed": {reason: count}, "failures": [{"video_id", "reason", "detail"}]}``.

``manifest.json``: ``{"dataset", "shards": [{"name", "samples"}], "total_samples",
"failed": {reason: count}, "prep": {...settings...}}``.
"""

from __future__ import annotations

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


def sample_key(video_id: str, start: float) -> str:
    """``<video_id>_<start ms>``; dots would split WebDataset's key from its extension."""
    return f"{video_id.replace('.', '_')}_{int(round(start * 1000)):09d}"


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
    return json.loads(raw.decode("utf-8"))


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
