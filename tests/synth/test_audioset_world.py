"""The synthetic AudioSet: files exactly as published, parsed back, deterministic, and
labels that match what can be heard.

(Named test_audioset_world.py: tests/ has no __init__.py, so two test_audioset.py
modules would clash.)"""

import json

import numpy as np
import pytest

from mmssl.media import decode_audio, probe
from mmssl.prep.audioset_files import read_class_labels, read_ontology, read_segments
from mmssl.synth.audioset import CLASSES, MIDS, write_audioset

CLIPS = 9


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("audioset")
    return root, write_audioset(root, CLIPS, seed=5)


def test_files_are_in_the_published_format(world):
    root, written = world
    lines = (root / "balanced_train_segments.csv").read_text().splitlines()
    assert [line[0] for line in lines[:3]] == ["#"] * 3
    assert lines[2] == "# YTID, start_seconds, end_seconds, positive_labels"
    ytid, start, end, labels = lines[3].split(", ", 3)
    assert len(ytid) == 11 and start.endswith(".000") and float(end) - float(start) == 10.0
    assert labels.startswith('"/m/synth_') and labels.endswith('"') and ", " not in labels
    label_lines = (root / "class_labels_indices.csv").read_text().splitlines()
    assert label_lines[0] == "index,mid,display_name"
    assert label_lines[1] == '0,/m/synth_whistle,"Whistle"'
    ontology = json.loads((root / "ontology.json").read_text())
    keys = {"id", "name", "description", "citation_uri", "positive_examples", "child_ids",
            "restrictions"}
    assert all(set(record) == keys for record in ontology)
    kinds = {}
    for clip in written["clips"].values():
        info = probe(clip["path"])
        kinds[clip["kind"]] = (info.has_video, info.has_audio)
        assert info.duration == pytest.approx(10.0, abs=0.1)
    assert kinds == {"video": (True, True), "wav": (False, True), "audio_mp4": (False, True)}


def test_parse_round_trip(world):
    root, written = world
    mid_index, names = read_class_labels(root / "class_labels_indices.csv")
    assert list(mid_index) == [MIDS[c] for c in CLASSES] and names[MIDS["chatter"]]
    ontology, errors = read_ontology(root / "ontology.json")
    assert not errors and set(mid_index) < set(ontology)
    parsed = {}
    for subset in ("balanced_train", "eval"):
        rows, errors = read_segments(root / f"{subset}_segments.csv", mid_index)
        assert not errors
        parsed.update({row.ytid: row for row in rows})
    assert set(parsed) == set(written["clips"])
    for ytid, clip in written["clips"].items():
        row = parsed[ytid]
        assert (row.subset, row.start, row.end) == (clip["subset"], clip["start"], clip["end"])
        assert {m.removeprefix("/m/synth_") for m in row.mids} == {
            e["sound"] for e in clip["events"]}
    assert any(len(row.mids) > 1 for row in parsed.values())


def test_same_seed_same_files(world, tmp_path):
    root, _ = world
    write_audioset(tmp_path / "again", CLIPS, seed=5)
    write_audioset(tmp_path / "other", CLIPS, seed=6)
    for name in ("balanced_train_segments.csv", "eval_segments.csv", "ontology.json"):
        assert (tmp_path / "again" / name).read_bytes() == (root / name).read_bytes()
    assert sorted(p.name for p in (tmp_path / "again" / "clips").iterdir()) == sorted(
        p.name for p in (root / "clips").iterdir())
    assert ((tmp_path / "other" / "eval_segments.csv").read_bytes()
            != (root / "eval_segments.csv").read_bytes())


def is_whistle(audio: np.ndarray) -> bool:
    """A whistle is a near-pure tone at 4x the base pitch: >= 600 Hz mid-event, holding
    most of the window's energy within 60 Hz of the peak (buzz and knock peak lower, chime
    splits its energy over three partials, hiss and chatter spread theirs)."""
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(len(audio)))) ** 2
    hz = np.fft.rfftfreq(len(audio), 1 / 16000)
    peak = hz[np.argmax(spectrum)]
    return peak >= 600 and spectrum[np.abs(hz - peak) <= 60].sum() / spectrum.sum() > 0.8


def test_labels_match_the_sounds_rendered(tmp_path):
    written = write_audioset(tmp_path, 12, seed=11)
    verdicts = []
    for clip in written["clips"].values():
        audio = decode_audio(clip["path"])
        for event in clip["events"]:
            middle = int((event["start"] + event["end"]) / 2 * 16000)
            verdicts.append((event["sound"] == "whistle",
                             is_whistle(audio[middle - 1024 : middle + 1024])))
    assert {heard for heard, _ in verdicts} == {True, False}  # both cases were tried
    assert all(heard == found for heard, found in verdicts)
