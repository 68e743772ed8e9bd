"""The shard format's rules: sample keys that cannot collide or escape, JSON members checked
for the fields readers need, and the word rule shared by the stats and the tokenizer."""

import re

import pytest

from mmssl.shard_format import MetaError, check_meta, sample_key, words_of

AWKWARD_IDS = ["pan.cake", "pan_cake", "pan-cake", "../../etc/passwd", "/abs/path/video",
               "a/b", "a_b", "crème brûlée", "视频", "x" * 300, "x" * 301, "", ".", "..",
               "ends with space ", "ends with space", "tab\tand\nnewline", "NUL\0"]


def test_keys_are_safe_names_and_differ_for_every_id():
    keys = [sample_key(video_id, 12.5) for video_id in AWKWARD_IDS]
    assert len(set(keys)) == len(AWKWARD_IDS)
    for key in keys:
        assert re.fullmatch(r"[A-Za-z0-9_-]{0,40}-[0-9a-f]{16}_000012500", key), key
        assert len(key) <= 67
    assert sample_key("pan.cake", 0).startswith("pan_cake-")  # readable, yet not pan_cake's
    assert sample_key("pan.cake", 0) != sample_key("pan_cake", 0)
    assert sample_key("abc", 1.0) != sample_key("abc", 1.001)
    assert sample_key("abc", 1.0) == sample_key("abc", 1.0004)  # the key's resolution: 1 ms


def test_a_json_member_without_what_readers_need_is_bad_meta():
    good = {"video_id": "v", "start": 0, "end": 2.5, "fps": 8.0, "num_frames": 20,
            "width": 64, "height": 48, "texts": [{"start": 0, "end": 1, "text": "hi"}]}
    assert check_meta(good) is good
    for broken in [{k: v for k, v in good.items() if k != "num_frames"},
                   {**good, "num_frames": True}, {**good, "fps": "8"},
                   {**good, "texts": [{"start": 0, "text": "hi"}]}, {**good, "texts": "hi"},
                   [good]]:
        with pytest.raises(MetaError) as error:
            check_meta(broken)
        assert error.value.reason == "bad_meta"
    with pytest.raises(MetaError, match="field 'num_frames' missing"):
        check_meta({k: v for k, v in good.items() if k != "num_frames"})


def test_the_word_rule():
    assert words_of("Cut the ONION, then stir!") == ["cut", "the", "onion", ",", "then",
                                                     "stir", "!"]
    assert words_of("ﬁne Ｃafé") == ["fine", "café"]  # NFKC


def test_readers_count_a_member_missing_a_field_as_bad_meta(tiny_shards, tmp_path):
    """Not as no_video_stream, as they did when num_frames was the field missing."""
    import json
    import tarfile

    from mmssl.data.shards import SkipCounter, raw_samples, read_samples, shard_paths
    from mmssl.prep.shard_writer import ShardWriter

    with tarfile.open(shard_paths(str(tiny_shards["howto100m"]))[0]) as tar:
        members = {m.name: tar.extractfile(m).read() for m in tar}
    key = next(name for name in members if name.endswith(".json")).removesuffix(".json")
    meta = json.loads(members[f"{key}.json"])
    path = tmp_path / "shard-000000.tar"
    with ShardWriter(path) as writer:
        for name, broken in [("nofps", {k: v for k, v in meta.items() if k != "fps"}),
                             ("noframes", {k: v for k, v in meta.items() if k != "num_frames"}),
                             ("good", meta)]:
            writer.write({"__key__": name, "mp4": members[f"{key}.mp4"],
                          "json": json.dumps(broken).encode()})
        writer.finish({"shard": path.name})
    skip = SkipCounter()
    with pytest.warns(UserWarning, match=r"bad_meta.*field 'fps' missing"):
        read = list(read_samples(raw_samples([str(path)], skip), skip))
    assert [sample.meta for sample in read] == [meta] and skip.counts == {"bad_meta": 2}
