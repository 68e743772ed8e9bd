"""Every annotation value is checked once, at the door: a bad one is an AnnotationError
naming the file and the record (counted as bad_annotation, fatal with strict), never an
OverflowError, a huge allocation or fake narrations; sample keys are unique per run."""

import json

import pytest
from helpers import BAD_CAPTIONS, BAD_SEGMENTS, GOOD_CAPTION

from mmssl.prep import audioset, coin, howto100m, youcook2
from mmssl.prep.annotations import AnnotationError, admit, check_span
from mmssl.prep.tasks import SegmentSpec, VideoTask


def test_each_bad_caption_value_is_a_named_bad_record(tmp_path):
    path = tmp_path / "caption.json"
    bad = {record: value for record, (value, _) in BAD_CAPTIONS.items()}
    path.write_text(json.dumps({"good": GOOD_CAPTION, **bad}))
    captions, errors = howto100m.read_captions(path)
    problems = {error.record: str(error) for error in errors}
    assert set(problems) == set(BAD_CAPTIONS)
    for record, (_, expected) in BAD_CAPTIONS.items():
        assert problems[record].startswith(f"{path}: record {record!r}: "), problems[record]
        assert expected in problems[record], (record, problems[record])
    # A record with one bad narration keeps the good ones; none is ever split into letters.
    assert captions["good"] == [{"start": 1.0, "end": 3.5, "text": "cut the onion"},
                                {"start": 4.0, "end": 6.0, "text": "stir"}]
    assert captions["infend"] == captions["good"][:1]
    assert "dropped 1 of 2 narrations" in problems["infend"]
    assert "numberstart" not in captions and "stringstart" not in captions
    with pytest.raises(AnnotationError, match="numberstart"):
        howto100m.read_captions(path, strict=True)


def test_caption_csvs_take_text_times_but_not_bad_ones(tmp_path):
    (tmp_path / "good.csv").write_text("start,end,text\n1.5,3,cut\n4,6,stir\n")
    (tmp_path / "bad.csv").write_text("start,end,text\n1.5,3,cut\nNaN,6,stir\n")
    captions, errors = howto100m.read_captions(tmp_path)
    assert captions["good"][0] == {"start": 1.5, "end": 3.0, "text": "cut"}
    assert captions["bad"] == captions["good"][:1]
    assert [e.record for e in errors] == ["bad"] and "start nan is not finite" in str(errors[0])


def test_an_id_listed_twice_is_named(tmp_path):
    path = tmp_path / "caption.json"
    path.write_text('{"twice": %s, "once": %s, "twice": %s}' % ((json.dumps(GOOD_CAPTION),) * 3))
    captions, errors = howto100m.read_captions(path)
    assert list(captions) == ["once"]
    assert [e.record for e in errors] == ["twice"] and "listed more than once" in str(errors[0])


def test_a_malformed_task_csv(tmp_path):
    path = tmp_path / "HowTo100M_v1.csv"
    path.write_text("video_id,task_id,rank\nabc,12,1\ndef,twelve,2\n,3,1\n")
    task_ids, errors = howto100m.read_task_ids(path)
    assert task_ids == {"abc": 12}
    assert [e.record for e in errors] == ["def", "line 4"]
    assert "line 3: expected a video id and an integer task_id, got 'twelve'" in str(errors[0])
    path.write_text("id;task\nabc;12\n")
    with pytest.raises(AnnotationError, match=r"missing columns \['video_id', 'task_id'\]"):
        howto100m.read_task_ids(path)


STEP = {"segment": [2.0, 5.0], "id": 0, "sentence": "slice the bread"}


def step_record(segment, subset="validation") -> dict:
    return {"subset": subset, "recipe_type": "113", "duration": 60.0,
            "annotations": [STEP, {**STEP, "id": 1, "segment": segment}]}


