"""MIL-NCE's released model through ``mmssl convert milnce``: a state dict with the names
and shapes of ``s3d_howto100m.pth`` and a word list like ``s3d_dict.npy`` become a
checkpoint whose every weight is the released one, whose towers compute what the
reference computes, and which ``mmssl eval youcook2`` scores with MIL-NCE's protocol."""

import csv
import json
import re

import numpy as np
import pytest
import torch
import yaml
from released_layouts import (
    MILNCE_VOCAB,
    assert_in_place,
    milnce_layout,
    random_state,
    s3dg_video_layout,
)

from mmssl.checkpoint import CONFIG_NAME, load_checkpoint
from mmssl.cli import main
from mmssl.data.shards import read_metas
from mmssl.models import VIDEO_ENCODERS
from mmssl.models.weights import load_encoder_weights

pytestmark = pytest.mark.usefixtures("one_thread")
WORDS = ["cut", "the", "onion", "into", "pieces", "add", "salt", "the", "don't"]


def test_s3dg_has_the_released_names_and_shapes():
    mine = {key: tuple(value.shape) for key, value in VIDEO_ENCODERS.build("s3dg")
            .state_dict().items()}
    assert mine == s3dg_video_layout()
    assert len(milnce_layout()) == 537  # the whole released file: 530 + fc 2 + text 5


@pytest.fixture(scope="module")
def released(tmp_path_factory, tiny_shards):
    """(weights.pth, dict.npy, state): the released layout with random values; the word
    list holds a duplicate and every word of the synthetic YouCook2 sentences."""
    directory = tmp_path_factory.mktemp("milnce_release")
    state = random_state(milnce_layout(), seed=1)
    torch.save(state, directory / "s3d_howto100m.pth")
    sentences = [meta["texts"][0]["text"] for meta in read_metas(tiny_shards["youcook2"])]
    words = WORDS + sorted({w for s in sentences for w in re.findall(r"[\w']+", s)})
    np.save(directory / "s3d_dict.npy", np.array(words))
    return directory / "s3d_howto100m.pth", directory / "s3d_dict.npy", state, words


@pytest.fixture(scope="module")
def converted(released, tmp_path_factory):
    weights, dictionary, _, _ = released
    out = tmp_path_factory.mktemp("milnce_ckpt") / "ckpt"
    assert main(["convert", "milnce", "--weights", str(weights), "--dict", str(dictionary),
                 "--out", str(out)]) == 0
    return out


def test_every_released_weight_lands_in_its_place(released, converted):
    _, _, state, _ = released
    method, config, tokenizer = load_checkpoint(converted)
    assert_in_place(state, method.state_dict(), {
        "fc.": "spaces.heads.video.", "text_module.fc2.": "spaces.heads.text.",
        "text_module.fc1.": "towers.text.fc1.",
        "text_module.word_embd.": "towers.text.word_embd."}, rest="towers.video.")
    assert tokenizer.vocab_size == MILNCE_VOCAB
    assert (config.method, config.model.video_encoder, config.model.text_encoder) == (
        "milnce", "s3dg", "milnce_text")
    assert config.model.video_mean == (0.0, 0.0, 0.0) and config.model.video_std == (1.0,) * 3
    assert not config.loss.normalize and config.eval_protocol == "milnce"
    assert (config.data.clip_frames, config.data.crop_size, config.data.max_words) == (
        32, (224, 224), 30)


def reference_ids(sentence, words, max_words=30):
    """MIL-NCE's loader: regex words, unknown ones dropped, id = position + 1 (the last
    position of a word listed twice), zero-padded to max_words."""
    index = {word: i + 1 for i, word in enumerate(words)}
    ids = [index[w] for w in re.findall(r"[\w']+", sentence) if w in index][:max_words]
    return ids + [0] * (max_words - len(ids))


