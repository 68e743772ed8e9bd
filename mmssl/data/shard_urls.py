"""Opening shards and manifests wherever they are, as WebDataset names them.

A location (``mmssl.shard_format.read_manifest``) is a local path, an ``http(s)://`` URL, a
``pipe:`` command that writes the file to its standard output (``pipe:curl -s URL``,
``pipe:aws s3 cp s3://bucket/key -``), or any other ``scheme://`` URL that fsspec opens
when its package for the scheme is installed (``s3://`` with s3fs, ``gs://`` with gcsfs).

HTTP is read as a stream with a timeout on every socket operation; a connection that
drops or stalls mid-file is reopened where it stopped (``Range: bytes=N-``; a server that
ignores ranges is read again from the start and the first N bytes dropped), at most
``retries`` times with a growing pause, and each reopening is reported (``on_retry``: the
readers count it with the skipped samples). When the retries run out the read fails, and
the readers skip the rest of that shard and count it. Nothing waits forever.
"""

from __future__ import annotations

import http.client
import io
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import BinaryIO

from webdataset.gopen import gopen_pipe

from mmssl.shard_format import is_url, read_manifest

TIMEOUT_S = 60.0  # seconds any one socket operation may take
RETRIES = 5  # reopenings of one file before its read fails
PAUSE_S = 0.5  # pause before reopening k: k × PAUSE_S
_DROPS = (OSError, http.client.HTTPException)  # socket errors, timeouts, URLError, ...


class HTTPStream(io.RawIOBase):
    """A read-only stream of the body at ``url`` that reopens a dropped connection where
    it stopped (see the module doc)."""

    def __init__(self, url: str, timeout: float | None = None, retries: int | None = None,
                 on_retry: Callable[[str], None] | None = None):
        super().__init__()
        self.url = url
        self.timeout = TIMEOUT_S if timeout is None else timeout
        self.retries = RETRIES if retries is None else retries
        self.on_retry = on_retry or (lambda detail: None)
        self.offset, self.length = 0, None
        self.lost: OSError | None = None  # once given up, every later read fails at once
        self.response = self._open(0)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self.lost is not None:
            raise self.lost
        for attempt in range(self.retries + 1):
            try:
                count = self.response.readinto(buffer)
                if count == 0 and self.length is not None and self.offset < self.length:
                    raise http.client.IncompleteRead(b"", self.length - self.offset)
                self.offset += count
                return count
            except _DROPS as error:
                if attempt == self.retries:
                    self.lost = OSError(f"{self.url}: connection lost at byte {self.offset} "
                                        f"after {self.retries} retries: {error}")
                    raise self.lost from error
                self.on_retry(f"connection lost at byte {self.offset}: {error!r}")
                time.sleep(PAUSE_S * (attempt + 1))
                self._reopen()
        raise AssertionError("unreachable")

    def _reopen(self) -> None:
        """Open the body again from ``offset`` (a failure here uses up the next retry)."""
        self.response.close()
        try:
            self.response = self._open(self.offset)
        except _DROPS as error:
            self.response = _Failed(error)

    def _open(self, offset: int):
        request = urllib.request.Request(self.url)
        if offset:
            request.add_header("Range", f"bytes={offset}-")
        response = urllib.request.urlopen(request, timeout=self.timeout)
        if offset and response.status != 206:  # no ranges: read to where we were
            _discard(response, offset)
        elif not offset and response.headers.get("Content-Length"):
            self.length = int(response.headers["Content-Length"])
        return response

    def close(self) -> None:
        if not self.closed:
            self.response.close()
        super().close()


class _Failed:
    """Stands for a connection that could not be reopened: its next read raises."""

    def __init__(self, error: Exception):
        self.error = error

    def readinto(self, buffer) -> int:
        raise self.error

    def close(self) -> None:
        pass


def _discard(response, count: int) -> None:
    while count:
        chunk = response.read(min(count, 1 << 20))
        if not chunk:
            raise http.client.IncompleteRead(b"", count)
        count -= len(chunk)


def open_location(location: str, on_retry: Callable[[str], None] | None = None
                  ) -> BinaryIO:
    """A binary stream of the file at ``location`` (see the module doc)."""
    if location.startswith("pipe:"):
        return gopen_pipe(location)
    if location.startswith(("http://", "https://")):
        return io.BufferedReader(HTTPStream(location, on_retry=on_retry), 1 << 16)
    if is_url(location):
        try:
            import fsspec
        except ImportError as error:
            raise ValueError(f"{location}: reading {location.split(':')[0]}:// URLs needs "
                             "fsspec and its package for the scheme (e.g. pip install "
                             "fsspec s3fs)") from error
        return fsspec.open(location, "rb").open()
    return open(location, "rb")


def read_location(location: str) -> bytes:
    """The whole file at ``location``; a failure is an :class:`OSError` naming it."""
    try:
        with open_location(location) as stream:
            return stream.read()
    except (TimeoutError, urllib.error.URLError) as error:
        raise OSError(f"{location}: {error}") from error


def fetch_manifest(location: str) -> dict:
    """:func:`mmssl.shard_format.read_manifest` for local and remote locations alike."""
    return read_manifest(location, read=read_location)
