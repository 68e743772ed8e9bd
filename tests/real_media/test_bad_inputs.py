"""What real downloads hold never stops a conversion: truncated and corrupted encodes,
each bad annotation value, ids that would collide or escape as file names. Each is
counted and named; the good data is converted; --strict makes a bad record fatal."""

import json
import tarfile

import av
import pytest
from helpers import BAD_CAPTIONS, BAD_SEGMENTS
from real_sources import PREP, SECONDS, SOURCES, narrations, video_list

from mmssl.data.shards import SkipCounter, open_dataset
from mmssl.prep import audioset, howto100m, youcook2
from mmssl.prep.annotations import AnnotationError
from mmssl.shard_format import read_manifest, stats_path


def metas(directory) -> list[dict]:
    return [sample.meta for sample in open_dataset(str(directory), SkipCounter(strict=True))]


def failures(directory) -> dict[str, str]:
    """{video id: reason} from the stats files of a prepared directory."""
    manifest = read_manifest(directory)
    return {f["video_id"]: f["reason"] for shard in manifest["shards"]
            for f in json.loads(stats_path(shard["path"]).read_text())["failures"]}


def test_the_sources_are_what_downloads_are(real_world):
    for source in SOURCES:
        with av.open(str(real_world["videos"] / source.name)) as container:
            video = container.streams.video[0]
            packets = [p for p in container.demux(video) if p.pts is not None]
            audio = container.streams.audio[0].codec_context.name
        shown = [p.pts for p in packets]
        assert shown != sorted(shown), "B-frames: decode order differs from display order"
        assert sum(p.is_keyframe for p in packets) <= 2, "a GOP as long as the video"
        assert audio == ("opus" if source.name.endswith(".mkv") else "aac")
        assert (video.codec_context.width, video.codec_context.height) == (source.width,
                                                                            source.height)


def test_truncated_and_corrupted_downloads_are_counted_not_fatal(real_world, tmp_path):
    good = {source.video_id: real_world["videos"] / source.name for source in SOURCES[:2]}
    everything = {**good, **real_world["broken"]}
    captions = tmp_path / "caption.json"
    captions.write_text(json.dumps({video_id: narrations(SECONDS) for video_id in everything}))
    out = tmp_path / "shards"
    manifest = howto100m.prepare(captions, video_list(tmp_path / "videos.csv", everything),
                                 out, PREP, progress=False)
    converted = {meta["video_id"] for meta in metas(out)}
    assert set(good) <= converted
    counted = failures(out)
    # Each broken file is either counted by reason or kept up to its undecodable part.
    assert set(counted) <= set(real_world["broken"])
    assert set(real_world["broken"]) <= set(counted) | converted
    assert "truncatedmp" in counted  # an mp4 cut short has lost its index: nothing to keep
    assert sum(manifest["failed"].values()) >= len(counted)


def test_each_bad_annotation_value_through_prep(real_world, tmp_path):
    files = [real_world["videos"] / source.name for source in SOURCES]
    records = {record: value for record, (value, _) in BAD_CAPTIONS.items()}
    captions = tmp_path / "caption.json"
    captions.write_text(json.dumps({"goodvideo01": narrations(SECONDS), **records}))
    ids = ["goodvideo01", *records]
    videos = video_list(tmp_path / "videos.csv",
                        {video_id: files[i % len(files)] for i, video_id in enumerate(ids)})
    manifest = howto100m.prepare(captions, videos, tmp_path / "howto", PREP, progress=False)
    assert manifest["failed"] == {"bad_annotation": len(BAD_CAPTIONS)}
    named = {f["video_id"]: f["detail"] for f in manifest["annotation_failures"]}
    for record, (_, expected) in BAD_CAPTIONS.items():
        assert named[record].startswith(f"{captions}: ") and expected in named[record]
    converted = {meta["video_id"] for meta in metas(tmp_path / "howto")}
    kept_partly = {"nanstart", "infend", "negative", "reversed", "absurd", "strtime",
                   "booltime", "numbertext"}  # one narration dropped, the other converted
    assert converted == {"goodvideo01"} | kept_partly
    with pytest.raises(AnnotationError, match=str(captions)):
        howto100m.prepare(captions, videos, tmp_path / "strict", PREP, strict=True,
                          progress=False)