def test_text_tower_computes_the_reference_sentence_embedding(released, converted):
    _, _, state, words = released
    method, config, tokenizer = load_checkpoint(converted)
    sentences = ["cut the onion, don't add salt", "nothing known", "the " * 40]
    ids = tokenizer(sentences, config.data.max_words)
    assert ids.tolist() == [reference_ids(s, words) for s in sentences]
    embed, fc1 = state["text_module.word_embd.weight"], state["text_module.fc1.weight"]
    expected = torch.stack([  # max over all 30 positions, padding (row 0) included
        torch.relu(embed[torch.tensor(row)] @ fc1.T + state["text_module.fc1.bias"]).amax(0)
        for row in ids.tolist()]) @ state["text_module.fc2.weight"].T + state[
            "text_module.fc2.bias"]
    with torch.no_grad():
        torch.testing.assert_close(method.embed("text", ids)["vt"], expected,
                                   rtol=1e-5, atol=1e-5)


def test_video_tower_takes_frames_in_zero_one_and_projects_with_fc(released, converted):
    weights, _, state, _ = released
    method, _, _ = load_checkpoint(converted)
    encoder = VIDEO_ENCODERS.build("s3dg").eval()
    assert load_encoder_weights(encoder, weights, "video") == sorted(
        k for k in state if k.startswith(("fc.", "text_module.")))
    clip = torch.randint(0, 256, (2, 3, 8, 32, 32), dtype=torch.uint8)
    with torch.no_grad():
        expected = encoder(clip.float() / 255) @ state["fc.weight"].T + state["fc.bias"]
        torch.testing.assert_close(method.embed("video", clip)["vt"], expected,
                                   rtol=1e-5, atol=1e-5)


def test_batch_counters_may_be_missing_and_leftovers_are_errors(released, tmp_path):
    from mmssl.convert import convert_milnce

    weights, dictionary, state, _ = released
    old = {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}
    torch.save(old, tmp_path / "old.pth")  # weights saved before PyTorch 0.4.1
    convert_milnce(tmp_path / "old.pth", dictionary, tmp_path / "ckpt")
    torch.save({**state, "extra.weight": torch.zeros(2)}, tmp_path / "extra.pth")
    with pytest.raises(ValueError, match=r"unexpected \['towers.video.extra.weight'\]"):
        convert_milnce(tmp_path / "extra.pth", dictionary, tmp_path / "ckpt2")
    bad = dict(state, **{"fc.weight": torch.zeros(512, 1000)})
    torch.save(bad, tmp_path / "bad.pth")
    with pytest.raises(ValueError, match="spaces.heads.video.weight has shape"):
        convert_milnce(tmp_path / "bad.pth", dictionary, tmp_path / "ckpt3")


def test_eval_youcook2_scores_every_clip_list_row_with_milnce_protocol(
        converted, tiny_shards, tmp_path):
    """``mmssl eval youcook2`` on the converted checkpoint picks MIL-NCE's protocol by
    itself; every clip-list row is a clip, a row repeated included. (The config is cut to
    8 frames of 32×32 to keep CPU time small; S3D-G is fully convolutional.)"""
    config = yaml.safe_load((converted / CONFIG_NAME).read_text())
    config["data"].update(clip_frames=8, crop_size=[32, 32])
    (converted / CONFIG_NAME).write_text(yaml.safe_dump(config))
    metas = list(read_metas(tiny_shards["youcook2"]))
    rows = [{"end": m["end"], "start": m["start"], "task": 1, "text": m["texts"][0]["text"],
             "video_id": m["video_id"]} for m in metas]
    rows.append(dict(rows[0], text="a second sentence for the first clip"))
    with (tmp_path / "validation_youcook.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, ["end", "start", "task", "text", "video_id"])
        writer.writeheader()
        writer.writerows(rows)
    assert main(["eval", "youcook2", "--checkpoint", str(converted),
                 "--shards", str(tiny_shards["youcook2"]), "--windows=2", "--subset=",
                 "--clip-list", str(tmp_path / "validation_youcook.csv")]) == 0
    results = json.loads((converted / "eval_youcook2.json").read_text())
    assert results["protocol"]["name"] == "milnce"
    assert results["protocol"]["window_margin"] == 0.4
    assert results["protocol"]["clips"] == results["protocol"]["queries"] == len(rows)
    assert results["clip_list"]["found"] == len(rows)
    assert results["metrics"]["text->video"]["num_queries"] == len(rows)
