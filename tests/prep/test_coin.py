"""Converting a tiny synthetic COIN: one sample per step segment with its labels, bad
records and missing videos counted by reason (bad records fatal with --strict)."""

import json
import tarfile
from pathlib import Path

import pytest

from mmssl.config import PrepConfig
from mmssl.prep import coin
from mmssl.prep.annotations import AnnotationError
from mmssl.shard_format import decode_meta, read_manifest
from mmssl.synth.coin import write_coin
from mmssl.synth.videos import MediaSettings

PREP = PrepConfig(samples_per_shard=4, workers=1)


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("coin_world")
    write_coin(root, videos=6, seed=1, media=MediaSettings(width=64, height=48, fps=8.0),
               seconds=(9.0, 11.0))
    return root


def database(world: Path) -> dict:
    return json.loads((world / "COIN.json").read_text())["database"]


def shard_metas(out: Path) -> list[dict]:
    metas = []
    for shard in read_manifest(out)["shards"]:
        with tarfile.open(shard["path"]) as tar:
            metas += [decode_meta(tar.extractfile(m).read()) for m in tar
                      if m.name.endswith(".json")]
    return metas


def expected_samples(records: dict, subsets=coin.SUBSETS) -> set:
    return {
        (video_id, step["segment"][0], step["label"], record["subset"], record["recipe_type"],
         record["class"], step["id"])
        for video_id, record in records.items() if record["subset"] in subsets
        for step in record["annotation"]
    }


def test_one_sample_per_step_with_its_labels(world, tmp_path):
    manifest = coin.prepare(world / "COIN.json", world / "videos", tmp_path, PREP,
                            progress=False)
    assert manifest["dataset"] == "coin" and manifest["failed"] == {}
    metas = shard_metas(tmp_path)
    found = {(m["video_id"], m["start"], m["texts"][0]["text"], m["labels"]["subset"],
              m["labels"]["task_id"], m["labels"]["task"], m["labels"]["step_id"])
             for m in metas}
    assert found == expected_samples(database(world))
    assert len(metas) == manifest["total_samples"] == len(found)
    for meta in metas:
        assert set(meta["labels"]) == {"subset", "task_id", "task", "step_id"}
        assert type(meta["labels"]["task_id"]) is int and type(meta["labels"]["step_id"]) is str
        assert len(meta["texts"]) == 1 and meta["texts"][0]["start"] == 0.0


def test_cli_converts_only_the_asked_subset(world, tmp_path, capsys):
    manifest = coin.main(["--annotations", str(world / "COIN.json"), "--videos",
                          str(world / "videos"), "--out", str(tmp_path), "--subset", "testing",
                          "--workers", "1"])
    expected = expected_samples(database(world), ("testing",))
    assert expected and manifest["total_samples"] == len(expected)
    assert {m["labels"]["subset"] for m in shard_metas(tmp_path)} == {"testing"}
    assert f"{len(expected)} samples" in capsys.readouterr().out


def corrupted(records: dict) -> tuple[dict, dict]:
    """Two good records, four malformed copies (by id) and one whose video is missing."""
    good = dict(list(records.items())[:2])
    template = next(iter(good.values()))
    bad = {
        "noclass0001": {k: v for k, v in template.items() if k != "class"},
        "listtype001": {**template, "recipe_type": [12]},
        "nolabel0001": {**template, "annotation": [{"id": "1", "segment": [1.0, 2.0]}]},
        "badsegment1": {**template, "annotation": [{"id": "1", "segment": "x", "label": "a"}]},
    }
    return {**good, **bad, "notdownload": template}, good


def test_bad_records_and_missing_videos_are_counted(world, tmp_path):
    records, good = corrupted(database(world))
    annotations = tmp_path / "COIN.json"
    annotations.write_text(json.dumps({"database": records}))
    parsed, errors = coin.read_annotations(annotations)
    assert sorted(e.record for e in errors) == ["badsegment1", "listtype001", "noclass0001",
                                                "nolabel0001"]
    assert all(str(annotations) in str(e) for e in errors)
    assert "annotation[0]" in str(next(e for e in errors if e.record == "nolabel0001"))
    assert set(parsed) == set(good) | {"notdownload"}

    manifest = coin.prepare(annotations, world / "videos", tmp_path / "shards", PREP,
                            progress=False)
    assert manifest["failed"] == {"bad_annotation": 4, "missing_file": 1}
    assert manifest["total_samples"] == len(expected_samples(good))

    with pytest.raises(AnnotationError, match="noclass0001"):
        coin.prepare(annotations, world / "videos", tmp_path / "strict", PREP, strict=True,
                     progress=False)


def test_top_level_that_is_not_a_database_is_fatal(tmp_path):
    annotations = tmp_path / "COIN.json"
    annotations.write_text(json.dumps([{"duration": 1.0}]))
    with pytest.raises(AnnotationError, match="database"):
        coin.read_annotations(annotations)
