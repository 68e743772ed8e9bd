"""Reading prepared shards (the format of :mod:`mmssl.shard_format`): the one home of
listing a dataset's shards, reading its samples (JSON decoded, mp4 not yet opened),
opening them, reading its JSON members alone and counting what cannot be read.

Every reader of shards — the training stream, evaluation, embedding export, the
vocabulary — goes through here, so a bad sample is treated the same way everywhere: it
is skipped and counted by reason (:class:`SkipCounter`), the stream goes on, and the
first sample of each reason is named in a warning. ``SkipCounter(strict=True)`` turns
the first bad sample into an error instead.

A dataset's location may be a directory, a URL prefix, a brace pattern of shard URLs or a
``pipe:`` command (:mod:`mmssl.data.shard_urls`): tars are read as streams, so remote
shards are never copied to disk; a connection that drops mid-shard is reopened where it
stopped and counted (``connection_retried``), and a shard that still cannot be read is
counted and the next one read.
"""

from __future__ import annotations

import tarfile
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from webdataset.tariterators import group_by_keys, tar_file_expander

from mmssl.data.clips import OpenSample, SampleTiming
from mmssl.data.shard_urls import fetch_manifest, open_location
from mmssl.media import ClipReader, MediaError
from mmssl.shard_format import MEDIA_KEY, META_KEY, audio_seekable, check_meta, decode_meta


class SkipCounter:
    """Counts samples skipped for bad data, by reason, and warns once per reason.

    ``strict``: raise a ``ValueError`` naming the sample instead of skipping it (for
    passes over data another pass has already read, where a bad sample is a bug).
    """

    def __init__(self, strict: bool = False):
        self.counts: dict[str, int] = {}
        self.strict = strict
        self._last_error: Exception | None = None

    def __call__(self, reason: str, detail: str) -> None:
        if self.strict:
            raise ValueError(f"unreadable sample ({reason}): {detail}")
        self.counts[reason] = self.counts.get(reason, 0) + 1
        if self.counts[reason] == 1:
            warnings.warn(f"skipping bad sample ({reason}): {detail}", stacklevel=2)

    def handler(self, error: Exception) -> bool:
        """webdataset error handler: count and continue (re-raise when strict). A shard
        whose stream is lost raises the same error in the member being read and again in
        the tar around it; it is counted once."""
        if self.strict:
            raise error
        if error is not self._last_error:
            self(type(error).__name__, str(error))
        self._last_error = error
        return True


def shard_paths(location: str) -> list[str]:
    """Paths or URLs of the shards of a prepared dataset that hold samples, in manifest
    order."""
    return [shard["path"] for shard in fetch_manifest(location)["shards"] if shard["samples"]]


def shard_streams(urls: Iterable[str], skip: SkipCounter) -> Iterator[dict]:
    """``{"url", "stream"}`` for each shard, the stream closed once the next is asked for;
    a shard that does not open is counted and the next one opened."""
    for url in urls:
        try:
            stream = open_location(url, lambda detail, url=url: skip(
                "connection_retried", f"{url}: {detail}"))
        except (OSError, ValueError) as error:
            skip(type(error).__name__, f"{url}: {error}")
            continue
        try:
            yield {"url": url, "stream": stream}
        finally:
            stream.close()


def raw_samples(urls: Iterable[str], skip: SkipCounter) -> Iterator[dict]:
    """Tar members grouped into samples (``{"__key__", "__url__", "json", "mp4", ...}``);
    a shard that cannot be read (or whose connection is lost for good) is counted and the
    next one is read."""
    files = tar_file_expander(shard_streams(urls, skip), handler=skip.handler)
    return group_by_keys(files, handler=skip.handler)


def sample_where(sample: dict) -> str:
    """``<shard>: <key>``, how errors and skips name a sample."""
    return f"{sample.get('__url__', '?')}: {sample.get('__key__', '?')}"


@dataclass(frozen=True)
class ShardSample(SampleTiming):
    """A shard sample read but not opened: its mp4 bytes and decoded JSON member."""

    media: bytes
    meta: dict
    where: str

    def open_reader(self) -> ClipReader:
        """A reader on the sample's mp4, its audio windows read after a seek when the JSON
        member says the track allows it (:func:`~mmssl.shard_format.audio_seekable`)."""
        return ClipReader(self.media, seekable_audio=audio_seekable(self.meta))


def read_samples(samples: Iterable[dict], skip: SkipCounter, need_video: bool = True
                 ) -> Iterator[ShardSample]:
    """Raw samples → their JSON members decoded, the mp4s left unopened.

    A sample without both members, with JSON that does not decode, or — when
    ``need_video`` — with no frames by its JSON member, is skipped and counted by reason.
    """
    for sample in samples:
        where = sample_where(sample)
        try:
            read = ShardSample(sample[MEDIA_KEY], check_meta(decode_meta(sample[META_KEY])),
                               where)
        except (KeyError, ValueError) as error:
            skip(getattr(error, "reason", type(error).__name__), f"{where}: {error}")
            continue
        if need_video and not read.meta.get("num_frames"):
            skip("no_video_stream", where)
            continue
        yield read


def open_samples(samples: Iterable[dict], skip: SkipCounter, need_video: bool = True
                 ) -> Iterator[OpenSample]:
    """Raw samples → open samples (each closed again once the consumer moves on).

    A sample that cannot be read — bad JSON (:func:`read_samples`), an mp4 that does not
    open, no video stream when ``need_video`` — is skipped and counted by reason, and the
    stream goes on. Audio-only samples pass when ``need_video`` is false.
    """
    for sample in read_samples(samples, skip, need_video):
        try:
            reader = sample.open_reader()
        except MediaError as error:
            skip(error.reason, f"{sample.where}: {error}")
            continue
        if need_video and reader.video is None:
            reader.close()
            skip("no_video_stream", sample.where)
            continue
        with reader:
            yield OpenSample(reader, sample.meta, sample.where)


def open_dataset(directory: str, skip: SkipCounter, need_video: bool = True
                 ) -> Iterator[OpenSample]:
    """Every readable sample of a prepared dataset, in shard order, opened."""
    return open_samples(raw_samples(shard_paths(directory), skip), skip, need_video)


def read_metas(location: str, skip: SkipCounter | None = None) -> Iterator[dict]:
    """The JSON member of every sample of a prepared dataset (a directory or any location
    :func:`shard_paths` takes), in order, without reading any media. A shard that cannot be
    read, or a JSON member that does not decode or lacks a field readers need
    (:func:`~mmssl.shard_format.check_meta`), is counted in ``skip`` (default: a fresh
    counter) and reading goes on."""
    skip = skip if skip is not None else SkipCounter()
    for path in shard_paths(location):
        yield from shard_metas(path, skip)


def shard_metas(path: str, skip: SkipCounter) -> Iterator[dict]:
    """The JSON members of one shard, a local path or a URL (:func:`read_metas`, for one
    tar)."""
    for shard in shard_streams([path], skip):
        try:
            with tarfile.open(fileobj=shard["stream"], mode="r|*") as tar:
                for member in tar:
                    if member.name.endswith("." + META_KEY):
                        where = f"{path}: {member.name}"
                        try:
                            yield check_meta(decode_meta(tar.extractfile(member).read()))
                        except ValueError as error:
                            skip(getattr(error, "reason", type(error).__name__),
                                 f"{where}: {error}")
        except (OSError, tarfile.TarError) as error:
            skip(type(error).__name__, f"{path}: {error}")
