"""Converting the synthetic AudioSet: one sample per segment, multi-hot labels, audio-only
clips as audio-only samples, bad rows and missing clips counted (fatal with strict)."""

import shutil
import tarfile

import numpy as np
import pytest

from mmssl.config import PrepConfig
from mmssl.data.shards import SkipCounter, open_samples, raw_samples
from mmssl.media import decode_audio, probe
from mmssl.prep import audioset
from mmssl.prep.annotations import AnnotationError
from mmssl.prep.clip_files import parse_clip_stem
from mmssl.shard_format import decode_meta, read_manifest
from mmssl.synth.audioset import CLASSES, MIDS, write_audioset

PREP = PrepConfig(samples_per_shard=4, workers=1)
SUBSETS = ("balanced_train", "eval")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("audioset_world")
    return root, write_audioset(root, 9, seed=5)["clips"]


@pytest.fixture(scope="module")
def shards(world, tmp_path_factory):
    root, _ = world
    out = tmp_path_factory.mktemp("audioset_shards")
    audioset.main([*segment_args(root), "--labels", str(root / "class_labels_indices.csv"),
                   "--clips", str(root / "clips"), "--out", str(out), "--workers", "1",
                   "--samples-per-shard", "4"])
    return out


def segment_args(root):
    return [arg for s in SUBSETS for arg in ("--segments", str(root / f"{s}_segments.csv"))]


def samples(directory):
    for shard in read_manifest(directory)["shards"]:
        with tarfile.open(shard["path"]) as tar:
            files = {m.name: tar.extractfile(m).read() for m in tar}
        for name, raw in files.items():
            if name.endswith(".json"):
                yield decode_meta(raw), files[name.removesuffix(".json") + ".mp4"]


def test_one_sample_per_segment_with_multi_hot_labels(world, shards):
    _, clips = world
    found = {meta["video_id"]: (meta, media) for meta, media in samples(shards)}
    assert set(found) == set(clips) and read_manifest(shards)["failed"] == {}
    for ytid, clip in clips.items():
        meta, media = found[ytid]
        sounds = {e["sound"] for e in clip["events"]}
        assert meta["labels"]["indices"] == sorted(CLASSES.index(s) for s in sounds)
        assert sorted(meta["labels"]["mids"]) == sorted(MIDS[s] for s in sounds)
        assert meta["labels"]["subset"] == clip["subset"] and meta["texts"] == []
        assert meta["labels"]["segment"] == [clip["start"], clip["end"]]
        assert (meta["start"], meta["end"]) == (0.0, 10.0)
        info = probe(media)
        assert meta["has_video"] == info.has_video == (clip["kind"] == "video")
        if not meta["has_video"]:
            assert meta["num_frames"] == meta["width"] == meta["height"] == 0
            audio = decode_audio(media)
            assert len(audio) >= 10 * 16000 and np.abs(audio).max() > 0.05


def test_open_samples_skips_and_counts_audio_only(world, shards):
    _, clips = world
    skip = SkipCounter()
    urls = [s["path"] for s in read_manifest(shards)["shards"]]
    with pytest.warns(UserWarning, match="no_video_stream"):
        opened = [s.meta["video_id"] for s in
                  open_samples(raw_samples(urls, skip), skip)]
    assert sorted(opened) == sorted(y for y, c in clips.items() if c["kind"] == "video")
    assert skip.counts == {"no_video_stream": len(clips) - len(opened)}


def test_bad_rows_and_missing_clips_are_counted(world, tmp_path):
    root, clips = world
    shutil.copytree(root, tmp_path / "world")
    root = tmp_path / "world"
    bad = root / "balanced_train_segments.csv"
    with open(bad, "a") as handle:
        handle.write('badstart001, x, 20.000, "/m/synth_whistle"\n'
                     'unknownmid1, 10.000, 20.000, "/m/nope"\n'
                     "toofewcols1, 10.000\n")
    missing, bare = sorted(clips)[:2]
    next((root / "clips").glob(f"{missing}_*")).unlink()
    moved = next((root / "clips").glob(f"{bare}_*"))
    moved.rename(moved.with_name(bare + moved.suffix))  # a <YTID>.<ext> download
    labels = root / "class_labels_indices.csv"
    segment_files = [root / f"{s}_segments.csv" for s in SUBSETS]
    manifest = audioset.prepare(segment_files, labels, root / "clips", tmp_path / "out", PREP,
                                progress=False)
    assert manifest["total_samples"] == len(clips) - 1
    assert manifest["failed"] == {"bad_annotation": 3, "missing_file": 1}
    failures = {f["video_id"]: f["detail"] for f in manifest["annotation_failures"]}
    assert set(failures) == {"badstart001", "unknownmid1", "toofewcols1"}
    assert all(str(bad) in detail for detail in failures.values())
    lines = bad.read_text().splitlines()
    assert f"line {len(lines) - 2}:" in failures["badstart001"]
    with pytest.raises(AnnotationError, match="badstart001.*line"):
        audioset.prepare(segment_files, labels, root / "clips", tmp_path / "strict", PREP,
                         strict=True, progress=False)


@pytest.mark.parametrize("stem, expected", [
    ("--PJHxphWEs_30.000_40.000", ("--PJHxphWEs", 30.0)),
    ("hdkA15dx9l__230_240", ("hdkA15dx9l_", 230.0)),
    ("a_b_c_d_e_f", ("a_b_c_d_e_f", None)),
    ("--PJHxphWEs", ("--PJHxphWEs", None)),
])
def test_clip_stems(stem, expected):
    assert parse_clip_stem(stem) == expected
