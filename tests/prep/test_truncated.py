"""Truncated and damaged downloads: real encodes (long GOP, B-frames, AAC), cut short or with
bytes cut out of the middle, keep the samples that end before the first undecodable point,
byte for byte as the intact file gives them; the rest is counted, and ``--strict`` drops
such a file whole."""

import pytest
from helpers import camera_like_video

from mmssl.config import PrepConfig
from mmssl.prep.arguments import add_prep_arguments, parse_prep, prep_parser
from mmssl.prep.convert import convert_video
from mmssl.prep.runner import run_prep
from mmssl.prep.summary import describe, summarize
from mmssl.prep.tasks import SegmentSpec, VideoTask
from mmssl.shard_format import decode_meta

SECONDS = 24.0
CONSECUTIVE = [(float(s), s + 4.0) for s in range(0, 24, 4)]  # HowTo100M-like chunks
SPARSE = [(1.0, 3.0), (9.0, 11.0), (20.0, 22.0)]  # YouCook2-like steps


@pytest.fixture(scope="module")
def downloads(tmp_path_factory):
    """Intact and damaged copies: {(container, damage): path}."""
    root = tmp_path_factory.mktemp("downloads")
    files = {}
    for container in ("mp4", "matroska"):
        intact = camera_like_video(root / f"intact.{container}", container, SECONDS)
        data = intact.read_bytes()
        files[container, "intact"] = intact
        cut = {"tail": data[: int(len(data) * 0.6)],
               "middle": data[: len(data) // 2] + data[len(data) // 2 + len(data) // 10 :]}
        for damage, damaged in cut.items():
            path = root / f"{damage}.{container}"
            path.write_bytes(damaged)
            files[container, damage] = path
    return files


def without_source(sample: dict) -> dict:
    """A sample's JSON member less the path of its source file."""
    meta = decode_meta(sample["json"])
    del meta["source"]
    return meta


def task(path, spans) -> VideoTask:
    return VideoTask("howto100m", "clip", str(path), tuple(SegmentSpec(a, b) for a, b in spans))


@pytest.mark.parametrize("container", ["mp4", "matroska"])
@pytest.mark.parametrize("damage", ["tail", "middle"])
@pytest.mark.parametrize("spans", [CONSECUTIVE, SPARSE], ids=["consecutive", "sparse"])
def test_samples_before_the_damage_are_kept_as_the_intact_file_gives_them(
        downloads, container, damage, spans):
    intact = convert_video(task(downloads[container, "intact"], spans), PrepConfig())
    damaged = convert_video(task(downloads[container, damage], spans), PrepConfig())
    assert len(intact.samples) == len(spans) and intact.truncated is None
    kept, lost = damaged.samples, len(spans) - len(damaged.samples)
    assert 0 < len(kept) < len(spans)
    for ours, theirs in zip(kept, intact.samples, strict=False):
        assert ours["mp4"] == theirs["mp4"]  # the same bytes: the same frames and sound
        assert without_source(ours) == without_source(theirs)
    truncated = damaged.truncated
    assert (truncated.samples, truncated.segments_lost) == (len(kept), lost)
    assert truncated.seconds == pytest.approx(sum(b - a for a, b in spans[: len(kept)]))
    for sample in kept:
        assert decode_meta(sample["json"])["end"] <= truncated.decoded_to + 0.2
    # The damage is past the middle of the data (12 s) minus a GOP's worth of B-frames.
    assert 10.0 < truncated.decoded_to < 0.7 * SECONDS
    assert [f.reason for f in damaged.failures] == ["decode_error"] * lost
    assert all("lost: the file stops decoding after" in f.detail for f in damaged.failures)


def test_strict_drops_a_truncated_download_whole(downloads):
    strict = PrepConfig(keep_truncated=False)
    converted = convert_video(task(downloads["mp4", "tail"], CONSECUTIVE), strict)
    assert converted.samples == [] and converted.truncated is None
    assert [f.reason for f in converted.failures] == ["decode_error"]

    def parsed(*argv) -> PrepConfig:
        parser = prep_parser("howto100m", "")
        add_prep_arguments(parser)
        return parse_prep(parser, ["--videos", "v", "--out", "o", *argv])[1]

    assert parsed("--strict").keep_truncated is False
    assert parsed().keep_truncated is True


def test_an_mp4_whose_index_was_at_the_end_keeps_nothing(tmp_path):
    """Without its index (written last unless the file was made for streaming) nothing of
    a cut mp4 can be located: the file is unreadable, one failure."""
    intact = camera_like_video(tmp_path / "plain.mp4", "mp4", 8.0, faststart=False)
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(intact.read_bytes()[: intact.stat().st_size * 3 // 4])
    converted = convert_video(task(cut, [(0.0, 2.0), (2.0, 4.0)]), PrepConfig())
    assert converted.samples == [] and converted.truncated is None
    assert [f.reason for f in converted.failures] == ["unreadable"]


def test_manifest_and_summary_count_what_truncated_downloads_kept(downloads, tmp_path):
    tasks = [VideoTask("howto100m", f"{container}-{damage}", str(downloads[container, damage]),
                       tuple(SegmentSpec(a, b) for a, b in CONSECUTIVE))
             for container in ("mp4", "matroska") for damage in ("intact", "tail", "middle")]
    config = PrepConfig(samples_per_shard=12, workers=2)
    manifest = run_prep(tasks, tmp_path, config, "howto100m", progress=False)
    kept = {t.video_id: convert_video(t, config) for t in tasks}
    seconds = sum(c.truncated.seconds for c in kept.values() if c.truncated)
    assert manifest["truncated_kept"] == 4
    assert manifest["truncated_seconds_kept"] == pytest.approx(seconds)
    assert manifest["total_samples"] == sum(len(c.samples) for c in kept.values())
    lost = sum(c.truncated.segments_lost for c in kept.values() if c.truncated)
    assert manifest["failed"] == {"decode_error": lost}
    assert f"truncated_kept: 4 videos ({seconds:.1f} s kept)" in describe(manifest)
    assert f"truncated_kept: 4 videos ({seconds:.1f} s kept)" in summarize(tmp_path)
