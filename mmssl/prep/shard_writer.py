"""Writing one shard so that it is either complete under its final name or absent.

The tar is written as ``shard-NNNNNN.tar.partial`` and renamed when closed cleanly; the
stats file is written after it the same way. Readers treat a shard as complete only when
both exist (:func:`mmssl.shard_format.is_complete`), so killing the writer at any moment
leaves nothing that looks finished.
"""

from __future__ import annotations

import io
import json
import os
import tarfile
from pathlib import Path

from mmssl.shard_format import MEMBER_MTIME, PARTIAL_SUFFIX, stats_path


class ShardWriter:
    """Context manager: ``with ShardWriter(path) as w: w.write(sample)``; then
    :meth:`finish` with the stats dict makes the shard complete."""

    def __init__(self, tar_path: str | Path):
        self.tar_path = Path(tar_path)
        self.partial = self.tar_path.with_name(self.tar_path.name + PARTIAL_SUFFIX)
        self.samples = 0
        self._writer = None
        self._handle = None

    def __enter__(self) -> ShardWriter:
        self.tar_path.parent.mkdir(parents=True, exist_ok=True)
        for stale in (self.tar_path, stats_path(self.tar_path)):
            stale.unlink(missing_ok=True)  # an incomplete shard is redone from scratch
        self._handle = open(self.partial, "wb")
        self._writer = tarfile.open(fileobj=self._handle, mode="w|")
        return self

    def write(self, sample: dict) -> None:
        """Add a sample ``{"__key__": key, ext: bytes, ...}``: one member ``key.ext`` per
        extension, in sorted order, as webdataset's ``TarWriter`` writes them (the same
        bytes; webdataset itself is not imported, since it brings torch into every prep
        run)."""
        key = sample["__key__"]
        for extension in sorted(k for k in sample if not k.startswith("_")):
            data = sample[extension]
            member = tarfile.TarInfo(f"{key}.{extension}")
            member.size, member.mtime, member.mode = len(data), MEMBER_MTIME, 0o444
            member.uname = member.gname = "bigdata"
            self._writer.addfile(member, io.BytesIO(data))
        self.samples += 1

    def finish(self, stats: dict) -> None:
        """Close the tar, move it into place, then write the stats file (completion mark)."""
        self._close()
        os.replace(self.partial, self.tar_path)
        stats = {**stats, "samples": self.samples, "bytes": self.tar_path.stat().st_size}
        write_json_atomic(stats_path(self.tar_path), stats)

    def __exit__(self, exc_type, exc, tb) -> None:
        if self._writer is not None:
            self._close()
        if exc_type is not None:
            self.partial.unlink(missing_ok=True)

    def _close(self) -> None:
        self._writer.close()
        self._handle.flush()
        os.fsync(self._handle.fileno())
        self._handle.close()
        self._writer = None


def write_json_atomic(path: str | Path, data) -> None:
    """Write JSON to ``path.partial`` then rename it over ``path``."""
    path = Path(path)
    partial = path.with_name(path.name + PARTIAL_SUFFIX)
    with open(partial, "w") as handle:
        json.dump(data, handle, indent=1, sort_keys=True)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(partial, path)
