"""A tiny AudioSet in the published formats (``docs/formats.md``), from the synthetic world.

Layout under ``root``::

    balanced_train_segments.csv   # comments, then  YTID, start, end, "mid,mid"
    eval_segments.csv
    class_labels_indices.csv      index,mid,display_name
    ontology.json                 the classes under one abstract parent
    clips/<YTID>_<start>_<end>.{mp4,wav}   10-s segments, cut out already

The classes are the world's sounds (whistle, buzz, chime, knock, hiss) plus speech-like
chatter. A clip holds 1-3 events, one after another, each with a different class, so its
labels are multi-label and every label is audible. Clips cycle through three kinds: mp4
with video and audio, stereo 16-bit wav (stdlib ``wave``), and mp4 with audio only.
Everything is a deterministic function of ``seed``.
"""

from __future__ import annotations

import dataclasses
import json
import wave
from pathlib import Path

import numpy as np

from mmssl.media.encode import VideoEncoding, write_mp4
from mmssl.synth.render import render_audio, render_frames
from mmssl.synth.world import SOUNDS, Event, random_event, random_video_id

CLASSES = (*SOUNDS, "chatter")
MIDS = {name: f"/m/synth_{name}" for name in CLASSES}
DISPLAY_NAMES = {name: name.capitalize() for name in SOUNDS} | {"chatter": "Speech-like chatter"}
PARENT_MID = "/m/synth_sound"
KINDS = ("video", "wav", "audio_mp4")
SEGMENT_SECONDS = 10.0
CSV_HEADER = "# YTID, start_seconds, end_seconds, positive_labels"


def write_audioset(root: str | Path, clips: int, seed: int, audio_rate: int = 22050,
                   fps: float = 8.0, width: int = 64, height: int = 48,
                   eval_fraction: float = 0.34) -> dict:
    """Write ``clips`` clips and their annotation files under ``root``.

    Returns ``{"clips": {ytid: {"subset", "start", "end", "kind", "path", "events":
    [{"start", "end", "sound"}, ...]}}}`` (what was rendered, for tests).
    """
    root = Path(root)
    (root / "clips").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng([seed, 7])
    written, rows = {}, {"balanced_train": [], "eval": []}
    eval_count = int(round(clips * eval_fraction))
    for index in range(clips):
        ytid, start = random_video_id(rng), float(rng.integers(0, 30) * 10)
        events = clip_events(rng)
        subset = "eval" if index < eval_count else "balanced_train"
        kind = KINDS[index % len(KINDS)]
        path = _write_clip(root / "clips", ytid, start, kind, events,
                           np.random.default_rng([seed, 7, index]), audio_rate, fps,
                           (width, height))
        rows[subset].append((ytid, start, sorted({e.sound for e in events}, key=CLASSES.index)))
        written[ytid] = {"subset": subset, "start": start, "end": start + SEGMENT_SECONDS,
                         "kind": kind, "path": str(path),
                         "events": [{"start": e.start, "end": e.end, "sound": e.sound}
                                    for e in events]}
    for subset, subset_rows in rows.items():
        _write_segments(root / f"{subset}_segments.csv", subset_rows)
    _write_class_labels(root / "class_labels_indices.csv")
    (root / "ontology.json").write_text(json.dumps(ontology(), indent=1))
    return {"clips": written}


def clip_events(rng: np.random.Generator) -> list[Event]:
    """1-3 events with distinct classes, each 2-3 s inside its own slot of the 10 s."""
    count = int(rng.integers(1, 4))
    sounds = rng.choice(CLASSES, size=count, replace=False)
    slot = SEGMENT_SECONDS / count
    events = []
    for index, sound in enumerate(sounds):
        length = float(rng.uniform(2.0, min(3.0, slot - 0.6)))
        start = round(index * slot + float(rng.uniform(0.2, slot - length - 0.2)), 2)
        event = random_event(rng, start, round(start + length, 2))
        events.append(dataclasses.replace(event, sound=str(sound)))
    return events


