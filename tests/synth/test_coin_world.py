"""The synthetic COIN: the published format field by field, playable videos where COIN's
layout puts them, determinism, and tasks that differ in what is seen."""

import json
import re
from itertools import combinations
from pathlib import Path

import numpy as np
import pytest

from mmssl.media import cut_segments, probe
from mmssl.synth.coin import TASKS, coin_database, write_coin
from mmssl.synth.videos import MediaSettings
from mmssl.synth.world import COLORS

TINY = {"videos": 8, "seed": 0, "media": MediaSettings(width=64, height=48, fps=8.0),
        "seconds": (12.0, 14.0)}
RECORD_KEYS = {"duration", "class", "video_url", "start", "end", "subset", "recipe_type",
               "annotation"}
OBJECT_THRESHOLD = 90  # summed |RGB - background|, as in test_generate


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("coin")
    counts = write_coin(root, **TINY)
    assert counts["coin_videos"] == TINY["videos"] and counts["testing"] == 1
    return root


@pytest.fixture(scope="module")
def database(world) -> dict:
    return json.loads((world / "COIN.json").read_text())["database"]


def label_words(label: str) -> tuple[str, str, str]:
    """(colour, shape, motion) of "move the <colour> <shape> <motion>"."""
    verb, article, color, shape, motion = label.split()
    assert (verb, article) == ("move", "the"), label
    return color, shape, motion


def test_records_follow_published_format(database):
    assert len(database) == TINY["videos"]
    for video_id, record in database.items():
        assert set(record) == RECORD_KEYS, video_id
        assert type(record["duration"]) is float
        assert TINY["seconds"][0] <= record["duration"] <= TINY["seconds"][1]
        assert re.fullmatch(r"(?:[A-Z][a-z]+)+", record["class"]), record["class"]
        assert record["video_url"] == f"https://www.youtube.com/embed/{video_id}"
        assert type(record["recipe_type"]) is int
        assert record["subset"] in ("training", "testing")
        steps = record["annotation"]
        assert steps and isinstance(steps, list), video_id
        assert type(record["start"]) is float and type(record["end"]) is float
        assert (record["start"], record["end"]) == (steps[0]["segment"][0],
                                                    steps[-1]["segment"][1])
        previous_end = 0.0
        for step in steps:
            assert set(step) == {"id", "segment", "label"}
            assert isinstance(step["id"], str) and step["id"].isdigit()
            assert isinstance(step["label"], str)
            start, end = step["segment"]
            assert type(start) is float and type(end) is float
            assert previous_end <= start < end <= record["duration"], (video_id, step)
            previous_end = end


def test_about_a_quarter_testing_with_every_task(tmp_path):
    database, jobs = coin_database(tmp_path, 48, seed=4, seconds=(12.0, 14.0))
    assert len(jobs) == 48 and not list(tmp_path.iterdir())  # planning writes nothing
    testing = [r for r in database.values() if r["subset"] == "testing"]
    assert len(testing) == 12
    assert {r["class"] for r in testing} == {task.name for task in TASKS}


def test_step_ids_are_one_string_per_label(tmp_path):
    database, _ = coin_database(tmp_path, 48, seed=4, seconds=(12.0, 14.0))
    pairs = {(s["label"], s["id"]) for r in database.values() for s in r["annotation"]}
    labels, ids = zip(*pairs, strict=True)
    assert len(set(labels)) == len(pairs) == len(set(ids)) > len(TASKS)


def test_tasks_differ_in_what_is_seen(tmp_path):
    database, _ = coin_database(tmp_path, 48, seed=4, seconds=(12.0, 14.0))
    objects: dict[str, set] = {}
    for record in database.values():
        seen = {label_words(s["label"])[:2] for s in record["annotation"]}
        objects.setdefault(record["class"], set()).update(seen)
    assert len(objects) == len(TASKS)
    assert {r["recipe_type"] for r in database.values()} == {t.task_id for t in TASKS}
    for first, second in combinations(objects, 2):
        assert not objects[first] & objects[second], (first, second)


def test_videos_play_at_coin_paths(world, database):
    for video_id, record in database.items():
        path = world / "videos" / f"{video_id}.mp4"
        info = probe(path)
        assert info.has_video and info.has_audio
        assert (info.width, info.height) == (TINY["media"].width, TINY["media"].height)
        tolerance = 1.0 / TINY["media"].fps + 0.1
        assert info.duration == pytest.approx(record["duration"], abs=tolerance)
    assert not list(world.rglob("*.part.mp4"))


def test_object_colour_matches_step_label(world, database):
    names = list(COLORS)
    table = np.array([COLORS[name] for name in names], dtype=float)
    for video_id, record in database.items():
        step = record["annotation"][0]
        background, clip = cut_segments(world / "videos" / f"{video_id}.mp4",
                                        [(0.0, 0.25), tuple(step["segment"])], fps=8.0)
        diff = np.abs(clip.frames.astype(int) - background.frames[0].astype(int)).sum(-1)
        masks = diff > OBJECT_THRESHOLD
        assert masks.sum() > 50, (video_id, step)
        colour = np.median(clip.frames[masks].astype(float), axis=0)
        nearest = names[int(np.argmin(np.linalg.norm(table - colour, axis=1)))]
        assert nearest == label_words(step["label"])[0], (video_id, step, colour)


def test_same_seed_same_world_other_seed_other_world(world, tmp_path):
    write_coin(tmp_path / "again", **TINY)
    assert (tmp_path / "again" / "COIN.json").read_bytes() == (world / "COIN.json").read_bytes()
    names = sorted(p.name for p in (tmp_path / "again" / "videos").iterdir())
    assert names == sorted(p.name for p in (world / "videos").iterdir())
    other, _ = coin_database(tmp_path, TINY["videos"], seed=1, seconds=TINY["seconds"])
    first = json.loads((world / "COIN.json").read_text())["database"]
    assert not set(other) & set(first)
