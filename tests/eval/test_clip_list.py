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


def test_rows_sharing_a_start_match_their_own_segments():
    """MIL-NCE's list has steps that start together (10dZTHlkb8w at 210 s ends at 215 and
    225): each row goes to the segment whose end is nearest, and a row repeated is kept."""
    metas = [{"video_id": "A", "start": 210.0, "end": 215.04},
             {"video_id": "A", "start": 210.0, "end": 225.0},
             {"video_id": "A", "start": 120.0, "end": 252.0}]
    rows = [ClipRow("A", 210, 225, "spinach"), ClipRow("A", 210, 215, "basil"),
            ClipRow("A", 120, 252, "soak gram"), ClipRow("A", 120, 252, "pressure cook")]
    match = match_clips(rows, metas, tolerance=0.5)
    assert match.segment_index == [1, 0, 2, 2] and not match.missing


def test_protocol_is_the_checkpoints_unless_named():
    from mmssl.config import EvalConfig, TrainConfig
    from mmssl.eval.retrieval import WINDOW_MARGINS, retrieval_protocol

    milnce = TrainConfig(eval_protocol="milnce")
    assert retrieval_protocol(EvalConfig(), milnce) == "milnce"
    assert retrieval_protocol(EvalConfig(protocol="mmssl"), milnce) == "mmssl"
    assert retrieval_protocol(EvalConfig(), TrainConfig()) == "mmssl"
    assert WINDOW_MARGINS == {"mmssl": 0.0, "milnce": 0.4}
    with pytest.raises(ValueError, match="unknown retrieval protocol 'other'"):
        retrieval_protocol(EvalConfig(protocol="other"), milnce)