def chatter(count: int, rate: int, rng: np.random.Generator) -> np.ndarray:
    """Speech-like babble: 4-6 syllables a second, each a voiced harmonic tone (f0 110-220 Hz,
    harmonics falling as 1/k) under a raised-sine envelope."""
    out = np.zeros(count, np.float32)
    position = 0
    while position < count:
        length = min(int(rate * rng.uniform(0.16, 0.25)), count - position)
        time = np.arange(length) / rate
        f0 = rng.uniform(110.0, 220.0) * (1.0 + 0.1 * time)
        voice = sum(np.sin(2 * np.pi * k * f0 * time) / k for k in range(1, 7))
        out[position : position + length] = 0.15 * voice * np.sin(np.pi * time / time[-1]) ** 2
        position += length
    return out


def ontology() -> list[dict]:
    """Published ``ontology.json`` records: an abstract parent and one leaf per class."""
    def record(mid, name, description, children=(), restrictions=()):
        return {"id": mid, "name": name, "description": description,
                "citation_uri": "", "positive_examples": [], "child_ids": list(children),
                "restrictions": list(restrictions)}

    leaves = [record(MIDS[c], DISPLAY_NAMES[c], f"The synthetic world's {c} sound.")
              for c in CLASSES]
    parent = record(PARENT_MID, "Synthetic sound", "Sounds made in the synthetic world.",
                    [MIDS[c] for c in CLASSES], ["abstract"])
    return [parent, *leaves]


def _render_audio(events: list[Event], rate: int, rng: np.random.Generator) -> np.ndarray:
    sounds = [e for e in events if e.sound != "chatter"]
    audio = render_audio(sounds, SEGMENT_SECONDS, rate, rng)
    for event in events:
        if event.sound == "chatter":
            lo, hi = int(event.start * rate), int(event.end * rate)
            audio[0, lo:hi] += chatter(hi - lo, rate, rng)
    return audio


def _write_clip(folder: Path, ytid: str, start: float, kind: str, events: list[Event],
                rng: np.random.Generator, rate: int, fps: float, size: tuple[int, int]) -> Path:
    stem = f"{ytid}_{int(start)}_{int(start + SEGMENT_SECONDS)}"
    audio = _render_audio(events, rate, rng)
    if kind == "wav":
        path = folder / f"{stem}.wav"
        _write_wav(path, np.repeat(audio, 2, axis=0), rate)
        return path
    frames = None
    if kind == "video":
        frames = render_frames(events, SEGMENT_SECONDS, fps, *size, rng)
    path = folder / f"{stem}.mp4"
    write_mp4(path, frames, VideoEncoding(fps=fps, preset="ultrafast"), audio, rate)
    return path


def _write_wav(path: Path, audio: np.ndarray, rate: int) -> None:
    """(C, N) float in [-1, 1] as 16-bit PCM, channels interleaved."""
    pcm = (np.clip(audio, -1.0, 1.0) * 32767).astype("<i2").T
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(audio.shape[0])
        handle.setsampwidth(2)
        handle.setframerate(rate)
        handle.writeframes(pcm.tobytes())


def _write_segments(path: Path, rows: list[tuple[str, float, list[str]]]) -> None:
    labels = sum(len(sounds) for _, _, sounds in rows)
    lines = ["# Segments csv created Sun Mar  5 10:54:31 2017",
             f"# num_ytids={len(rows)}, num_segs={len(rows)}, "
             f"num_unique_labels={len(CLASSES)}, num_positive_labels={labels}",
             CSV_HEADER]
    for ytid, start, sounds in rows:
        mids = ",".join(MIDS[s] for s in sounds)
        lines.append(f'{ytid}, {start:.3f}, {start + SEGMENT_SECONDS:.3f}, "{mids}"')
    path.write_text("\n".join(lines) + "\n")


def _write_class_labels(path: Path) -> None:
    lines = ["index,mid,display_name"]
    lines += [f'{i},{MIDS[c]},"{DISPLAY_NAMES[c]}"' for i, c in enumerate(CLASSES)]
    path.write_text("\n".join(lines) + "\n")
