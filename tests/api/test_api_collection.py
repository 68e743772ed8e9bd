"""``mmssl embed --videos``: spans from a CSV or windows of a folder, one file or a folder
of parts, failures counted, and a rerun that redoes only what was not finished."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

import mmssl
from mmssl.api.collection import INDEX_NAME, iter_index, read_part
from mmssl.cli import main
from mmssl.prep.videos import window_spans

# Every test runs mmssl embed on real videos (seconds each on 2 cores).
pytestmark = pytest.mark.slow


def embed(checkpoint, videos, out, *settings):
    return main(["embed", "--checkpoint", str(checkpoint), "--videos", str(videos), "--out",
                 str(out), "--windows=2", *settings])


def write_csv(path: Path, rows: list[dict], spans: bool) -> Path:
    header = "video_id,path,start,end\n" if spans else "video_id,path\n"
    lines = [f"{r['video_id']},{r['path']},{r['start']},{r['end']}\n" if spans
             else f"{r['video_id']},{r['path']}\n" for r in rows]
    path.write_text(header + "".join(lines))
    return path


@pytest.fixture
def three_videos(youcook_segments, tmp_path) -> Path:
    firsts = list({s["video_id"]: s for s in reversed(youcook_segments)}.values())
    return write_csv(tmp_path / "videos.csv", sorted(firsts, key=lambda s: s["video_id"]),
                     spans=False)


def test_csv_spans_give_the_api_s_rows_in_one_file_or_in_parts(fresh_checkpoint,
                                                                youcook_segments, tmp_path):
    clips = write_csv(tmp_path / "clips.csv", youcook_segments[:5], spans=True)
    single = tmp_path / "clips.safetensors"
    assert embed(fresh_checkpoint, clips, single, "--part-videos=1") == 0
    keys, arrays, metadata = read_part(single)
    assert keys == [f"{s['video_id']}@{s['start']:.2f}-{s['end']:.2f}"
                    for s in youcook_segments[:5]]
    assert not (tmp_path / "clips.safetensors.parts").exists()  # parts merged, then removed
    model = mmssl.load(fresh_checkpoint, windows=2)
    for row, segment in enumerate(youcook_segments[:5]):
        video = model.embed_video(segment["path"], segment["start"], segment["end"])
        torch.testing.assert_close(arrays["video.vt"][row], video["vt"][0], rtol=1e-5,
                                   atol=1e-6)
    assert json.loads(metadata["settings"])["checkpoint"] == str(fresh_checkpoint.resolve())

    folder = tmp_path / "clips_index"
    assert embed(fresh_checkpoint, clips, folder, "--part-videos=1") == 0
    index = json.loads((folder / INDEX_NAME).read_text())
    assert index["rows"] == 5 and len(index["parts"]) == len({s["video_id"] for s in
                                                              youcook_segments[:5]})
    parts = list(iter_index(folder))
    assert sum((part_keys for part_keys, _ in parts), []) == keys
    torch.testing.assert_close(torch.cat([a["audio.at"] for _, a in parts]), arrays["audio.at"])


def test_windows_of_a_folder_and_an_unreadable_file(fresh_checkpoint, youcook_segments,
                                                    tmp_path, capsys):
    folder = tmp_path / "videos"
    folder.mkdir()
    shutil.copy(youcook_segments[0]["path"], folder / "cooking.mp4")
    (folder / "broken.mp4").write_bytes(b"\x00" * 100)
    out = tmp_path / "windows.safetensors"
    assert embed(fresh_checkpoint, folder, out, "--window=4", "--stride=3") == 0
    keys, arrays, metadata = read_part(out)
    spans = window_spans(mmssl.prep.videos.video_duration(str(folder / "cooking.mp4")), 4, 3)
    assert keys == [f"cooking@{s:.2f}-{e:.2f}" for s, e in spans]
    assert [f["reason"] for f in json.loads(metadata["failures"])] == ["unreadable"]
    assert arrays["video.vt"].shape == (len(spans), 128)
    assert f"{len(spans)} spans of 2 videos" in capsys.readouterr().out


def test_a_rerun_redoes_only_missing_parts_and_refuses_other_settings(fresh_checkpoint,
                                                                       three_videos, tmp_path):
    out = tmp_path / "index"
    assert embed(fresh_checkpoint, three_videos, out, "--part-videos=1", "--window=6") == 0
    parts = sorted(out.glob("part-*.safetensors"))
    before = {path.name: (path.stat().st_mtime_ns, read_part(path)) for path in parts}
    parts[1].unlink()  # as if the run had been stopped while writing it
    (out / INDEX_NAME).unlink()
    assert embed(fresh_checkpoint, three_videos, out, "--part-videos=1", "--window=6") == 0
    for path in parts:
        keys, arrays, metadata = read_part(path)
        assert (keys, metadata) == before[path.name][1][::2]
        for name, value in before[path.name][1][1].items():
            torch.testing.assert_close(arrays[name], value)
    assert parts[0].stat().st_mtime_ns == before[parts[0].name][0]  # not redone
    assert parts[1].stat().st_mtime_ns != before[parts[1].name][0]  # redone
    with pytest.raises(ValueError, match=r"part-000000.safetensors was written with other"):
        embed(fresh_checkpoint, three_videos, out, "--part-videos=1", "--window=5")


@pytest.mark.multiprocess
def test_killed_with_sigkill_then_rerun(fresh_checkpoint, three_videos, tmp_path):
    """A real ``kill -9`` once the first part is written: the rerun keeps that part as it
    is, writes the others, and ends with what an uninterrupted run writes."""
    clean = tmp_path / "clean"
    assert embed(fresh_checkpoint, three_videos, clean, "--part-videos=1") == 0
    out = tmp_path / "killed"
    command = [sys.executable, "-m", "mmssl.cli", "embed", "--checkpoint",
               str(fresh_checkpoint), "--videos", str(three_videos), "--out", str(out),
               "--windows=2", "--part-videos=1"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               env={**os.environ, "OMP_NUM_THREADS": "1"})
    first = out / "part-000000.safetensors"
    deadline = time.time() + 300
    while not first.is_file() and process.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    assert process.wait() == -signal.SIGKILL, "the run ended before it could be killed"
    assert first.is_file() and not (out / INDEX_NAME).exists()
    written = first.stat().st_mtime_ns
    assert embed(fresh_checkpoint, three_videos, out, "--part-videos=1") == 0
    assert first.stat().st_mtime_ns == written  # finished before the kill: not redone
    rows = [(keys, arrays) for keys, arrays in iter_index(out)]
    clean_rows = [(keys, arrays) for keys, arrays in iter_index(clean)]
    assert [keys for keys, _ in rows] == [keys for keys, _ in clean_rows]
    for (_, arrays), (_, expected) in zip(rows, clean_rows, strict=True):
        for name, value in expected.items():
            torch.testing.assert_close(arrays[name], value)


def test_a_finished_file_is_kept_and_other_settings_refused(fresh_checkpoint,
                                                            youcook_segments, tmp_path):
    clips = write_csv(tmp_path / "clips.csv", youcook_segments[:2], spans=True)
    out = tmp_path / "clips.safetensors"
    assert embed(fresh_checkpoint, clips, out) == 0
    written = out.stat().st_mtime_ns
    assert embed(fresh_checkpoint, clips, out) == 0  # the same run again: nothing to do
    assert out.stat().st_mtime_ns == written
    with pytest.raises(ValueError, match="clips.safetensors exists, written with other"):
        embed(fresh_checkpoint, clips, out, "--level=backbone")
    assert out.stat().st_mtime_ns == written


def test_bad_video_lists_name_the_file_and_line(fresh_checkpoint, youcook_segments, tmp_path):
    first = youcook_segments[0]
    twice = tmp_path / "twice.csv"
    twice.write_text(f"video_id,path\n{first['video_id']},a.mp4\n{first['video_id']},b.mp4\n")
    with pytest.raises(ValueError, match=r"twice.csv: line 3: video .* needs one path"):
        embed(fresh_checkpoint, twice, tmp_path / "x.safetensors")
    half = tmp_path / "half.csv"
    half.write_text(f"video_id,path,start\n{first['video_id']},{first['path']},1\n")
    with pytest.raises(ValueError, match="half.csv: needs columns video_id,path and optionally"):
        embed(fresh_checkpoint, half, tmp_path / "x.safetensors")
    backwards = tmp_path / "backwards.csv"
    backwards.write_text(f"video_id,path,start,end\n{first['video_id']},{first['path']},5,2\n")
    with pytest.raises(ValueError, match=r"backwards.csv: line 2: need 0 <= start < end"):
        embed(fresh_checkpoint, backwards, tmp_path / "x.safetensors")
