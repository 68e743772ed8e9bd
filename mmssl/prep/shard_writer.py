"""Writing one shard so that it is either complete under its final name or absent.

The tar is written under a name of its own writer, ``shard-NNNNNN.tar.<host>-<pid>-<random>
.partial``, and renamed when closed cleanly; the stats file is written after it the same
way. Readers treat a shard as complete only when both exist
(:func:`mmssl.shard_format.is_complete`), so killing the writer at any moment leaves
nothing that looks finished; and since no two writers share a partial name, two runs
converting the same shard at once (a rerun started while an orphaned worker of a killed
run still writes) cannot interleave their bytes: each renames a whole file, and both files
are the same bytes (shards are reproducible). Partial files left by writers that died on
this host are removed by the next writer of the same file.

The writer also counts the words of the samples' narrations (the stats' ``words``, see
:mod:`mmssl.shard_format`), so training builds its vocabulary without reading the tars.
"""

from __future__ import annotations

import io
import json
import os
import socket
import tarfile
import uuid
from collections import Counter
from pathlib import Path

from mmssl.shard_format import (
    MEMBER_MTIME,
    META_KEY,
    PARTIAL_SUFFIX,
    decode_meta,
    stats_path,
    words_of,
)


class ShardWriter:
    """Context manager: ``with ShardWriter(path) as w: w.write(sample)``; then
    :meth:`finish` with the stats dict makes the shard complete."""

    def __init__(self, tar_path: str | Path):
        self.tar_path = Path(tar_path)
        self.partial = partial_path(self.tar_path)
        self.samples = 0
        self.words: Counter[str] = Counter()
        self._writer = None
        self._handle = None

    def __enter__(self) -> ShardWriter:
        self.tar_path.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_partials(self.tar_path)
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
        if META_KEY in sample:
            self.words.update(narration_words(sample[META_KEY]))

    def finish(self, stats: dict) -> None:
        """Close the tar, move it into place, then write the stats file (completion mark)."""
        self._close()
        os.replace(self.partial, self.tar_path)
        stats = {**stats, "samples": self.samples, "bytes": self.tar_path.stat().st_size,
                 "words": dict(sorted(self.words.items()))}
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


def narration_words(raw_meta: bytes) -> Counter[str]:
    """Word counts of a JSON member's ``texts`` (none for a member that is not a sample's
    metadata: the writer writes what it is given)."""
    try:
        texts = decode_meta(raw_meta).get("texts") or []
    except (ValueError, AttributeError):  # not JSON, or not an object
        return Counter()
    return Counter(word for text in texts if isinstance(text, dict)
                   for word in words_of(str(text.get("text", ""))))


def partial_path(path: Path) -> Path:
    """``<path>.<host>-<pid>-<random>.partial``: a name no other writer uses."""
    owner = f"{_host()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    return path.with_name(f"{path.name}.{owner}{PARTIAL_SUFFIX}")


def remove_stale_partials(path: Path) -> None:
    """Remove the partial files of ``path`` whose writer was a process of this host that no
    longer runs (a writer elsewhere, or alive, keeps its file)."""
    prefix = path.name + "."
    for partial in path.parent.glob(f"{path.name}.*{PARTIAL_SUFFIX}"):
        owner = partial.name[len(prefix):-len(PARTIAL_SUFFIX)]
        host, _, rest = owner.rpartition("-")[0].rpartition("-")
        pid = rest if rest.isdigit() else ""
        if host == _host() and pid and not _alive(int(pid)):
            partial.unlink(missing_ok=True)


def _host() -> str:
    return socket.gethostname().replace("/", "_")


def _alive(pid: int) -> bool:
    """Whether process ``pid`` runs (a zombie, dead but not yet reaped, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    status = Path(f"/proc/{pid}/stat")
    try:  # Linux: the state follows the command name in parentheses
        return status.read_text().rpartition(")")[2].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def write_json_atomic(path: str | Path, data) -> None:
    """Write JSON to a partial file of this writer, then rename it over ``path``."""
    path = Path(path)
    remove_stale_partials(path)
    partial = partial_path(path)
    with open(partial, "w") as handle:
        json.dump(data, handle, indent=1, sort_keys=True)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(partial, path)
