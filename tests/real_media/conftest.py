"""Real media, made once per session (:mod:`real_sources`): 16:9, 4:3 and vertical H.264
encodes, an MKV with H.264 and Opus, copies cut short or overwritten in the middle, the
annotation files that point at them, and the good ones prepared into shards."""

import json

import numpy as np
import pytest
from real_sources import (
    BROKEN,
    PREP,
    SECONDS,
    SOURCES,
    narrations,
    write_h264_mp4,
    write_h264_opus_mkv,
)

from mmssl.prep import howto100m, youcook2


@pytest.fixture(scope="session")
def real_world(tmp_path_factory) -> dict:
    """{"videos": dir, "sources": [Source], "broken": {id: path}, "captions": caption.json of
    the good sources, "youcook": YouCook2-format annotations of them (validation)}."""
    root = tmp_path_factory.mktemp("real_media")
    videos = root / "videos"
    videos.mkdir()
    for seed, source in enumerate(SOURCES):
        writer = write_h264_opus_mkv if source.name.endswith(".mkv") else write_h264_mp4
        writer(videos / source.name, source, seed)
    broken = root / "broken"
    broken.mkdir()
    wide, mkv = (videos / SOURCES[0].name).read_bytes(), (videos / SOURCES[3].name).read_bytes()
    (broken / BROKEN["truncatedmp"]).write_bytes(wide[: len(wide) * 6 // 10])
    (broken / BROKEN["truncatedmk"]).write_bytes(mkv[: len(mkv) * 6 // 10])
    classic = bytearray((videos / SOURCES[1].name).read_bytes())
    middle = len(classic) // 2
    classic[middle : middle + 2048] = np.random.default_rng(9).bytes(2048)
    (broken / BROKEN["corruptedmp"]).write_bytes(bytes(classic))

    captions = root / "caption.json"
    captions.write_text(json.dumps(
        {source.video_id: narrations(SECONDS) for source in SOURCES}))
    youcook = root / "youcook.json"
    youcook.write_text(json.dumps({"database": {
        source.video_id: {"subset": "validation", "recipe_type": "101", "duration": SECONDS,
                          "annotations": [{"segment": [0.5, 3.0], "id": 0,
                                           "sentence": "the square moves right"},
                                          {"segment": [3.0, 5.5], "id": 1,
                                           "sentence": "the tone sounds"}]}
        for source in SOURCES}}))
    return {"root": root, "videos": videos, "sources": SOURCES, "captions": captions,
            "youcook": youcook, "broken": {key: broken / name for key, name in BROKEN.items()}}


@pytest.fixture(scope="session")
def real_shards(real_world, tmp_path_factory) -> dict:
    """The good sources prepared at the default 48-px short side: {"howto100m": dir,
    "youcook2": dir}."""
    out = tmp_path_factory.mktemp("real_shards")
    howto100m.prepare(real_world["captions"], real_world["videos"], out / "howto100m", PREP,
                      progress=False)
    youcook2.prepare(real_world["youcook"], real_world["videos"], out / "youcook2", PREP,
                     ("validation",), progress=False)
    return {"howto100m": out / "howto100m", "youcook2": out / "youcook2"}
