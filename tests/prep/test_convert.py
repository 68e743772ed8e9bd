"""Converting the tiny world: shards and manifest as documented, bad input skipped and
counted by reason (never fatal), complete shards skipped on a re-run."""

import json
import shutil
import tarfile

import numpy as np
import pytest
from helpers import differing_members

from mmssl.config import PrepConfig
from mmssl.media import decode_all, probe
from mmssl.media.backends import VIDEO_BACKENDS, PyAVBackend, VideoBackend
from mmssl.prep import howto100m, youcook2
from mmssl.prep.annotations import AnnotationError
from mmssl.registry import RegistryError
from mmssl.shard_format import decode_meta, read_manifest, stats_path

PREP = PrepConfig(samples_per_shard=3, workers=1)
AAC_TOLERANCE = 2e-3  # two AAC encodes of the same sound (x264's bytes differ in between)


def members(tar_path):
    with tarfile.open(tar_path) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar}


def test_howto_shards_follow_the_format(tiny_shards, tiny_world):
    manifest = read_manifest(tiny_shards["howto100m"])
    captions = json.loads((tiny_world / "howto100m" / "caption.json").read_text())
    assert manifest["dataset"] == "howto100m" and manifest["failed"] == {}
    assert manifest["total_samples"] == len(captions)  # one sample per (short) video
    for shard in manifest["shards"]:
        assert json.loads(stats_path(shard["path"]).read_text())["samples"] == shard["samples"]
        files = members(shard["path"])
        keys = {name.rsplit(".", 1)[0] for name in files}
        assert len(keys) == shard["samples"]
        for key in keys:
            meta = decode_meta(files[f"{key}.json"])
            info = probe(files[f"{key}.mp4"])
            assert info.has_video and min(info.width, info.height) == PREP.short_side
            assert meta["num_frames"] == round((meta["end"] - meta["start"]) * meta["fps"])
            assert meta["has_audio"] == info.has_audio and info.audio_rate == 16000
            source = captions[meta["video_id"]]
            assert [t["text"] for t in meta["texts"]] == source["text"]
            assert meta["texts"][0]["start"] == pytest.approx(source["start"][0] - meta["start"])
            assert "task_id" in meta["labels"]


def test_youcook_one_sample_per_validation_segment(tiny_shards, tiny_world):
    database = json.loads((tiny_world / "youcook2" / "youcookii_annotations_trainval.json")
                          .read_text())["database"]
    expected = {(vid, tuple(a["segment"]), a["sentence"]) for vid, v in database.items()
                if v["subset"] == "validation" for a in v["annotations"]}
    found = set()
    for shard in read_manifest(tiny_shards["youcook2"])["shards"]:
        for name, raw in members(shard["path"]).items():
            if name.endswith(".json"):
                meta = decode_meta(raw)
                segment = (round(meta["start"]), round(meta["end"]))
                found.add((meta["video_id"], segment, meta["texts"][0]["text"]))
                assert meta["labels"]["subset"] == "validation"
    assert found == {(v, tuple(s), t) for v, s, t in expected}


def test_corrupt_missing_and_bad_records_are_counted_not_fatal(tiny_world, tmp_path):
    videos = tmp_path / "videos"
    shutil.copytree(tiny_world / "howto100m" / "videos", videos)
    captions = json.loads((tiny_world / "howto100m" / "caption.json").read_text())
    ids = sorted(captions)
    corrupt = videos / f"{ids[0]}.mp4"
    corrupt.write_bytes(corrupt.read_bytes()[:2000])  # truncated download
    (videos / f"{ids[1]}.mp4").unlink()  # never downloaded
    captions["badrecord01"] = {"start": [1.0], "end": [2.0]}  # no "text"
    captions["badtimes001"] = {"start": ["x"], "end": [2.0], "text": ["hi"]}
    caption_file = tmp_path / "caption.json"
    caption_file.write_text(json.dumps(captions))

    manifest = howto100m.prepare(caption_file, videos, tmp_path / "shards", PREP, progress=False)
    assert manifest["total_samples"] == len(ids) - 2
    assert manifest["failed"].get("missing_file") == 1
    assert manifest["failed"].get("bad_annotation") == 2
    media_failures = {k: v for k, v in manifest["failed"].items()
                      if k not in ("missing_file", "bad_annotation")}
    assert sum(media_failures.values()) == 1 and set(media_failures) <= {"unreadable",
                                                                         "decode_error"}
    recorded = [f["video_id"] for s in manifest["shards"]
                for f in json.loads(stats_path(tmp_path / "shards" / s["name"]).read_text())
                ["failures"]]
    assert sorted(recorded) == sorted([ids[0], ids[1]])

    with pytest.raises(AnnotationError, match="badrecord01"):
        howto100m.prepare(caption_file, videos, tmp_path / "strict", PREP, strict=True,
                          progress=False)


def test_rerun_skips_complete_shards_and_redoes_incomplete(tiny_world, tmp_path):
    args = (tiny_world / "youcook2" / "youcookii_annotations_trainval.json",
            tiny_world / "youcook2" / "videos", tmp_path, PREP, ("validation",))
    first = youcook2.prepare(*args, progress=False)
    shards = sorted(tmp_path.glob("shard-*.tar"))
    assert len(shards) >= 2
    kept_mtime = shards[0].stat().st_mtime_ns
    stats_path(shards[1]).unlink()  # as if killed between tar and stats
    second = youcook2.prepare(*args, progress=False)
    assert shards[0].stat().st_mtime_ns == kept_mtime
    assert second["shards"] == first["shards"]
    assert members(shards[1]).keys() == members(shards[1]).keys()