def test_each_bad_segment_through_prep_and_an_end_past_the_video_is_cut(real_world,
                                                                         tmp_path):
    step = {"segment": [0.5, 3.0], "id": 0, "sentence": "the square moves right"}

    def record(segment):
        return {"subset": "validation", "recipe_type": "101",
                "annotations": [step, {**step, "id": 1, "segment": segment}]}

    database = {name: record(segment) for name, (segment, _) in BAD_SEGMENTS.items()}
    database["longend0001"] = record([2.0, 1e5])  # a day past a 6-s video: cut, not allocated
    annotations = tmp_path / "youcook.json"
    annotations.write_text(json.dumps({"database": database}))
    source = real_world["videos"] / SOURCES[2].name
    videos = video_list(tmp_path / "videos.csv", {name: source for name in database})
    manifest = youcook2.prepare(annotations, videos, tmp_path / "out", PREP, progress=False)
    assert manifest["failed"] == {"bad_annotation": len(BAD_SEGMENTS)}
    ends = sorted((m["video_id"], m["start"], m["end"]) for m in metas(tmp_path / "out"))
    assert len(ends) == len(BAD_SEGMENTS) + 2  # every good step, and the long one
    assert ("longend0001", 2.0, pytest.approx(SECONDS, abs=0.2)) in ends
    with pytest.raises(AnnotationError, match="annotations\\[1\\]"):
        youcook2.prepare(annotations, videos, tmp_path / "strict", PREP, strict=True,
                         progress=False)


def test_bad_audioset_rows_through_prep(real_world, tmp_path):
    clips = tmp_path / "clips"
    clips.mkdir()
    (clips / "goodclip001.mp4").write_bytes((real_world["videos"] / SOURCES[0].name).read_bytes())
    labels = tmp_path / "class_labels_indices.csv"
    labels.write_text('index,mid,display_name\n0,/m/09x0r,"Speech"\n')
    segments = tmp_path / "eval_segments.csv"
    rows = ["goodclip001, 0.000, 5.000", "infinite001, 0, Infinity", "nan00000001, nan, 4",
            "billion0001, 0, 1e9", "reversed001, 8, 2"]
    segments.write_text("# YTID, start_seconds, end_seconds, positive_labels\n"
                        + "".join(f'{row}, "/m/09x0r"\n' for row in rows))
    manifest = audioset.prepare([segments], labels, clips, tmp_path / "out", PREP,
                                progress=False)
    assert manifest["total_samples"] == 1
    assert manifest["failed"] == {"bad_annotation": 4}


AWKWARD_IDS = ["pan.cake", "pan_cake", "../../escape", "/abs/path/video", "a/b", "crème",
               "视频", "x" * 120]


def test_ids_that_would_collide_or_escape_get_safe_keys_of_their_own(real_world, tmp_path):
    source = real_world["videos"] / SOURCES[1].name
    captions = tmp_path / "caption.json"
    captions.write_text(json.dumps({video_id: narrations(SECONDS) for video_id in AWKWARD_IDS}))
    videos = video_list(tmp_path / "videos.csv", dict.fromkeys(AWKWARD_IDS, source))
    out = tmp_path / "shards"
    manifest = howto100m.prepare(captions, videos, out, PREP, progress=False)
    assert manifest["total_samples"] == len(AWKWARD_IDS) and manifest["failed"] == {}
    names = []
    for shard in read_manifest(out)["shards"]:
        with tarfile.open(shard["path"]) as tar:
            names += tar.getnames()
    assert len(names) == 2 * len(AWKWARD_IDS) == len(set(names))
    assert all("/" not in name and name.count(".") == 1 and len(name) < 100 for name in names)
    assert sorted(meta["video_id"] for meta in metas(out)) == sorted(AWKWARD_IDS)
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["manifest.json"] + [f"shard-{i:06d}{ext}" for i in range(len(manifest["shards"]))
                             for ext in (".tar", ".stats.json")])


def test_two_segments_with_one_key_are_named_at_the_door(real_world, tmp_path):
    source = real_world["videos"] / SOURCES[0].name
    steps = [{"segment": [1.0, 3.0], "id": 0, "sentence": "first"},
             {"segment": [1.0, 3.0], "id": 1, "sentence": "listed twice"}]
    annotations = tmp_path / "youcook.json"
    annotations.write_text(json.dumps({"database": {"twostarts01": {
        "subset": "validation", "recipe_type": "1", "annotations": steps}}}))
    videos = video_list(tmp_path / "videos.csv", {"twostarts01": source})
    manifest = youcook2.prepare(annotations, videos, tmp_path / "out", PREP, progress=False)
    assert manifest["total_samples"] == 1 and manifest["failed"] == {"bad_annotation": 1}
    detail = manifest["annotation_failures"][0]["detail"]
    assert "segment 1-3 s would be sample" in detail and "as is segment 1-3 s" in detail
    with pytest.raises(AnnotationError, match="twostarts01"):
        youcook2.prepare(annotations, videos, tmp_path / "strict", PREP, strict=True,
                         progress=False)
