"""``mmssl embed``: embeddings of segments and sentences exported with their keys."""

import json

import numpy as np
import torch
from safetensors import safe_open

from mmssl.checkpoint import load_checkpoint
from mmssl.cli import main
from mmssl.data.shards import read_metas
from mmssl.eval.embed import embed_sentences, embed_shards, write_embeddings


def test_shard_segments_to_safetensors_and_npy(eval_checkpoint, tiny_shards, tmp_path):
    keys, arrays = embed_shards(eval_checkpoint, str(tiny_shards["youcook2"]), windows=2)
    assert {"video.vt", "video.va", "audio.at", "audio.va", "text.vt"} <= set(arrays)
    assert len(set(keys)) == len(keys) and all("@" in key for key in keys)
    path = write_embeddings(tmp_path / "yc2.safetensors", keys, arrays, "yc2")
    with safe_open(str(path), framework="pt") as handle:
        assert json.loads(handle.metadata()["keys"]) == keys
        torch.testing.assert_close(handle.get_tensor("video.vt"), arrays["video.vt"])
    folder = write_embeddings(tmp_path / "yc2_npy", keys, arrays, "yc2")
    assert json.loads((folder / "keys.json").read_text())["keys"] == keys
    np.testing.assert_allclose(np.load(folder / "audio.at.npy"), arrays["audio.at"].numpy())


def test_sentences_through_the_command(eval_checkpoint, tmp_path):
    (tmp_path / "queries.txt").write_text("big red square moves left with a whistle\n\n"
                                          "small blue ring moves up with a buzz\n")
    out = tmp_path / "queries.safetensors"
    assert main(["embed", "--checkpoint", str(eval_checkpoint), "--sentences",
                 str(tmp_path / "queries.txt"), "--out", str(out)]) == 0
    with safe_open(str(out), framework="pt") as handle:
        keys = json.loads(handle.metadata()["keys"])
        exported = handle.get_tensor("text.vt")
    assert keys == ["big red square moves left with a whistle",
                    "small blue ring moves up with a buzz"]
    method, config, tokenizer = load_checkpoint(eval_checkpoint)
    with torch.no_grad():
        expected = method.embed("text", tokenizer(keys, config.data.max_words))["vt"]
    torch.testing.assert_close(exported, expected)
    assert embed_sentences(eval_checkpoint, keys[:1])[1]["text.vt"].shape == (1, 128)


def test_backbone_level_gives_every_modality_s_encoder_output(eval_checkpoint, tiny_shards,
                                                               tmp_path):
    """Text included: it was embedded in its spaces whatever the level asked."""
    keys, arrays = embed_shards(eval_checkpoint, str(tiny_shards["youcook2"]), windows=2,
                                level="backbone")
    assert set(arrays) == {"video.features", "audio.features", "text.features"}
    method, config, tokenizer = load_checkpoint(eval_checkpoint)
    metas = list(read_metas(tiny_shards["youcook2"]))
    with torch.no_grad():
        ids = tokenizer([meta["texts"][0]["text"] for meta in metas], config.data.max_words)
        expected = method.towers.encode("text", ids)
    torch.testing.assert_close(arrays["text.features"], expected)
    sentences = ["whisk the eggs", "fry the onion"]
    out = tmp_path / "backbone.safetensors"
    (tmp_path / "s.txt").write_text("\n".join(sentences))
    assert main(["embed", "--checkpoint", str(eval_checkpoint), "--sentences",
                 str(tmp_path / "s.txt"), "--out", str(out), "--level=backbone"]) == 0
    with safe_open(str(out), framework="pt") as handle:
        with torch.no_grad():
            torch.testing.assert_close(handle.get_tensor("text.features"), method.towers.encode(
                "text", tokenizer(sentences, config.data.max_words)))
