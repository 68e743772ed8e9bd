"""A shard is complete only when its tar and stats are both in place; a writer killed
mid-write (a real SIGKILL) leaves nothing that looks complete, and a re-run finishes it."""

import json
import os
import signal
import subprocess
import sys
import tarfile
import textwrap
import time

import pytest

from mmssl.prep.shard_writer import ShardWriter
from mmssl.shard_format import is_complete, stats_path

SLOW_WRITER = textwrap.dedent("""
    import sys, time
    from mmssl.prep.shard_writer import ShardWriter
    with ShardWriter(sys.argv[1]) as writer:
        for index in range(1000):
            writer.write({"__key__": f"k{index:04d}", "bin": b"x" * 100_000})
            if index == 3:
                print("writing", flush=True)
            time.sleep(0.01)
        writer.finish({"shard": "s"})
""")


def test_finished_shard_is_complete_and_readable(tmp_path):
    path = tmp_path / "shard-000000.tar"
    with ShardWriter(path) as writer:
        for index in range(3):
            writer.write({"__key__": f"k{index}", "txt": f"sample {index}".encode()})
        writer.finish({"shard": path.name})
    assert is_complete(path)
    assert not list(tmp_path.glob("*.partial"))
    stats = json.loads(stats_path(path).read_text())
    assert stats["samples"] == 3 and stats["bytes"] == path.stat().st_size
    with tarfile.open(path) as tar:
        assert sorted(tar.getnames()) == ["k0.txt", "k1.txt", "k2.txt"]


def test_exception_inside_writer_leaves_no_shard(tmp_path):
    path = tmp_path / "shard-000000.tar"
    with pytest.raises(RuntimeError), ShardWriter(path) as writer:
        writer.write({"__key__": "k0", "txt": b"a"})
        raise RuntimeError("converter crashed")
    assert not path.exists() and not stats_path(path).exists()
    assert not list(tmp_path.iterdir())


@pytest.mark.multiprocess
def test_sigkill_mid_write_is_not_complete_and_rerun_completes(tmp_path):
    path = tmp_path / "shard-000000.tar"
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    child = subprocess.Popen([sys.executable, "-c", SLOW_WRITER, str(path)],
                             stdout=subprocess.PIPE, env=env, text=True)
    assert child.stdout.readline().strip() == "writing"
    time.sleep(0.1)
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=10)
    (partial,) = tmp_path.glob(f"{path.name}.*-{child.pid}-*.partial")  # named by its writer
    assert partial.stat().st_size > 0
    assert not path.exists() and not is_complete(path)

    with ShardWriter(path) as writer:  # a re-run redoes the shard from scratch
        assert not partial.exists()  # its writer is dead: the next writer removes it
        writer.write({"__key__": "k0", "txt": b"again"})
        writer.finish({"shard": path.name})
    assert is_complete(path) and not list(tmp_path.glob("*.partial"))


def test_two_writers_of_one_shard_never_share_a_file(tmp_path):
    """A rerun converting a shard while an orphaned writer of a killed run still writes it:
    each writes its own partial file and renames a whole tar into place."""
    path = tmp_path / "shard-000000.tar"
    samples = [{"__key__": f"k{index}", "txt": f"sample {index}".encode()} for index in range(4)]
    with ShardWriter(path) as first, ShardWriter(path) as second:
        assert first.partial != second.partial and first.partial.exists()
        for sample in samples:  # interleaved, as two processes would
            first.write(sample)
            second.write(sample)
        first.finish({"shard": path.name})
        written = path.read_bytes()
        second.finish({"shard": path.name})
    assert path.read_bytes() == written and is_complete(path)
    with tarfile.open(path) as tar:
        assert tar.getnames() == [f"k{index}.txt" for index in range(4)]
    assert not list(tmp_path.glob("*.partial"))


def test_stats_count_the_words_of_the_narrations(tmp_path):
    path = tmp_path / "shard-000000.tar"
    metas = [{"texts": [{"start": 0, "end": 1, "text": "Cut the onion."},
                        {"start": 1, "end": 2, "text": "the ONION, finely"}]},
             {"texts": []}]
    with ShardWriter(path) as writer:
        for index, meta in enumerate(metas):
            writer.write({"__key__": f"k{index}", "json": json.dumps(meta).encode()})
        writer.write({"__key__": "k9", "json": b"not json"})  # counted as no words
        writer.finish({"shard": path.name})
    words = json.loads(stats_path(path).read_text())["words"]
    assert words == {"cut": 1, "the": 2, "onion": 2, ".": 1, ",": 1, "finely": 1}


def test_tar_without_stats_is_incomplete(tmp_path):
    path = tmp_path / "shard-000000.tar"
    path.write_bytes(b"")
    assert not is_complete(path)