def test_each_bad_youcook_segment_drops_its_step_and_is_named(tmp_path):
    path = tmp_path / "youcook.json"
    database = {name: step_record(segment) for name, (segment, _) in BAD_SEGMENTS.items()}
    path.write_text(json.dumps({"database": database}))
    parsed, errors = youcook2.read_annotations(path)
    problems = {error.record: str(error) for error in errors}
    assert set(problems) == set(BAD_SEGMENTS)
    for name, (_, expected) in BAD_SEGMENTS.items():
        assert "annotations[1]" in problems[name] and expected in problems[name], name
        assert [s.start for s in parsed[name][1]] == [2.0]  # the good step is kept


def test_a_coin_record_whose_every_step_is_bad_is_dropped(tmp_path):
    path = tmp_path / "COIN.json"
    record = {"subset": "training", "recipe_type": 3, "class": "Paint",
              "annotation": [{"id": "1", "segment": [0, float("inf")], "label": "paint"}]}
    path.write_text(json.dumps({"database": {"allbad": record}}))
    parsed, errors = coin.read_annotations(path)
    assert parsed == {} and "dropped all 1 steps" in str(errors[0])


def test_audioset_rows_with_bad_times(tmp_path):
    labels = tmp_path / "class_labels_indices.csv"
    labels.write_text('index,mid,display_name\n0,/m/09x0r,"Speech"\n')
    segments = tmp_path / "eval_segments.csv"
    rows = ["good0000001, 30.000, 40.000", "inf00000001, 30.000, inf", "nan00000001, nan, 40",
            "big00000001, 0, 1e9", "neg00000001, -5, 5", "flat0000001, 5, 5"]
    segments.write_text("# comment\n" + "".join(f'{row}, "/m/09x0r"\n' for row in rows))
    mids, _ = audioset.read_class_labels(labels)
    parsed, errors = audioset.read_all_segments([segments], mids)
    assert [s.ytid for s in parsed] == ["good0000001"]
    problems = {error.record: str(error) for error in errors}
    assert "end inf is not finite" in problems["inf00000001"]
    assert "start nan is not finite" in problems["nan00000001"]
    assert "past any video's end" in problems["big00000001"]
    assert "negative" in problems["neg00000001"] and "no clip" in problems["flat0000001"]


def test_check_span_is_the_one_rule():
    assert check_span(0, 2) == (0.0, 2.0) and check_span(3, 3) == (3.0, 3.0)
    assert check_span("1.5", "2", text=True) == (1.5, 2.0)
    for start, end in [(0, float("inf")), (float("-inf"), 1), (True, 2), (None, 1), ([0], 1),
                       (2, 1), (-0.5, 1), (0, 7 * 24 * 3600 + 1), ("1", 2)]:
        with pytest.raises(ValueError):
            check_span(start, end)


def test_two_segments_with_one_key_are_refused_at_the_door():
    first = SegmentSpec(12.0, 20.0, labels={"segment_id": 0})
    repeated = SegmentSpec(12.0004, 20.0, labels={"segment_id": 1})  # the same span, in ms
    other = SegmentSpec(30.0, 35.0)
    tasks = [VideoTask("youcook2", "vid", "/v.mp4", (first, repeated, other)),
             VideoTask("youcook2", "gone", "/g.mp4", (SegmentSpec(1.0, 2.0),)),
             VideoTask("youcook2", "gone", "/g.mp4", (SegmentSpec(1.0, 3.0),))]
    admitted, failures = admit(tasks, [], False, "annotations.json")
    assert [t.segments for t in admitted] == [(first, other), (SegmentSpec(1.0, 2.0),)]
    assert [f.reason for f in failures] == ["bad_annotation"] * 2
    assert failures[0].video_id == "vid"
    assert "segment 12.0004-20 s would be sample vid-" in failures[0].detail
    assert "as is segment 12-20 s of video 'vid'" in failures[0].detail
    with pytest.raises(AnnotationError, match="annotations.json: record 'vid'"):
        admit(tasks, [], True, "annotations.json")


def test_steps_of_one_video_that_start_together_are_both_admitted():
    first, later_end = SegmentSpec(12.0, 20.0), SegmentSpec(12.0, 25.0)
    admitted, failures = admit([VideoTask("youcook2", "vid", "/v.mp4", (first, later_end))],
                               [], True, "annotations.json")
    assert admitted[0].segments == (first, later_end) and failures == []
