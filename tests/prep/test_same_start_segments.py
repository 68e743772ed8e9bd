"""Steps of one video that start together (YouCook2 has them) stay separate samples: their
keys differ, so a shard reader sees both (a repeated key would drop the second)."""

from mmssl.data.shards import SkipCounter, raw_samples, shard_paths
from mmssl.prep.convert import _unique_keys


def test_repeated_starts_get_numbered_keys():
    samples = [{"__key__": "v_000210000"}, {"__key__": "v_000210000"},
               {"__key__": "v_000120000"}, {"__key__": "v_000210000"}]
    assert [s["__key__"] for s in _unique_keys(samples)] == [
        "v_000210000", "v_000210000_2", "v_000120000", "v_000210000_3"]


def test_prepared_shards_keep_both_steps(tiny_world, tmp_path):
    import json

    from mmssl.config import PrepConfig
    from mmssl.prep import youcook2

    annotations = json.loads((tiny_world / "youcook2" /
                              "youcookii_annotations_trainval.json").read_text())
    video_id, record = next((k, v) for k, v in annotations["database"].items()
                            if v["subset"] == "validation")
    first = record["annotations"][0]
    start, end = first["segment"]
    record["annotations"] = [first, {**first, "segment": [start, end - 1.0],
                                     "sentence": "the same start, an earlier end"}]
    annotations["database"] = {video_id: record}
    path = tmp_path / "annotations.json"
    path.write_text(json.dumps(annotations))
    youcook2.prepare(path, tiny_world / "youcook2" / "videos", tmp_path / "shards",
                     PrepConfig(workers=1), ("validation",), progress=False)
    skip = SkipCounter(strict=True)
    samples = list(raw_samples(shard_paths(str(tmp_path / "shards")), skip))
    texts = sorted(json.loads(s["json"])["texts"][0]["text"] for s in samples)
    assert len(samples) == 2 and texts == sorted([first["sentence"],
                                                  "the same start, an earlier end"])
