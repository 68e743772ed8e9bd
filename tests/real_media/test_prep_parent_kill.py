"""``kill -9`` of the prep parent alone (its pool workers are not signalled): the workers
die with it, a rerun started at once completes with its manifest, and its shards are those
of a clean run."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import shard_bytes
from real_sources import SECONDS, SOURCES, narrations, video_list

from mmssl.config import PrepConfig
from mmssl.prep import howto100m
from mmssl.shard_format import MANIFEST_NAME, read_manifest, stats_path

pytestmark = pytest.mark.multiprocess

VIDEOS = 12
PREP = PrepConfig(samples_per_shard=1, workers=2)


def children(pid: int) -> list[int]:
    """The processes ``pid`` started (Linux /proc)."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(child) for child in (task / "children").read_text().split()]
    return found


def running(pid: int) -> bool:
    """Alive and not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_killing_the_parent_alone_ends_its_workers_and_a_rerun_completes(real_world,
                                                                        tmp_path):
    ids = [f"video{index:06d}" for index in range(VIDEOS)]
    captions = tmp_path / "caption.json"
    captions.write_text(json.dumps({video_id: narrations(SECONDS) for video_id in ids}))
    videos = video_list(tmp_path / "videos.csv", {
        video_id: real_world["videos"] / SOURCES[index % len(SOURCES)].name
        for index, video_id in enumerate(ids)})
    clean = howto100m.prepare(captions, videos, tmp_path / "clean", PREP, progress=False)
    assert len(clean["shards"]) == VIDEOS

    out = tmp_path / "killed"
    command = [sys.executable, "-m", "mmssl.prep.howto100m", "--captions", str(captions),
               "--videos", videos, "--out", str(out), "--samples-per-shard", "1",
               "--workers", "2"]
    parent = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while not stats_path(out / "shard-000000.tar").exists() and time.time() < deadline:
        time.sleep(0.01)
    workers = children(parent.pid)
    os.kill(parent.pid, signal.SIGKILL)  # the parent only: no process group, no clean-up
    parent.wait(timeout=10)
    assert len(workers) == 2 and not (out / MANIFEST_NAME).exists()
    rerun = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    deadline = time.time() + 10
    while any(running(pid) for pid in workers) and time.time() < deadline:
        time.sleep(0.05)
    assert not any(running(pid) for pid in workers), "orphaned workers still converting"
    _, stderr = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, stderr.decode()[-2000:]
    assert read_manifest(out)["total_samples"] == clean["total_samples"] == VIDEOS
    assert shard_bytes(out) == shard_bytes(tmp_path / "clean")
    assert not list(out.glob("*.partial"))
