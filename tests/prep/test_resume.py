"""Killing a conversion at any moment and running it again yields exactly the samples of a
clean run: none lost, none duplicated."""

import os
import signal
import subprocess
import sys
import time

import pytest
from helpers import shard_bytes

from mmssl.config import PrepConfig
from mmssl.prep import youcook2
from mmssl.shard_format import is_complete, stats_path

pytestmark = pytest.mark.multiprocess

PREP = PrepConfig(samples_per_shard=2, workers=1)


def test_sigkill_mid_run_then_rerun_equals_clean_run(tiny_world, tmp_path):
    annotations = tiny_world / "youcook2" / "youcookii_annotations_trainval.json"
    videos = tiny_world / "youcook2" / "videos"
    clean = youcook2.prepare(annotations, videos, tmp_path / "clean", PREP, ("validation",),
                             progress=False)
    assert len(clean["shards"]) >= 3

    out = tmp_path / "killed"
    command = [sys.executable, "-m", "mmssl.prep.youcook2", "--annotations", str(annotations),
               "--videos", str(videos), "--out", str(out), "--subset", "validation",
               "--samples-per-shard", "2", "--workers", "1"]
    child = subprocess.Popen(command, env={**os.environ, "PYTHONPATH": os.getcwd()},
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)
    deadline = time.time() + 60
    while not stats_path(out / "shard-000000.tar").exists() and time.time() < deadline:
        time.sleep(0.02)
    os.killpg(child.pid, signal.SIGKILL)  # the pool's worker processes too
    child.wait(timeout=10)
    finished = [p for p in out.glob("shard-*.tar") if is_complete(p)]
    assert finished and len(finished) < len(clean["shards"]), "killed mid-way"
    assert not (out / "manifest.json").exists()

    resumed = youcook2.prepare(annotations, videos, out, PREP, ("validation",), progress=False)
    assert resumed["shards"] == clean["shards"]
    assert resumed["total_samples"] == clean["total_samples"]
    assert shard_bytes(out) == shard_bytes(tmp_path / "clean")
    assert not list(out.glob("*.partial"))
