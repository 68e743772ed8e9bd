"""What happens in the synthetic world, and how people talk about it.

Each video is a timeline of *events*: one object of some size, colour and shape crossing
the scene in one direction while making a sound. What can be seen and what can be heard
overlap only partly, so that each modality carries words the other cannot:

=========  ===============================  ======================================
attribute  seen (video)                     heard (audio)
=========  ===============================  ======================================
colour     yes                              no
shape      yes                              no
motion     yes (needs >1 frame)             pitch glides (up/down), loudness (l/r)
size       yes                              register (big objects sound lower)
sound      no                               yes: whistle, buzz, chime, knock, hiss
=========  ===============================  ======================================

HowTo100M-style narrations are ASR-like: some are spoken seconds before or after the event
they describe and some are unrelated chatter. YouCook2-style step sentences are aligned to
the event exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

COLORS = {
    "red": (220, 40, 40), "green": (40, 180, 60), "blue": (50, 90, 235),
    "yellow": (230, 215, 40), "purple": (160, 60, 210), "orange": (245, 135, 30),
    "white": (240, 240, 240), "cyan": (40, 205, 215),
}
SHAPES = ("square", "ring", "bar", "triangle", "cross")
MOTIONS = ("left", "right", "up", "down")
SIZES = ("small", "big")
SOUNDS = ("whistle", "buzz", "chime", "knock", "hiss")

CHATTER = (
    "welcome back to my channel", "dont forget to subscribe", "ok lets get started",
    "thanks for watching everyone", "let me know in the comments", "this part is really easy",
    "i will put the link below", "so that is pretty much it", "hi guys and welcome",
    "alright lets keep going",
)
HOWTO_TEMPLATES = (
    "now the {size} {color} {shape} moves {motion} with a {sound}",
    "so here a {size} {color} {shape} goes {motion} and you hear a {sound}",
    "you can see the {color} {shape} it is {size} sliding {motion} with a {sound}",
    "a {sound} while this {size} {color} {shape} travels {motion}",
    "next the {color} {shape} {size} one heads {motion} making a {sound}",
)
YOUCOOK_TEMPLATE = "{size} {color} {shape} moves {motion} with a {sound}"

ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


@dataclass(frozen=True)
class Event:
    """One object crossing the scene during [start, end) seconds."""

    start: float
    end: float
    size: str
    color: str
    shape: str
    motion: str
    sound: str

    def words(self) -> dict[str, str]:
        return {"size": self.size, "color": self.color, "shape": self.shape,
                "motion": self.motion, "sound": self.sound}


@dataclass(frozen=True)
class Narration:
    start: float
    end: float
    text: str


def random_event(rng: np.random.Generator, start: float, end: float) -> Event:
    return Event(start, end, str(rng.choice(SIZES)), str(rng.choice(list(COLORS))),
                 str(rng.choice(SHAPES)), str(rng.choice(MOTIONS)), str(rng.choice(SOUNDS)))


def random_video_id(rng: np.random.Generator) -> str:
    """An 11-character YouTube-style id."""
    return "".join(rng.choice(list(ID_ALPHABET), size=11))


def event_timeline(
    rng: np.random.Generator, duration: float, event_seconds=(3.5, 6.0), gap_seconds=(0.5, 2.0),
    whole_seconds: bool = False,
) -> list[Event]:
    """Events one after another with short empty gaps, all inside [0, duration).

    ``whole_seconds`` puts boundaries on integer seconds, as YouCook2's annotations are.
    """
    events, time = [], float(rng.uniform(*gap_seconds))
    while True:
        start, length = time, float(rng.uniform(*event_seconds))
        if whole_seconds:
            start, length = float(np.ceil(start)), float(max(3, round(length)))
        if start + length > duration - 0.25:
            return events
        events.append(random_event(rng, start, start + length))
        time = start + length + float(rng.uniform(*gap_seconds))


def howto_narrations(rng: np.random.Generator, events: list[Event],
                     duration: float) -> list[Narration]:
    """ASR-like narrations: aligned (60%), shifted 2.5-5 s (25%) or missing (15%) for each
    event, plus chatter in some gaps. Sorted by start time, as HowTo100M's captions are."""
    narrations = []
    for event in events:
        draw = rng.uniform()
        if draw >= 0.85:
            continue
        length = float(rng.uniform(1.5, 3.0))
        start = float(rng.uniform(event.start, max(event.start, event.end - length)))
        if draw >= 0.60:
            start += float(rng.choice([-1, 1]) * rng.uniform(2.5, 5.0))
        start = float(np.clip(start, 0.0, duration - length))
        narrations.append(Narration(start, start + length, howto_sentence(rng, event)))
    for _ in range(int(rng.integers(1, 4))):
        start = float(rng.uniform(0, duration - 2.0))
        narrations.append(Narration(start, start + 2.0, str(rng.choice(CHATTER))))
    return sorted(narrations, key=lambda n: n.start)


def howto_sentence(rng: np.random.Generator, event: Event) -> str:
    template = str(rng.choice(HOWTO_TEMPLATES))
    words = event.words()
    if rng.uniform() < 0.15:  # ASR drops a word now and then
        words["size"] = ""
    return " ".join(template.format(**words).split())


def youcook_sentence(event: Event) -> str:
    return YOUCOOK_TEMPLATE.format(**event.words())
