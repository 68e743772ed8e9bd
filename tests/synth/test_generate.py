"""The synthetic world on disk: public annotation formats, playable media, determinism, and
agreement between what the annotations say and what the videos show and sound like."""

import csv
import json
from dataclasses import replace
from pathlib import Path

import av
import numpy as np
import pytest

from mmssl.config import SynthConfig
from mmssl.media import AUDIO_RATE, VideoEncoding, cut_segments, decode_audio, mp4_bytes, probe
from mmssl.synth import generate_world
from mmssl.synth.generate import STOP_WORDS
from mmssl.synth.render import render_audio
from mmssl.synth.world import COLORS, ID_ALPHABET, MOTIONS, SOUNDS, Event

# Seed 0 with these counts puts every motion, and up/down events with a pitched sound, into
# the validation split; the tests below also assert that coverage so they cannot go vacuous.
SMALL = SynthConfig(
    seed=0, howto_videos=4, youcook_val_videos=6, youcook_train_videos=2,
    howto_seconds=(12.0, 14.0), youcook_seconds=(12.0, 14.0), workers=1, coin_videos=0,
    audioset_clips=0,
)
ANNOTATION_FILES = (
    "howto100m/caption.json",
    "howto100m/raw_caption.json",
    "howto100m/HowTo100M_v1.csv",
    "youcook2/youcookii_annotations_trainval.json",
)
OBJECT_THRESHOLD = 90  # summed |RGB - background|: objects are far brighter than any background
DECODE_FPS = 8.0


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("world")
    counts = generate_world(root, SMALL, progress=False)
    assert counts == {"howto100m_videos": 4, "youcook2_videos": 8}
    return root


@pytest.fixture(scope="module")
def youcook(world) -> dict:
    text = (world / "youcook2" / "youcookii_annotations_trainval.json").read_text()
    return json.loads(text)["database"]


def youcook_path(world: Path, video_id: str, item: dict) -> Path:
    return world / "youcook2" / "videos" / item["subset"] / item["recipe_type"] / f"{video_id}.mp4"


def howto_ids(world: Path) -> list[str]:
    with open(world / "howto100m" / "HowTo100M_v1.csv", newline="") as handle:
        return [row["video_id"] for row in csv.DictReader(handle)]


def codecs(path: Path) -> tuple[str | None, str | None]:
    with av.open(str(path)) as container:
        video = container.streams.video[0].codec_context.name if container.streams.video else None
        audio = container.streams.audio[0].codec_context.name if container.streams.audio else None
    return video, audio


# --- HowTo100M format ---------------------------------------------------------------------


@pytest.mark.parametrize("name", ["caption.json", "raw_caption.json"])
def test_captions_follow_published_format(world, name):
    captions = json.loads((world / "howto100m" / name).read_text())
    assert isinstance(captions, dict)
    assert sorted(captions) == sorted(howto_ids(world))
    for video_id, value in captions.items():
        assert len(video_id) == 11 and set(video_id) <= set(ID_ALPHABET)
        assert set(value) == {"start", "end", "text"}
        starts, ends, texts = value["start"], value["end"], value["text"]
        assert len(starts) == len(ends) == len(texts) >= 1
        assert all(type(t) is float for t in starts + ends), video_id
        assert all(isinstance(t, str) and t.strip() for t in texts), video_id
        assert starts == sorted(starts), video_id
        assert all(end >= start >= 0.0 for start, end in zip(starts, ends, strict=True))


def test_caption_is_raw_caption_without_stop_words(world):
    raw = json.loads((world / "howto100m" / "raw_caption.json").read_text())
    clean = json.loads((world / "howto100m" / "caption.json").read_text())
    for video_id, value in raw.items():
        assert clean[video_id]["start"] == value["start"]
        assert clean[video_id]["end"] == value["end"]
        for raw_text, text in zip(value["text"], clean[video_id]["text"], strict=True):
            assert text.split() == [w for w in raw_text.split() if w not in STOP_WORDS]


