"""A raw file embeds exactly as its prepared shard: the API and ``mmssl embed --videos``
prepare raw spans through prep's own converter, so the clips are the same bytes, and the
embeddings agree up to float rounding (windows batched with other segments' in
evaluation, alone here)."""

import pytest
import torch

import mmssl
from mmssl.api.collection import read_part
from mmssl.cli import main
from mmssl.data.shards import read_metas
from mmssl.eval.embed import embed_shards
from mmssl.prep import videos as prep_videos
from mmssl.shard_format import clip_key

WINDOWS = 3
CLOSE = {"rtol": 1e-5, "atol": 1e-6}


def test_raw_spans_equal_their_youcook2_shard_samples(eval_checkpoint, tiny_shards,
                                                       youcook_segments):
    """Every validation step of the tiny YouCook2, from its raw video with the
    annotation's times, against the same segment of the prepared shards (trained MMV)."""
    keys, arrays = embed_shards(eval_checkpoint, str(tiny_shards["youcook2"]), windows=WINDOWS)
    sentences = [meta["texts"][0]["text"] for meta in read_metas(tiny_shards["youcook2"])]
    model = mmssl.load(eval_checkpoint, windows=WINDOWS)
    assert len(keys) == len(youcook_segments)
    for segment in youcook_segments:
        row = keys.index(clip_key(segment["video_id"], segment["start"]))
        video = model.embed_video(segment["path"], segment["start"], segment["end"])
        audio = model.embed_audio(segment["path"], segment["start"], segment["end"])
        for space in ("vt", "va"):
            torch.testing.assert_close(video[space][0], arrays[f"video.{space}"][row], **CLOSE)
        for space in ("at", "va"):
            torch.testing.assert_close(audio[space][0], arrays[f"audio.{space}"][row], **CLOSE)
        text = model.embed_text([sentences[row]])
        torch.testing.assert_close(text["vt"][0], arrays["text.vt"][row], **CLOSE)
    assert not torch.allclose(arrays["video.vt"][0], arrays["video.vt"][1])  # not constant


@pytest.mark.slow  # runs mmssl prep videos and mmssl embed
def test_embedding_raw_videos_equals_embedding_their_prep_videos_shards(
        fresh_checkpoint, youcook_segments, tmp_path):
    """``mmssl prep videos`` then ``mmssl embed --shards``, against ``mmssl embed
    --videos`` with the same windows, at both levels."""
    videos = tmp_path / "videos.csv"
    chosen = sorted({(s["video_id"], s["path"]) for s in youcook_segments})[:2]
    videos.write_text("video_id,path\n" + "".join(f"{i},{p}\n" for i, p in chosen))
    shards = tmp_path / "shards"
    prep_videos.main(["--videos", str(videos), "--out", str(shards), "--window", "5",
                      "--stride", "4", "--workers=1"])
    for level in ("embedding", "backbone"):
        keys, arrays = embed_shards(fresh_checkpoint, str(shards), ["video", "audio"],
                                    windows=2, level=level)
        out = tmp_path / f"raw-{level}.safetensors"
        assert main(["embed", "--checkpoint", str(fresh_checkpoint), "--videos", str(videos),
                     "--out", str(out), "--window=5", "--stride=4", "--windows=2",
                     f"--level={level}"]) == 0
        raw_keys, raw, _ = read_part(out)
        assert [k.rpartition("-")[0] for k in raw_keys] == keys  # id@start-end vs id@start
        assert set(raw) == set(arrays) | {"has_audio"} and bool(raw["has_audio"].all())
        for name, value in arrays.items():
            torch.testing.assert_close(raw[name], value, **CLOSE)
