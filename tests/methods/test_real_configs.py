"""The real-data method configs (``configs/`` other than ``synthetic_*`` and the papers'
encoder demo) resolve, build their method and plan their data with ``--dry-run``: their
shard directory replaced by the tiny world's, everything else as shipped."""

from pathlib import Path

import pytest
import yaml

from mmssl.train import main

pytestmark = pytest.mark.slow  # builds real-size encoders

CONFIGS = Path(__file__).parents[2] / "configs"
REAL = ["howto100m_moco.yaml", "coin_supcon.yaml"]


@pytest.mark.parametrize("name", REAL)
def test_real_config_dry_run(name, tiny_shards, classification_shards, tmp_path, capsys):
    shipped = yaml.safe_load((CONFIGS / name).read_text())
    shards = classification_shards["coin"] if shipped["data"].get("label_key") \
        else tiny_shards["howto100m"]
    report = main(["--config", str(CONFIGS / name), "--dry-run", f"--data.shards={shards}",
                   f"--output_dir={tmp_path}", "--data.num_workers=1"])
    printed = capsys.readouterr().out
    assert shipped["method"] in printed and report["parameters"]
