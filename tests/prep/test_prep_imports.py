"""Prep stays light: converting never imports torch (a fresh ``mmssl prep`` process would
spend seconds of CPU loading it), and the shard writer that does without webdataset writes
exactly the tar bytes webdataset's ``TarWriter`` writes."""

import hashlib
import io
import subprocess
import sys

import webdataset as wds

from mmssl.prep.shard_writer import ShardWriter
from mmssl.shard_format import MEMBER_MTIME


def test_prep_does_not_import_torch():
    code = ("import sys, mmssl.prep.runner, mmssl.prep.howto100m, mmssl.prep.youcook2, "
            "mmssl.prep.coin, mmssl.prep.audioset; "
            "print(sorted(m for m in ('torch', 'webdataset') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "[]"


def test_shard_bytes_equal_webdataset_tarwriter(tmp_path):
    samples = [{"__key__": f"video{i}_000001000", "mp4": bytes(range(256)) * (i + 3),
                "json": b'{"texts": []}', "txt": b"x" * 700} for i in range(4)]
    expected = io.BytesIO()
    with wds.TarWriter(expected, mtime=MEMBER_MTIME) as writer:
        for sample in samples:
            writer.write(sample)
    path = tmp_path / "shard-000000.tar"
    with ShardWriter(path) as writer:
        for sample in samples:
            writer.write(sample)
        writer.finish({})
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert digest == hashlib.sha256(expected.getvalue()).hexdigest()
