"""One tiny run of the whole path through the command line: synth → prep → train → eval
(retrieval, probes) → report."""

import json
import subprocess
import sys

import pytest
from safetensors.torch import load_file

TINY = [
    "--synth.howto_videos=6", "--synth.youcook_val_videos=3", "--synth.youcook_train_videos=0",
    "--synth.howto_seconds=[14, 16]", "--synth.youcook_seconds=[14, 16]",
    "--synth.coin_videos=4", "--synth.audioset_clips=6",
    "--prep.samples-per-shard", "2", "--train.data.batch_size=8", "--train.optim.max_steps=6",
    "--train.optim.warmup-steps=2", "--train.log_every", "2", "--train.data.num_workers=1",
    "--train.loss.weights.at=1.0", "--eval.windows=3",
]


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    result = subprocess.run([sys.executable, "-m", "mmssl.cli", "demo", "--out", str(out),
                             "--no-progress", *TINY], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return out, result.stdout


def test_every_stage_leaves_its_outputs(demo_run):
    out, stdout = demo_run
    summary = json.loads((out / "demo_summary.json").read_text())
    assert set(summary["seconds"]) == {"synth", "prep howto100m", "prep youcook2", "prep coin",
                                       "prep audioset", "train", "eval", "probes", "report"}
    assert summary["samples"]["coin"] >= 4 and summary["samples"]["audioset"] == 6
    assert summary["samples"]["howto100m"] == 6 and summary["samples"]["youcook2"] >= 3
    checkpoint = out / "run" / "checkpoint"
    weights = load_file(str(checkpoint / "model.safetensors"))
    assert any(name.startswith("towers.video.") for name in weights)
    assert (checkpoint / "config.yaml").is_file() and (checkpoint / "tokenizer.json").is_file()
    log = [json.loads(line) for line in (out / "run" / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [2, 4, 6]
    assert all(r["loss"] > 0 and {"loss_va", "loss_vt", "loss_at"} <= set(r) for r in log)
    assert all(r["skipped"] == {} for r in log)  # the synthetic world has no bad samples
    assert "text->video+audio" in stdout and "chance" in stdout


def test_eval_results_are_written_and_bounded(demo_run):
    out, _ = demo_run
    results = json.loads((out / "run" / "checkpoint" / "eval_youcook2.json").read_text())
    summary = json.loads((out / "demo_summary.json").read_text())
    clips = results["protocol"]["clips"]
    assert clips == summary["samples"]["youcook2"] and results["protocol"]["windows"] == 3
    for metrics in results["metrics"].values():
        assert 0.0 <= metrics["R@1"] <= metrics["R@5"] <= metrics["R@10"] <= 1.0
        assert 1.0 <= metrics["MedR"] <= clips and metrics["num_queries"] == clips


def test_eval_command_reproduces_the_demo_numbers(demo_run):
    out, _ = demo_run
    before = json.loads((out / "run" / "checkpoint" / "eval_youcook2.json").read_text())
    result = subprocess.run([sys.executable, "-m", "mmssl.cli", "eval", "youcook2",
                             "--checkpoint", str(out / "run" / "checkpoint"),
                             "--shards", str(out / "shards" / "youcook2"), "--windows", "3"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    after = json.loads((out / "run" / "checkpoint" / "eval_youcook2.json").read_text())
    assert after["metrics"] == before["metrics"]


def test_train_command_runs_a_shipped_config(demo_run, tmp_path):
    out, _ = demo_run
    result = subprocess.run(
        [sys.executable, "-m", "mmssl.cli", "train", "--config", "configs/synthetic_avlnet.yaml",
         f"--data.shards={out / 'shards' / 'howto100m'}", f"--output_dir={tmp_path}",
         "--data.batch_size=8", "--optim.max_steps=3", "--log_every=1", "--no-progress"],
        capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    log = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [1, 2, 3]
    assert {"loss_va", "loss_at", "loss_vt"} <= set(log[-1])  # AVLnet's pretraining terms
    assert (tmp_path / "checkpoint" / "model.safetensors").is_file()


def test_demo_writes_the_report_and_the_probes(demo_run):
    out, stdout = demo_run
    summary = json.loads((out / "demo_summary.json").read_text())
    report = out / "run" / "checkpoint" / "report"
    assert summary["report"] == str(report)
    assert {p.name for p in report.glob("*.png")} == {
        "recall_at_k.png", "similarity.png", "embedding_pca.png", "training_curves.png"}
    assert "COIN" in json.loads((report / "report.json").read_text())["figures"][
        "embedding_pca.png"]
    headline = summary["classification"]
    assert {"coin linear coin_task", "coin zero_shot coin_step", "audioset linear audioset",
            "audioset zero_shot audioset"} <= set(headline)
    assert 0.0 <= headline["audioset linear audioset"]["mAP"] <= 1.0
    assert set(summary["results_to_text"]) == {"video->text", "audio->text",
                                               "video+audio->text"}
    assert "linear coin_task" in stdout and "report.md" in stdout
