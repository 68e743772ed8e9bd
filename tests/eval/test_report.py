"""The report: JSON, Markdown and PNG plots next to the checkpoint, redrawn by
``mmssl report RUN_DIR`` from the saved results alone."""

import json

import numpy as np
import pytest
from PIL import Image

from mmssl.cli import main
from mmssl.config import EvalConfig
from mmssl.eval.evaluate import evaluate_checkpoint
from mmssl.eval.report import pca_2d, write_report

FIGURES = {"recall_at_k.png", "similarity.png", "embedding_pca.png", "training_curves.png"}


@pytest.fixture(scope="module")
def evaluated(eval_checkpoint, tiny_shards, classification_shards):
    config = EvalConfig(shards=str(tiny_shards["youcook2"]), windows=2,
                        coin_shards=str(classification_shards["coin"]), probe_windows=2)
    return evaluate_checkpoint(eval_checkpoint, config)


def test_report_holds_metrics_tables_and_plots(evaluated, eval_checkpoint):
    report_dir = eval_checkpoint / "report"
    assert evaluated["report"] == str(report_dir)
    report = json.loads((report_dir / "report.json").read_text())
    assert set(report["figures"]) == FIGURES
    assert report["retrieval"]["metrics"] == evaluated["retrieval"]["metrics"]
    assert report["classification"]["coin"]["linear"]["coin_task"]["classes"] == 6
    assert "MIL-NCE (Miech 2020)" in report["published_t2v"]
    for name in FIGURES:
        with Image.open(report_dir / name) as image:
            assert image.size[0] > 300 and image.size[1] > 200
            assert np.asarray(image.convert("L")).std() > 5  # something was drawn
    markdown = (report_dir / "report.md").read_text()
    assert "video->text" in markdown and "linear coin_task" in markdown
    assert all(f"]({name})" in markdown for name in FIGURES)


def test_report_command_redraws_from_the_run_directory(evaluated, eval_checkpoint):
    report_dir = eval_checkpoint / "report"
    for name in FIGURES:
        (report_dir / name).unlink()
    assert main(["report", str(eval_checkpoint.parent)]) == 0  # the command, in-process
    assert {p.name for p in report_dir.glob("*.png")} == FIGURES


def test_report_without_results_says_what_to_run(tmp_path):
    (tmp_path / "checkpoint").mkdir()
    with pytest.raises(FileNotFoundError, match="run `mmssl eval` first"):
        write_report(tmp_path)


def test_pca_finds_the_direction_of_largest_variance():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 5)) * np.array([10.0, 3.0, 0.1, 0.1, 0.1])
    points = pca_2d(x)
    assert np.var(points[:, 0]) == pytest.approx(np.var(x[:, 0]), rel=0.1)
    assert np.var(points[:, 1]) == pytest.approx(np.var(x[:, 1]), rel=0.2)