def test_howto_csv_header_and_rows(world):
    with open(world / "howto100m" / "HowTo100M_v1.csv", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["video_id", "task_id", "rank", "category_1", "category_2"]
    assert len(rows) == 1 + SMALL.howto_videos
    assert len({row[0] for row in rows[1:]}) == SMALL.howto_videos
    for row in rows[1:]:
        assert len(row) == 5
        assert row[1].isdigit() and row[2].isdigit(), row  # task_id, rank


def test_howto_videos_exist_and_play(world):
    captions = json.loads((world / "howto100m" / "raw_caption.json").read_text())
    for video_id in howto_ids(world):
        path = world / "howto100m" / "videos" / f"{video_id}.mp4"
        assert path.is_file(), path
        info = probe(path)
        video_codec, audio_codec = codecs(path)
        assert video_codec == "h264"
        assert audio_codec == ("aac" if info.has_audio else None)
        assert (info.width, info.height) == (SMALL.width, SMALL.height)
        assert info.fps == pytest.approx(SMALL.fps)
        assert SMALL.howto_seconds[0] - 0.2 <= info.duration <= SMALL.howto_seconds[1] + 0.2
        assert max(captions[video_id]["end"]) <= info.duration + 0.1


# --- YouCook2 format ----------------------------------------------------------------------


def test_youcook_annotations_follow_published_format(youcook):
    subsets = [item["subset"] for item in youcook.values()]
    assert subsets.count("validation") == SMALL.youcook_val_videos
    assert subsets.count("training") == SMALL.youcook_train_videos
    for video_id, item in youcook.items():
        assert set(item) == {"duration", "subset", "recipe_type", "annotations", "video_url"}
        assert type(item["duration"]) is float and item["duration"] > 0
        assert isinstance(item["recipe_type"], str) and item["recipe_type"].isdigit()
        assert video_id in item["video_url"]
        assert item["annotations"], video_id
        previous_end = 0
        for index, step in enumerate(item["annotations"]):
            assert set(step) == {"segment", "id", "sentence"}
            assert step["id"] == index
            assert isinstance(step["sentence"], str) and step["sentence"]
            start, end = step["segment"]
            assert type(start) is int and type(end) is int
            assert previous_end <= start < end <= item["duration"], (video_id, step)
            previous_end = end


def test_youcook_videos_exist_at_subset_recipe_paths(world, youcook):
    for video_id, item in youcook.items():
        path = youcook_path(world, video_id, item)
        assert path.is_file(), path
        info = probe(path)
        assert codecs(path) == ("h264", "aac")
        # Frames cover floor(duration * fps) / fps seconds; AAC pads up to one codec frame.
        assert info.duration == pytest.approx(item["duration"], abs=1.0 / SMALL.fps + 0.1)
    assert not list(world.rglob("*.part.mp4"))


# --- determinism --------------------------------------------------------------------------


def test_same_seed_gives_identical_annotations(world, tmp_path):
    generate_world(tmp_path, SMALL, progress=False)
    for name in ANNOTATION_FILES:
        assert (tmp_path / name).read_bytes() == (world / name).read_bytes(), name
    again = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*.mp4"))
    assert again == sorted(p.relative_to(world) for p in world.rglob("*.mp4"))


def test_other_seed_gives_other_world(world, tmp_path):
    config = replace(SMALL, seed=1, howto_videos=1, youcook_val_videos=1, youcook_train_videos=0)
    generate_world(tmp_path, config, progress=False)
    first = json.loads((world / ANNOTATION_FILES[0]).read_text())
    other = json.loads((tmp_path / ANNOTATION_FILES[0]).read_text())
    assert not set(first) & set(other)


@pytest.mark.slow
def test_no_audio_fraction_one_writes_silent_howto_videos(tmp_path):
    config = SynthConfig(seed=5, howto_videos=2, youcook_val_videos=0, youcook_train_videos=0,
                         howto_seconds=(6.0, 7.0), no_audio_fraction=1.0, workers=1)
    generate_world(tmp_path, config, progress=False)
    paths = sorted((tmp_path / "howto100m" / "videos").glob("*.mp4"))
    assert len(paths) == 2
    for path in paths:
        info = probe(path)
        assert info.has_video and not info.has_audio
        assert codecs(path) == ("h264", None)
        assert cut_segments(path, [(1.0, 2.0)], fps=DECODE_FPS)[0].audio is None


# --- what is said matches what is seen ----------------------------------------------------


def _object_masks(frames: np.ndarray, background: np.ndarray) -> np.ndarray:
    return np.abs(frames.astype(int) - background.astype(int)).sum(-1) > OBJECT_THRESHOLD


def _sentence_words(sentence: str) -> dict[str, str]:
    size, color, shape, _moves, motion, _with, _a, sound = sentence.split()
    return {"size": size, "color": color, "shape": shape, "motion": motion, "sound": sound}


def _validation_clips(world, youcook):
    """(words, clip, background frame, gap frames) for every validation step."""
    out = []
    for video_id, item in youcook.items():
        if item["subset"] != "validation":
            continue
        steps = item["annotations"]
        gaps = [(0.0, min(0.5, steps[0]["segment"][0]))]
        gaps += [(a["segment"][1], b["segment"][0])
                 for a, b in zip(steps[:-1], steps[1:], strict=True)]
        segments = [tuple(step["segment"]) for step in steps] + gaps
        clips = cut_segments(youcook_path(world, video_id, item), segments, fps=DECODE_FPS)
        background = clips[len(steps)].frames[0]
        gap_frames = np.concatenate([clip.frames for clip in clips[len(steps):]])
        for step, clip in zip(steps, clips, strict=False):
            out.append((_sentence_words(step["sentence"]), clip, background, gap_frames))
    return out


@pytest.fixture(scope="module")
def validation_clips(world, youcook):
    return _validation_clips(world, youcook)


def test_validation_steps_cover_every_motion(validation_clips):
    assert {words["motion"] for words, *_ in validation_clips} == set(MOTIONS)


def test_nothing_is_seen_between_steps(validation_clips):
    for _words, _clip, background, gap_frames in validation_clips:
        assert _object_masks(gap_frames, background).mean() < 0.005


def test_object_colour_is_the_colour_in_the_sentence(validation_clips):
    names = list(COLORS)
    table = np.array([COLORS[name] for name in names], dtype=float)
    for words, clip, background, _ in validation_clips:
        masks = _object_masks(clip.frames, background)
        assert masks.reshape(len(masks), -1).sum(1).min() > 100, words  # visible every frame
        colour = np.median(clip.frames[masks].astype(float), axis=0)
        distances = np.linalg.norm(table - colour, axis=1)
        assert names[int(np.argmin(distances))] == words["color"], (words, colour)
        assert distances.min() < 40, (words, colour)


def test_object_moves_in_the_direction_in_the_sentence(validation_clips):
    direction = {"right": (1, 0), "left": (-1, 0), "down": (0, 1), "up": (0, -1)}
    for words, clip, background, _ in validation_clips:
        masks = _object_masks(clip.frames, background)
        centroids = np.array([np.argwhere(mask).mean(axis=0)[::-1] for mask in masks])  # (x, y)
        moved = centroids[-1] - centroids[0]
        along = np.dot(moved, direction[words["motion"]])
        across = abs(np.dot(moved, direction[words["motion"]][::-1]))
        assert along > 15, (words, moved)
        assert across < 3, (words, moved)
        steps = np.diff(centroids, axis=0) @ np.array(direction[words["motion"]])
        assert (steps > -1.0).all(), (words, steps)  # steady, never backwards


def test_object_size_is_the_size_in_the_sentence(validation_clips):
    """Shapes are inscribed in a square of 24% (small) or 38% (big) of the frame height."""
    for words, clip, background, _ in validation_clips:
        masks = _object_masks(clip.frames, background)
        extents = []
        for mask in masks:
            ys, xs = np.nonzero(mask)
            extents.append(max(ys.max() - ys.min(), xs.max() - xs.min()) + 1)
        extent = float(np.median(extents)) / SMALL.height
        expected = {"small": 0.24, "big": 0.38}[words["size"]]
        assert extent == pytest.approx(expected, abs=0.05), (words, extent)


# --- what is said matches what is heard ---------------------------------------------------


def octave_shift(early: np.ndarray, late: np.ndarray, rate: int = AUDIO_RATE,
                 search: float = 1.5) -> float:
    """How many octaves ``late``'s spectrum sits above ``early``'s (negative: below).

    Log-magnitude spectra pooled into 1/100-octave bins from 80 Hz to 4 kHz (the max in each
    bin, so a narrow line is never missed) are slid against each other up to ``search``
    octaves; the best-correlated lag is the pitch change. It follows every partial at once,
    so it holds for harmonic and inharmonic timbres alike.
    """
    edges = np.geomspace(80.0, 4000.0, int(100 * np.log2(4000.0 / 80.0)) + 1)
    centres = np.sqrt(edges[:-1] * edges[1:])
    step = float(np.log2(edges[1] / edges[0]))

    def log_spectrum(audio):
        magnitude = np.abs(np.fft.rfft(audio * np.hanning(len(audio))))
        frequencies = np.fft.rfftfreq(len(audio), 1.0 / rate)
        pooled = np.interp(centres, frequencies, magnitude)  # bins narrower than the FFT's
        bounds = np.searchsorted(frequencies, edges)
        for index, (lo, hi) in enumerate(zip(bounds[:-1], bounds[1:], strict=True)):
            if hi > lo:
                pooled[index] = magnitude[lo:hi].max()
        values = np.log(pooled + 1e-3)
        return values - values.mean()

    a, b = log_spectrum(early), log_spectrum(late)
    lags = range(-int(search / step), int(search / step) + 1)
    scores = [np.mean(a[max(0, -k): len(a) - max(0, k)] * b[max(0, k): len(b) - max(0, -k)])
              for k in lags]
    return lags[int(np.argmax(scores))] * step


def spectral_centroid(audio: np.ndarray, rate: int = AUDIO_RATE) -> float:
    power = np.abs(np.fft.rfft(audio * np.hanning(len(audio)))) ** 2
    frequencies = np.fft.rfftfreq(len(audio), 1.0 / rate)
    band = (frequencies >= 80.0) & (frequencies <= 7000.0)
    return float((power[band] * frequencies[band]).sum() / power[band].sum())


def loudness_ratio(early: np.ndarray, late: np.ndarray) -> float:
    return float(np.sqrt(np.mean(late**2) / np.mean(early**2)))


def first_and_last_third(audio: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    third = len(audio) // 3
    return audio[:third], audio[-third:]


def check_heard(motion: str, audio: np.ndarray, what, pitched: bool = True) -> None:
    """Pitch rises 2/3 octave from first to last third for up (falls for down) and holds for
    left/right; loudness goes 0.25+0.75p: about x2.2 for right, x0.45 for left (flat for
    up/down). ``pitched`` False (a hiss) checks loudness only."""
    early, late = first_and_last_third(audio)
    shift, louder = octave_shift(early, late), loudness_ratio(early, late)
    if motion in ("up", "down"):
        assert (shift > 0.3) if motion == "up" else (shift < -0.3), (what, shift)
        assert 0.8 < louder < 1.25, (what, louder)
    else:
        assert (louder > 1.5) if motion == "right" else (louder < 0.67), (what, louder)
        assert not pitched or abs(shift) < 0.15, (what, shift)


def test_event_audio_in_the_world_matches_motion_word(world, youcook):
    checked = set()
    for video_id, item in youcook.items():
        segments = [tuple(step["segment"]) for step in item["annotations"]]
        clips = cut_segments(youcook_path(world, video_id, item), segments, fps=DECODE_FPS)
        for step, clip in zip(item["annotations"], clips, strict=True):
            words = _sentence_words(step["sentence"])
            if words["sound"] == "hiss" and words["motion"] in ("up", "down"):
                continue  # see test_hiss_pitch_follows_up_down
            check_heard(words["motion"], clip.audio, (video_id, step),
                        pitched=words["sound"] != "hiss")
            checked.add(words["motion"])
    assert checked == set(MOTIONS)


def _event_audio(sound: str, motion: str, size: str) -> np.ndarray:
    """One 4 s event rendered, written as 22.05 kHz AAC and decoded back to 16 kHz."""
    event = Event(1.0, 5.0, size, "red", "square", motion, sound)
    # A seed per event: two renders sharing one noise floor would correlate at zero shift.
    rng = np.random.default_rng([SOUNDS.index(sound), MOTIONS.index(motion), size == "big"])
    waveform = render_audio([event], 6.0, SMALL.audio_rate, rng)
    data = mp4_bytes(None, VideoEncoding(fps=SMALL.fps), waveform, SMALL.audio_rate)
    return decode_audio(data)[1 * AUDIO_RATE : 5 * AUDIO_RATE]


@pytest.mark.parametrize("size", ["small", "big"])
@pytest.mark.parametrize("motion", MOTIONS)
@pytest.mark.parametrize("sound", [s for s in SOUNDS if s != "hiss"])
def test_each_sound_carries_its_motion(sound, motion, size):
    check_heard(motion, _event_audio(sound, motion, size), (sound, motion, size))


@pytest.mark.parametrize("motion", ["left", "right"])
def test_hiss_loudness_follows_left_right(motion):
    check_heard(motion, _event_audio("hiss", motion, "small"), ("hiss", motion), pitched=False)


@pytest.mark.parametrize("motion", ["up", "down"])
def test_hiss_pitch_follows_up_down(motion):
    # A hiss has no pitch to correlate, so ask for the next best thing: its spectrum's centre
    # of mass moving with the glide (2/3 octave would be x1.59; ask for x1.2).
    early, late = first_and_last_third(_event_audio("hiss", motion, "small"))
    ratio = spectral_centroid(late) / spectral_centroid(early)
    assert (ratio > 1.2) if motion == "up" else (ratio < 1 / 1.2), ratio


def test_big_objects_sound_lower():
    """Register: a big object's sound sits an octave below a small one's."""
    for sound in ("whistle", "buzz", "chime", "knock"):
        small = _event_audio(sound, "left", "small")
        big = _event_audio(sound, "left", "big")
        assert octave_shift(small, big) == pytest.approx(-1.0, abs=0.15), sound
