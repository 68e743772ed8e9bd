"""``mmssl prep videos``: any folder of videos as windows with no texts; unreadable files
counted, audio-only files kept as audio-only samples."""

import shutil

import numpy as np
import pytest

from mmssl.cli import main
from mmssl.data.shards import read_metas
from mmssl.media import VideoEncoding, probe, write_mp4
from mmssl.prep.videos import window_spans
from mmssl.shard_format import read_manifest


@pytest.mark.parametrize("duration, window, stride, spans", [
    (10.0, 4.0, 2.0, [(0, 4), (2, 6), (4, 8), (6, 10)]),
    (11.0, 4.0, 2.0, [(0, 4), (2, 6), (4, 8), (6, 10), (7, 11)]),  # one more, to the end
    (10.0, 4.0, None, [(0, 4), (4, 8), (6, 10)]),
    (3.5, 4.0, 2.0, [(0, 3.5)]),  # shorter than a window: the whole video
    (7.25, 0.0, None, [(0, 7.25)]),  # window 0: the whole video
    (1.0, 0.3, 0.3, [(0, 0.3), (0.3, 0.6), (0.6, 0.9), (0.7, 1.0)]),  # no float drift
])
def test_windows_cover_the_video_with_equal_lengths(duration, window, stride, spans):
    assert window_spans(duration, window, stride) == [(float(s), float(e)) for s, e in spans]


def test_bad_windows_are_errors():
    with pytest.raises(ValueError, match="no window"):
        window_spans(0.0, 4.0)
    with pytest.raises(ValueError, match=">= 0"):
        window_spans(10.0, -1.0)


@pytest.mark.slow
def test_a_folder_becomes_unannotated_windows(tiny_world, tmp_path):
    videos = tmp_path / "videos"
    videos.mkdir()
    sources = sorted((tiny_world / "youcook2" / "videos" / "validation").rglob("*.mp4"))[:2]
    for source in sources:
        shutil.copy(source, videos / source.name)
    (videos / "broken.mp4").write_bytes(b"not a video at all")
    tone = 0.3 * np.sin(np.arange(3 * 16000) / 16000 * 2 * np.pi * 440)[None]
    write_mp4(videos / "sound_only.mp4", None, VideoEncoding(fps=8.0),
              tone.astype(np.float32), 16000)
    out = tmp_path / "shards"
    assert main(["prep", "videos", "--videos", str(videos), "--out", str(out), "--window", "5",
                 "--stride", "4", "--workers=1", "--samples-per-shard=4"]) == 0
    manifest = read_manifest(out)
    assert manifest["dataset"] == "videos" and manifest["failed"] == {"unreadable": 1}
    metas = list(read_metas(out))
    expected = {(source.stem, start) for source in sources
                for start, _ in window_spans(probe(source).duration, 5.0, 4.0)}
    expected |= {("sound_only", 0.0)}  # shorter than a window: one, audio only
    assert {(m["video_id"], m["start"]) for m in metas} == expected
    assert all(m["texts"] == [] and m["labels"] == {} for m in metas)
    by_id = {m["video_id"]: m for m in metas}
    assert by_id["sound_only"]["has_video"] is False and by_id["sound_only"]["has_audio"]
    video_windows = [m for m in metas if m["video_id"] != "sound_only"]
    assert all(m["num_frames"] == 40 for m in video_windows)  # 5 s at 8 fps, every one
