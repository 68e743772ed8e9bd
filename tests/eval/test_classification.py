"""Linear probes and zero-shot classification, end to end on COIN- and AudioSet-format
shards of the synthetic world, plus the probe's parts on known data."""

import json

import pytest
import torch

from mmssl.checkpoint import load_checkpoint
from mmssl.config import EvalConfig
from mmssl.eval.classification import (
    evaluate_classification,
    fine_tune_probe,
    fit_linear,
    linear_probe,
    prompts,
    standardize,
)
from mmssl.eval.classification_tasks import (
    TASKS,
    class_vocabulary,
    label_targets,
    read_class_names,
    words_of,
)
from mmssl.eval.evaluate import classify_checkpoint
from mmssl.eval.features import FeatureExtractor, SegmentFeatures
from mmssl.eval.report import format_classification


@pytest.fixture(scope="module")
def classified(eval_checkpoint, classification_shards):
    config = EvalConfig(coin_shards=str(classification_shards["coin"]),
                        audioset_shards=str(classification_shards["audioset"]),
                        audioset_class_names=str(classification_shards["audioset_labels"]),
                        probe_windows=2)
    return classify_checkpoint(eval_checkpoint, config), config


def test_every_probe_runs_and_reports_a_bounded_metric(classified, eval_checkpoint):
    results, _ = classified
    coin, audioset = results["coin"], results["audioset"]
    for task in ("coin_task", "coin_step"):
        for kind in ("linear", "zero_shot"):
            m = coin[kind][task]
            assert 0.0 <= m["top1"] <= 1.0 and 0.0 < m["chance"] < 1.0 and m["classes"] >= 2
    assert coin["linear"]["coin_task"]["classes"] == 6  # the synthetic COIN's six tasks
    assert coin["linear"]["coin_task"]["train_top1"] == 1.0  # separable by colour and shape
    for kind in ("linear", "zero_shot"):
        m = audioset[kind]["audioset"]
        assert 0.0 < m["mAP"] <= 1.0 and set(m["per_class"]) <= set(range(6))
    # Prompts come from the names: COIN task names in words, AudioSet display names.
    assert "stack red squares" in coin["zero_shot"]["coin_task"]["prompts"]
    assert "Whistle" in audioset["zero_shot"]["audioset"]["prompts"]
    written = json.loads((eval_checkpoint / "eval_classification.json").read_text())
    assert written["coin"]["linear"] == json.loads(json.dumps(coin["linear"]))
    assert "linear coin_task" in format_classification(results)


def test_audio_only_samples_are_kept_for_audioset(classified, classification_shards):
    results, _ = classified
    manifest = json.loads((classification_shards["audioset"] / "manifest.json").read_text())
    assert results["audioset"]["segments"] == manifest["total_samples"]  # none dropped
    assert results["audioset"]["skipped"] == {}


def test_a_method_without_audio_skips_audioset(eval_checkpoint, classification_shards):
    method, train_config, tokenizer = load_checkpoint(eval_checkpoint)
    method.modalities = ("video", "text")
    config = EvalConfig(audioset_shards=str(classification_shards["audioset"]))
    results, _ = evaluate_classification(method, train_config, tokenizer, config)
    assert "no audio tower" in results["audioset"]["not_run"]


def test_linear_probe_separates_separable_classes():
    generator = torch.Generator().manual_seed(0)
    centres = torch.randn(4, 16, generator=generator) * 4
    labels = torch.arange(80) % 4
    x = centres[labels] + torch.randn(80, 16, generator=generator)
    metas = [{"labels": {"subset": "training" if i < 60 else "testing", "task_id": int(y),
                         "task": f"Task{int(y)}"}} for i, y in enumerate(labels)]
    features = SegmentFeatures([str(i) for i in range(80)], metas, video={"features": x},
                               has_audio=torch.zeros(80, dtype=torch.bool))
    result = linear_probe(features, TASKS["coin_task"])
    assert result["top1"] == 1.0 and result["train_segments"] == 60
    assert result["chance"] == pytest.approx(0.25)


def test_multilabel_fit_recovers_independent_labels():
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(200, 3, generator=generator)
    y = torch.stack([x[:, 0] > 0, x[:, 1] > 0], dim=1).float()
    layer = fit_linear(x, y, multilabel=True, num_classes=2, weight_decay=1e-4)
    assert ((layer(x) > 0).float() == y).float().mean() > 0.97


def test_standardize_uses_train_statistics():
    train = torch.tensor([[1.0, 10.0], [3.0, 10.0]])
    test = torch.tensor([[2.0, 11.0]])
    a, b = standardize(train, test)
    torch.testing.assert_close(a, torch.tensor([[-1.0, 0.0], [1.0, 0.0]]))
    torch.testing.assert_close(b, torch.tensor([[0.0, 1e6]]))  # constant dim: σ clamped


def test_vocabulary_and_targets_from_shard_labels(classification_shards):
    names = read_class_names(classification_shards["audioset_labels"])
    metas = [{"labels": {"indices": [0, 2], "mids": ["a", "b"]}},
             {"labels": {"indices": [2], "mids": ["b"]}}]
    vocab = class_vocabulary(TASKS["audioset"], metas, names)
    assert vocab.ids == [0, 2] and vocab.names == [names[0], names[2]]
    assert label_targets(TASKS["audioset"], metas, vocab).tolist() == [[1, 1], [0, 1]]
    with pytest.raises(ValueError, match="no labels.task_id"):
        class_vocabulary(TASKS["coin_task"], [{"video_id": "x", "labels": {}}])


def test_names_and_prompts():
    assert words_of("ReplaceCDDriveWithSSD") == "replace cd drive with ssd"
    assert prompts(["whistle"], "the sound of a {}") == ["the sound of a whistle"]
    with pytest.raises(ValueError, match="no '{}'"):
        prompts(["x"], "no placeholder")


def test_fine_tuning_changes_the_encoder_and_scores_the_test_split(eval_checkpoint,
                                                                   classification_shards):
    method, train_config, tokenizer = load_checkpoint(eval_checkpoint)
    before = [p.detach().clone() for p in method.towers["video"].parameters()]
    extractor = FeatureExtractor(method, train_config.data, tokenizer, windows=2,
                                 levels=("backbone",))
    result = fine_tune_probe(extractor, str(classification_shards["coin"]), TASKS["coin_task"],
                             steps=3, batch_size=4, lr=1e-3)
    after = list(method.towers["video"].parameters())
    assert any(not torch.equal(a, b) for a, b in zip(after, before, strict=True))
    assert 0.0 <= result["top1"] <= 1.0 and result["classes"] == 6
    assert result["test_segments"] > 0 and result["fine_tune_steps"] == 3
