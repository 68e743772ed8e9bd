"""Zero-shot retrieval end to end on the tiny world: both directions, clip lists with
missing clips, the in-memory variant, and every metric recomputed by brute force from the
embeddings the protocol produced."""

import json

import numpy as np
import pytest
import torch

from mmssl.checkpoint import load_checkpoint
from mmssl.config import EvalConfig
from mmssl.data.candidates import window_starts
from mmssl.data.shards import SkipCounter, open_dataset
from mmssl.eval.evaluate import evaluate_youcook2
from mmssl.eval.features import FeatureExtractor, segment_duration
from mmssl.eval.report import format_table
from mmssl.eval.retrieval import (
    DIRECTIONS,
    REVERSE,
    build_retrieval_set,
    evaluate_retrieval,
    retrieval_results,
    score_matrices,
)


def brute_ranks(scores: np.ndarray, true_cols: list[set]) -> list[int]:
    """Per row: how many non-true columns score >= the best true column."""
    out = []
    for row, trues in zip(scores, true_cols, strict=True):
        best = max(row[j] for j in trues)
        out.append(sum(1 for j, s in enumerate(row) if j not in trues and s >= best))
    return out


@pytest.fixture(scope="module")
def loaded(eval_checkpoint):
    return load_checkpoint(eval_checkpoint)


def test_checkpoint_eval_writes_both_directions(eval_checkpoint, tiny_shards):
    config = EvalConfig(shards=str(tiny_shards["youcook2"]), windows=2)
    results = evaluate_youcook2(eval_checkpoint, config, progress=False)
    assert set(results["metrics"]) == set(DIRECTIONS)
    assert set(results["metrics_to_text"]) == {REVERSE[d] for d in DIRECTIONS}
    written = json.loads((eval_checkpoint / "eval_youcook2.json").read_text())
    assert written["metrics"] == results["metrics"]
    assert (eval_checkpoint / "eval_youcook2_arrays.safetensors").is_file()
    clips = results["protocol"]["clips"]
    assert clips >= 3 and results["protocol"]["queries"] == clips
    table = format_table(results)
    assert "video->text" in table and "VideoCLIP" in table and "chance" in table


def test_metrics_equal_brute_force_on_the_protocol_embeddings(loaded, tiny_shards):
    method, train_config, tokenizer = loaded
    extractor = FeatureExtractor(method, train_config.data, tokenizer, windows=2)
    data = build_retrieval_set(extractor, EvalConfig(shards=str(tiny_shards["youcook2"])))
    metrics, ranks = retrieval_results(data)
    n = len(data.clips)
    for name, scores in score_matrices(data).items():
        s = scores.numpy().astype(np.float64)
        forward = brute_ranks(s, [{t} for t in data.targets.tolist()])
        assert ranks[name].tolist() == forward
        owners = [{q for q, t in enumerate(data.targets.tolist()) if t == c} for c in range(n)]
        assert ranks[REVERSE[name]].tolist() == brute_ranks(s.T, owners)
        assert metrics[name]["R@1"] == pytest.approx(np.mean(np.array(forward) < 1))
    # text→video+audio is AVLnet's sum: the sum of the two score matrices.
    scores = score_matrices(data)
    torch.testing.assert_close(scores["text->video+audio"],
                               scores["text->video"] + scores["text->audio"])


def test_window_average_is_the_mean_of_window_embeddings(loaded, tiny_shards):
    method, train_config, tokenizer = loaded
    extractor = FeatureExtractor(method, train_config.data, tokenizer, windows=3)
    features = extractor.extract(str(tiny_shards["youcook2"]), ("video",))

    samples = open_dataset(str(tiny_shards["youcook2"]), SkipCounter(), True)
    sample = next(samples)  # open while ``samples`` is alive
    starts = window_starts(segment_duration(sample), extractor.cutter.clip_seconds(sample.fps), 3)
    with torch.no_grad():
        windows = [method.embed("video", extractor.cutter.video(sample, s)[None])["vt"][0]
                   for s in starts]
    torch.testing.assert_close(features.video["vt"][0], torch.stack(windows).mean(0))


def test_clip_list_reports_missing_clips_and_uses_its_texts(loaded, tiny_shards, tmp_path):
    method, train_config, tokenizer = loaded
    base = EvalConfig(shards=str(tiny_shards["youcook2"]), windows=2)
    full, _ = evaluate_retrieval(method, train_config, tokenizer, base)
    extractor = FeatureExtractor(method, train_config.data, tokenizer, windows=2)
    data = build_retrieval_set(extractor, base)
    metas = data.clips.metas
    rows = ["end,start,task,text,video_id"]
    for meta in metas[:3]:  # three real clips, with a duplicated caption
        rows.append(f"{meta['end']},{meta['start'] + 0.05},1,same words for both,"
                    f"{meta['video_id']}")
    rows.append(f"{metas[0]['end']},{metas[0]['start']},1,a second caption,"
                f"{metas[0]['video_id']}")
    rows.append("20.0,10.0,1,never downloaded,NOSUCHVIDEO")
    rows.append(f"900.0,800.0,1,no such segment,{metas[0]['video_id']}")
    (tmp_path / "clips.csv").write_text("\n".join(rows) + "\n")
    config = EvalConfig(shards=base.shards, windows=2, clip_list=str(tmp_path / "clips.csv"))
    results, arrays = evaluate_retrieval(method, train_config, tokenizer, config)
    summary = results["clip_list"]
    assert summary["listed"] == 6 and summary["found"] == 4
    assert summary["missing"] == {"missing_video": 1, "missing_segment": 1}
    # Every row is a clip of its own (MIL-NCE's eval_youcook.py), rows 0 and 3 naming the
    # same segment included.
    assert results["protocol"]["clips"] == 4 and results["protocol"]["queries"] == 4
    assert results["metrics"]["text->video"]["num_queries"] == 4
    assert results["metrics_to_text"]["video->text"]["num_queries"] == 4
    assert "missing" in format_table(results)
    # Identical captions tie: for clips 1 and 2 (whose caption is the shared one), the two
    # other copies score exactly as high, so video->text ranks them at least 2; and clips
    # 0 and 3 are one segment, so each of their queries ranks the other's clip ahead.
    to_text = arrays["tensors"]["ranks/video->text"].tolist()
    assert to_text[1] >= 2 and to_text[2] >= 2
    to_video = arrays["tensors"]["ranks/text->video"].tolist()
    assert to_video[0] >= 1 and to_video[3] >= 1
    assert full["protocol"]["clips"] == len(metas)


def test_method_without_text_tower_is_refused(tiny_shards, loaded):
    method, train_config, tokenizer = loaded
    method.modalities = ("video",)  # an instance attribute shadows the class's
    try:
        with pytest.raises(ValueError, match="no text tower"):
            evaluate_retrieval(method, train_config, tokenizer,
                               EvalConfig(shards=str(tiny_shards["youcook2"])))
    finally:
        del method.modalities
