"""A synthetic COIN: task-structured videos in COIN's published format (``docs/formats.md``).

Layout under ``root``::

    COIN.json              {"database": {id: {"duration", "class", "video_url", "start", "end",
                            "subset", "recipe_type", "annotation": [{"id", "segment", "label"}]}}}
    videos/<id>.mp4        H.264 + AAC

Each synthetic *task* is a characteristic cycle of step kinds; a step moves one of the task's
two objects (a colour and shape no other task uses) in a direction, e.g. "move the red square
left". What is seen therefore tells tasks apart, so a linear probe on video features can
classify them. Size and sound vary freely (they are not in the step labels). A video follows
its task's cycle from the first step, now and then skipping one, as COIN's videos do.
Everything is a deterministic function of ``seed``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from mmssl.synth.videos import MediaSettings, VideoJob, write_videos
from mmssl.synth.world import Event, event_timeline, random_video_id

STEP_TEMPLATE = "move the {color} {shape} {motion}"
TESTING_EVERY = 4  # one video in four of each task is in the testing subset
SKIP_PROBABILITY = 0.15


@dataclass(frozen=True)
class CoinTask:
    """A task: its COIN id (``recipe_type``), CamelCase name (``class``) and step cycle."""

    task_id: int
    name: str
    steps: tuple[tuple[str, str, str], ...]  # (colour, shape, motion) per step kind


TASKS = (
    CoinTask(12, "StackRedSquares", (("red", "square", "down"), ("orange", "triangle", "down"),
                                     ("red", "square", "up"), ("orange", "triangle", "right"))),
    CoinTask(37, "RollBlueRings", (("blue", "ring", "right"), ("cyan", "ring", "right"),
                                   ("blue", "ring", "left"), ("cyan", "ring", "up"))),
    CoinTask(58, "SortGreenBars", (("green", "bar", "up"), ("yellow", "bar", "down"),
                                   ("green", "bar", "left"), ("yellow", "bar", "up"))),
    CoinTask(104, "FoldPurpleCrosses", (("purple", "cross", "left"), ("white", "square", "down"),
                                        ("purple", "cross", "right"), ("white", "square", "left"))),
    CoinTask(131, "ThrowYellowTriangles", (("yellow", "triangle", "up"),
                                           ("red", "cross", "left"),
                                           ("yellow", "triangle", "right"),
                                           ("red", "cross", "down"))),
    CoinTask(163, "PaintWhiteRings", (("white", "ring", "down"), ("green", "cross", "right"),
                                      ("white", "ring", "up"), ("green", "cross", "left"))),
)


def step_label(color: str, shape: str, motion: str) -> str:
    return STEP_TEMPLATE.format(color=color, shape=shape, motion=motion)


def step_ids() -> dict[str, str]:
    """Step label -> string id, one id per distinct label across all tasks (as in COIN)."""
    labels = dict.fromkeys(step_label(*step) for task in TASKS for step in task.steps)
    return {label: str(index + 1) for index, label in enumerate(labels)}


DEFAULT_MEDIA = MediaSettings()


def write_coin(root: Path, videos: int, seed: int, media: MediaSettings = DEFAULT_MEDIA,
               seconds=(30.0, 42.0), workers: int = 1) -> dict:
    """Write ``COIN.json`` and ``videos/<id>.mp4`` under ``root``; returns counts."""
    root = Path(root)
    (root / "videos").mkdir(parents=True, exist_ok=True)
    database, jobs = coin_database(root / "videos", videos, seed, seconds)
    (root / "COIN.json").write_text(json.dumps({"database": database}))
    write_videos(jobs, media, workers)
    subsets = [record["subset"] for record in database.values()]
    return {"coin_videos": len(database), "testing": subsets.count("testing"),
            "steps": sum(len(record["annotation"]) for record in database.values())}


def coin_database(video_dir: Path, videos: int, seed: int,
                  seconds=(30.0, 42.0)) -> tuple[dict, list[VideoJob]]:
    """The ``database`` object and one render job per video; tasks are dealt round-robin."""
    rng = np.random.default_rng([seed, 3])
    ids = step_ids()
    database, jobs = {}, []
    for index in range(videos):
        task_index, occurrence = index % len(TASKS), index // len(TASKS)
        task = TASKS[task_index]
        video_id = random_video_id(rng)
        duration = float(round(rng.uniform(*seconds), 2))
        events = task_events(rng, task, duration)
        testing = (occurrence + task_index) % TESTING_EVERY == TESTING_EVERY - 1
        database[video_id] = _record(video_id, task, duration, events, ids, testing)
        jobs.append(VideoJob(video_dir / f"{video_id}.mp4", tuple(events), duration,
                             (seed, 3, index), True))
    return database, jobs


def task_events(rng: np.random.Generator, task: CoinTask, duration: float) -> list[Event]:
    """The world's timeline (never empty) recoloured to follow ``task``'s step cycle."""
    timeline: list[Event] = []
    while not timeline:
        timeline = event_timeline(rng, duration)
    events, step = [], 0
    for event in timeline:
        if events and rng.uniform() < SKIP_PROBABILITY:
            step += 1
        color, shape, motion = task.steps[step % len(task.steps)]
        events.append(replace(event, start=round(event.start, 2), end=round(event.end, 2),
                              color=color, shape=shape, motion=motion))
        step += 1
    return events


def _record(video_id: str, task: CoinTask, duration: float, events: list[Event],
            ids: dict[str, str], testing: bool) -> dict:
    annotation = []
    for event in events:
        label = step_label(event.color, event.shape, event.motion)
        annotation.append({"id": ids[label], "segment": [event.start, event.end], "label": label})
    return {
        "duration": duration, "class": task.name,
        "video_url": f"https://www.youtube.com/embed/{video_id}",
        "start": events[0].start, "end": events[-1].end,
        "subset": "testing" if testing else "training", "recipe_type": task.task_id,
        "annotation": annotation,
    }
