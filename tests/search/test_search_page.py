"""``mmssl search --html``: a page with a thumbnail strip per hit, checked in a real
headless Chromium (skipped where the distribution's chromium package is absent)."""

import re
import shutil
import subprocess

import pytest
from torchvision.io import read_image

from mmssl.cli import main
from mmssl.search.page import write_page
from mmssl.search.ranking import Hit

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync"]


def rendered_dom(page, profile) -> str:
    """The page's DOM after Chromium loaded it and ran its image handlers."""
    done = subprocess.run([CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}",
                           "--virtual-time-budget=5000", "--dump-dom", page.as_uri()],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


pytestmark = pytest.mark.slow  # every test embeds videos and runs mmssl search


@pytest.fixture(scope="module")
def index(fresh_checkpoint, youcook_segments, tmp_path_factory):
    folder = tmp_path_factory.mktemp("videos")
    for segment in youcook_segments[:4]:
        shutil.copy(segment["path"], folder / f"{segment['video_id']}.mp4")
    out = tmp_path_factory.mktemp("index") / "index.safetensors"
    assert main(["embed", "--checkpoint", str(fresh_checkpoint), "--videos", str(folder),
                 "--out", str(out), "--windows=2", "--window=4", "--stride=4"]) == 0
    return out


def test_every_hit_has_a_strip_of_frames_from_its_span(index, tmp_path):
    out = tmp_path / "page"
    assert main(["search", str(index), "whisk the eggs", "a red square", "--top=3",
                 "--thumbnails=4", "--html", str(out)]) == 0
    html = (out / "index.html").read_text()
    assert html.count("class=hit ") == 6 and html.count("<h2>") == 2
    strips = sorted((out / "thumbs").glob("*.jpg"))
    assert len(strips) == 6
    image = read_image(str(strips[0]))  # 4 frames of 72 px high side by side
    assert image.shape[1] == 72 and image.shape[2] == 4 * 96
    assert 'src="thumbs/q0-1.jpg"' in html and "#t=" in html


def test_a_hit_without_frames_says_so(tmp_path):
    hits = [[Hit(1, 0.5, "gone@0.00-4.00", "gone", 0.0, 4.0, str(tmp_path / "gone.mp4"))]]
    html = write_page(tmp_path / "page", ["q"], hits).read_text()
    assert "no frames: gone@0.00-4.00" in html


@pytest.mark.multiprocess
@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (Debian: apt-get "
                                             "install -y chromium); the page is not rendered")
def test_chromium_shows_every_thumbnail(index, tmp_path):
    out = tmp_path / "page"
    assert main(["search", str(index), "whisk the eggs", "a red square", "--top=3",
                 "--html", str(out)]) == 0
    (out / "thumbs" / "q1-3.jpg").write_bytes(b"not a jpeg")  # one the browser cannot show
    dom = rendered_dom(out / "index.html", tmp_path / "profile")
    states = re.findall(r'<img class="strip"[^>]*data-state="(\w+)"', dom)
    assert sorted(states) == ["broken"] + ["loaded"] * 5, dom[:3000]
    assert dom.count('<span class="missing">') == 1
    assert len(re.findall(r'<div class="hit" data-key="[^"]+@\d+\.\d\d-\d+\.\d\d"', dom)) == 6
