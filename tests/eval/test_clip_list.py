"""Clip-list CSVs: reading the published columns, matching to segments, reporting misses."""

import pytest

from mmssl.eval.retrieval import ClipRow, match_clips, read_clip_list


def test_reads_the_mil_nce_columns_in_any_order(tmp_path):
    path = tmp_path / "youcook2_val.csv"
    path.write_text("video_id,text,task,start,end,extra\n"
                    'GLd3aX16zBg,"spread margarine, on bread",113,90,102,x\n')
    assert read_clip_list(path) == [ClipRow("GLd3aX16zBg", 90.0, 102.0,
                                            "spread margarine, on bread", "113")]


@pytest.mark.parametrize("content, message", [
    ("video_id,start,end\nA,1,2\n", "missing \\['text'\\]"),
    ("end,start,task,text,video_id\n2,x,1,t,A\n", "line 2: start/end must be numbers"),
    ("end,start,task,text,video_id\n1,2,1,t,A\n", "line 2: need a video_id and 0 <= start"),
    ("end,start,task,text,video_id\n", "empty"),
])
def test_bad_lists_name_the_file_and_line(tmp_path, content, message):
    path = tmp_path / "clips.csv"
    path.write_text(content)
    with pytest.raises(ValueError, match=message):
        read_clip_list(path)


def test_matching_takes_the_nearest_start_and_reports_the_rest():
    metas = [{"video_id": "A", "start": 10.06}, {"video_id": "A", "start": 30.0},
             {"video_id": "B", "start": 5.0}]
    rows = [ClipRow("A", 30.1, 40, "second"), ClipRow("A", 10.0, 20, "first"),
            ClipRow("C", 0, 5, "gone"), ClipRow("B", 50, 60, "far")]
    match = match_clips(rows, metas, tolerance=0.5)
    assert match.segment_index == [1, 0] and [r.text for r in match.rows] == ["second", "first"]
    summary = match.summary()
    assert summary["listed"] == 4 and summary["found"] == 2
    assert summary["missing"] == {"missing_video": 1, "missing_segment": 1}
    assert {m["video_id"] for m in summary["missing_rows"]} == {"B", "C"}