def test_segments_past_the_end_or_empty_are_counted(tiny_world, tmp_path):
    path = tiny_world / "youcook2" / "youcookii_annotations_trainval.json"
    data = json.loads(path.read_text())
    video_id, record = next((k, v) for k, v in data["database"].items()
                            if v["subset"] == "validation")
    record["annotations"] = record["annotations"][:2] + [
        {"segment": [500, 510], "id": 90, "sentence": "past the end"},
        {"segment": [5, 5], "id": 91, "sentence": "zero length"},
    ]
    data["database"] = {video_id: record}
    annotations = tmp_path / "annotations.json"
    annotations.write_text(json.dumps(data))
    manifest = youcook2.prepare(annotations, tiny_world / "youcook2" / "videos",
                                tmp_path / "shards", PREP, ("validation",), progress=False)
    assert manifest["total_samples"] == 2
    assert manifest["failed"] == {"segment_out_of_range": 1, "empty_segment": 1}


def test_absurd_sizes_and_lengths_are_refused_before_decoding(tiny_world, tmp_path):
    path = tiny_world / "youcook2" / "youcookii_annotations_trainval.json"
    videos = tiny_world / "youcook2" / "videos"
    small = PrepConfig(samples_per_shard=3, workers=1, max_pixels=64 * 48)
    manifest = youcook2.prepare(path, videos, tmp_path / "a", small, ("validation",),
                                progress=False)
    assert manifest["total_samples"] == 0
    assert set(manifest["failed"]) == {"absurd_resolution"}
    short = PrepConfig(samples_per_shard=3, workers=1, max_seconds=5.0)
    manifest = youcook2.prepare(path, videos, tmp_path / "b", short, ("validation",),
                                progress=False)
    assert set(manifest["failed"]) == {"absurd_duration"}


def test_summary_reports_counts_failures_and_damage(tiny_world, tmp_path):
    from mmssl.prep.summary import summarize

    annotations = tiny_world / "youcook2" / "youcookii_annotations_trainval.json"
    manifest = youcook2.prepare(annotations, tiny_world / "youcook2" / "videos", tmp_path,
                                PREP, ("validation",), progress=False)
    text = summarize(tmp_path)
    assert f"{manifest['total_samples']} samples in {len(manifest['shards'])} shards" in text
    assert "skipped: 0" in text and "INCOMPLETE" not in text
    stats_path(tmp_path / manifest["shards"][0]["name"]).unlink()
    assert f"INCOMPLETE on disk: {manifest['shards'][0]['name']}" in summarize(tmp_path)


def test_per_video_caption_csvs_read_like_caption_json(tiny_world, tmp_path):
    import csv

    captions = json.loads((tiny_world / "howto100m" / "raw_caption.json").read_text())
    folder = tmp_path / "csv"
    folder.mkdir()
    for video_id, record in captions.items():
        with open(folder / f"{video_id}.csv", "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["start", "end", "text"])
            writer.writerows(zip(record["start"], record["end"], record["text"], strict=True))
    (folder / "broken.csv").write_text("begin,finish\n1,2\n")
    from_json, _ = howto100m.read_captions(tiny_world / "howto100m" / "raw_caption.json")
    from_csv, errors = howto100m.read_captions(folder)
    assert from_csv == from_json
    assert [e.record for e in errors] == ["broken"] and "start,end,text" in str(errors[0])


@VIDEO_BACKENDS.register("pyav_frames")
class PyAVFramesOnly(VideoBackend):
    """A registered backend with frames only (PyAV's), so the converter takes the path every
    frames-only backend takes: frames, then PyAV's sound of their span."""

    def frames(self, source, segments, fps, short_side=None):
        return PyAVBackend().frames(source, segments, fps, short_side)


def test_converter_goes_through_the_backend_registry(tiny_world, tmp_path):
    """PyAV's one pass and a frames-only backend, both chosen by name, write the same
    samples (HowTo100M samples, whose rounded frame counts end a little past the segment):
    the same JSON members byte for byte, and the same pictures up to rounding, since PyAV
    hands the encoder yuv420p directly where a frames-only backend's RGB is converted."""
    howto = tiny_world / "howto100m"
    for backend in ("pyav", "pyav_frames"):
        config = PrepConfig(samples_per_shard=3, workers=1, video_backend=backend)
        howto100m.prepare(howto / "caption.json", howto / "videos", tmp_path / backend, config,
                          progress=False)
    one_pass, frames_only = tmp_path / "pyav", tmp_path / "pyav_frames"
    differing = differing_members(one_pass, frames_only)
    assert differing and all(name.endswith(".mp4") for name in differing)
    for name in differing:
        shard, member = name.split("/")
        first = decode_all(members(one_pass / shard)[member])
        second = decode_all(members(frames_only / shard)[member])
        assert first[0].shape == second[0].shape
        assert np.abs(first[0].astype(int) - second[0].astype(int)).mean() < 3.0
        np.testing.assert_allclose(first[1], second[1], atol=AAC_TOLERANCE)
    with pytest.raises(RegistryError, match="unknown video backend 'opencv'; known: .*pyav"):
        howto100m.prepare(howto / "caption.json", howto / "videos", tmp_path / "opencv",
                          PrepConfig(video_backend="opencv"), progress=False)
    assert not (tmp_path / "opencv").exists()
