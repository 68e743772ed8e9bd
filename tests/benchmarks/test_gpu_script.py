"""benchmarks/gpu.py, the GPU training benchmark, runs end to end in its tiny CPU mode:
the real loader and held batches feed the same bf16 step, and every figure it reports is
there (the GPU figures themselves come from running it on a GPU)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.multiprocess
def test_gpu_benchmark_runs_in_its_cpu_mode(tiny_shards, tmp_path):
    out = tmp_path / "gpu.json"
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gpu.py"), "--cpu-tiny",
                    f"--shards={tiny_shards['howto100m']}", "--configs", "milnce", "clip",
                    "--variants", "eager", "channels_last", "--steps=1", "--warmup=1",
                    f"--json={out}"], check=True, cwd=tmp_path, timeout=600,
                   env={**os.environ, "OMP_NUM_THREADS": "1"})
    record = json.loads(out.read_text())
    assert record["cpu_tiny"] and record["milnce_video_encoder"] in ("s3dg", "s3d")
    rows = {(r["config"], r["source"], r["variant"]): r for r in record["rows"]}
    assert set(rows) == {(c, "memory", v) for c in ("milnce", "clip")
                         for v in ("eager", "channels_last")} | {
                             (c, "loader", "eager") for c in ("milnce", "clip")}
    for row in rows.values():
        assert row["steps_per_s"] > 0 and row["clips_per_s"] > 0 and row["peak_gib"] > 0
        assert 0 <= row["data_wait_fraction"] < 1
    for config in ("milnce", "clip"):
        fed = rows[(config, "loader", "eager")]
        assert fed["workers"] == 1 and fed["decode_clips_per_core_s"] > 0
        assert fed["decode_cores_per_gpu"] > 0
    assert record["chunked_loss"]["global_batch"] == 256 and record["chunked_loss"]["seconds"] > 0
