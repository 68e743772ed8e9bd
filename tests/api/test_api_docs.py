"""docs/api.md's examples run as written: its ``python`` blocks one after the other in one
namespace, each ``$ mmssl ...`` line of its ``console`` blocks through the command line,
in a folder holding what the guide says (``runs/demo/checkpoint``, ``videos/``,
``clip.mp4``)."""

import re
import shlex
import shutil
from pathlib import Path

import pytest

from mmssl.cli import main

pytestmark = pytest.mark.slow  # the guide runs whole commands

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "api.md"
BLOCK = re.compile(r"^```(python|console)\n(.*?)^```", re.MULTILINE | re.DOTALL)


def blocks(text: str) -> list[tuple[str, str]]:
    return [(kind, body) for kind, body in BLOCK.findall(text)]


def test_the_guide_has_examples_of_each_kind():
    kinds = [kind for kind, _ in blocks(GUIDE.read_text())]
    assert kinds.count("python") >= 6 and kinds.count("console") >= 3


def test_every_example_of_the_guide_runs(fresh_checkpoint, youcook_segments, tmp_path,
                                         monkeypatch, capsys):
    (tmp_path / "runs" / "demo").mkdir(parents=True)
    (tmp_path / "runs" / "demo" / "checkpoint").symlink_to(fresh_checkpoint)
    (tmp_path / "videos").mkdir()
    for path in sorted({s["path"] for s in youcook_segments})[:2]:
        shutil.copy(path, tmp_path / "videos" / Path(path).name)
    shutil.copy(youcook_segments[0]["path"], tmp_path / "clip.mp4")
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for number, (kind, body) in enumerate(blocks(GUIDE.read_text())):
        if kind == "python":
            exec(compile(body, f"docs/api.md block {number}", "exec"), namespace)
            continue
        for line in body.splitlines():
            words = shlex.split(line.removeprefix("$ "))
            assert words[0] == "mmssl", line
            assert main(words[1:]) == 0, line
    out = capsys.readouterr().out
    assert "video↔text (vt)" in out and "whisk the eggs" in out
    assert (tmp_path / "results" / "index.html").is_file()
    assert (tmp_path / "index_parts" / "index.json").is_file()
    assert (tmp_path / "video_shards" / "manifest.json").is_file()
