"""``mmssl search --html OUT/``: the hits of each query as a page, a thumbnail strip per hit.

``OUT/index.html`` lists, for each query, its hits best first: rank, score, video id,
span, a link to the source file at that time (``#t=start,end``, a media fragment that
browsers seek to) and a strip of ``thumbnails`` frames evenly spaced over the span,
``OUT/thumbs/q<query>-<rank>.jpg``. Frames are decoded with prep's decoder
(``mmssl/media/decode.py``: the frame shown at each time, the short side scaled), one
pass per source file for all of its hits. Paths in the page are relative, so the folder
can be moved or served as it is. Each image records whether the browser could show it
(``data-state`` ``loaded`` / ``broken``) and a broken one is replaced by its alt text.
"""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np
import torch
from torchvision.io import write_jpeg

from mmssl.media import MediaError
from mmssl.media.decode import iter_segments
from mmssl.search.ranking import Hit

THUMB_SHORT_SIDE = 72
STYLE = """body{font-family:sans-serif;margin:1.5em;background:#fafafa}
h2{margin-top:1.5em}.hit{display:flex;align-items:center;gap:1em;margin:.4em 0}
.meta{min-width:22em;font-family:monospace}img.strip{height:72px;border:1px solid #ccc}
img[data-state=broken]{display:none}.missing{color:#a00}"""
ON_LOAD = "this.dataset.state='loaded'"
ON_ERROR = ("this.dataset.state='broken';this.insertAdjacentHTML('afterend',"
            "'<span class=missing>'+this.alt+'</span>')")


def write_page(out: str | Path, queries: list[str], hits: list[list[Hit]],
               thumbnails: int = 6, title: str = "mmssl search") -> Path:
    """Write ``out/index.html`` and its thumbnails; returns the page's path."""
    out = Path(out)
    (out / "thumbs").mkdir(parents=True, exist_ok=True)
    strips = write_strips(out / "thumbs", hits, thumbnails)
    sections = []
    for number, (query, found) in enumerate(zip(queries, hits, strict=True)):
        rows = [_row(hit, strips.get((number, hit.rank))) for hit in found]
        sections.append(f"<section class=query><h2>{html.escape(query)}</h2>\n"
                        + "\n".join(rows) + "\n</section>")
    page = (f"<!doctype html>\n<html><head><meta charset=utf-8><title>{html.escape(title)}"
            f"</title><style>{STYLE}</style></head>\n<body><h1>{html.escape(title)}</h1>\n"
            + "\n".join(sections) + "\n</body></html>\n")
    path = out / "index.html"
    path.write_text(page, encoding="utf-8")
    return path


def _row(hit: Hit, strip: str | None) -> str:
    span = f"{hit.start:.2f}–{hit.end:.2f} s"
    link = (f'<a href="{html.escape(Path(hit.path).resolve().as_uri())}#t={hit.start:.2f},'
            f'{hit.end:.2f}">{html.escape(hit.video_id)}</a>' if hit.path
            else html.escape(hit.video_id))
    image = (f'<img class=strip src="{html.escape(strip)}" alt="{html.escape(hit.key)}" '
             f'onload="{ON_LOAD}" onerror="{ON_ERROR}">' if strip
             else f"<span class=missing>no frames: {html.escape(hit.key)}</span>")
    return (f'<div class=hit data-key="{html.escape(hit.key)}"><span class=meta>'
            f"#{hit.rank} {hit.score:+.3f} {link} {span}</span>{image}</div>")


def write_strips(directory: Path, hits: list[list[Hit]], thumbnails: int
                 ) -> dict[tuple[int, int], str]:
    """``{(query number, rank): relative path}`` of each hit's strip: ``thumbnails`` frames
    at ``start + (k + ½) · (end − start) / thumbnails``, side by side, as JPEG. A file that
    cannot be decoded gets no strip (the page says so)."""
    groups: dict[tuple[str, float], list[tuple[int, Hit, tuple[float, float]]]] = {}
    for number, found in enumerate(hits):
        for hit in found:
            if hit.path:  # one decode pass per file (and strip rate)
                span, fps = _thumbnail_span(hit, thumbnails)
                groups.setdefault((hit.path, round(fps, 6)), []).append((number, hit, span))
    strips = {}
    for (path, fps), wanted in groups.items():
        try:
            clips = list(iter_segments(path, [span for _, _, span in wanted], fps,
                                       THUMB_SHORT_SIDE))
        except MediaError:  # the file as a whole: its hits get no strip
            continue
        for index, clip in clips:
            if isinstance(clip, MediaError):
                continue
            number, hit, _ = wanted[index]
            name = f"q{number}-{hit.rank}.jpg"
            strip = np.concatenate(list(clip.frames[:thumbnails]), axis=1)  # (h, k·w, 3)
            write_jpeg(torch.from_numpy(np.ascontiguousarray(strip)).permute(2, 0, 1),
                       str(directory / name), quality=85)
            strips[(number, hit.rank)] = f"thumbs/{name}"
    return strips


def _thumbnail_span(hit: Hit, thumbnails: int) -> tuple[tuple[float, float], float]:
    """((start, end), fps) whose output times are the strip's frame times."""
    step = max(hit.end - hit.start, 1e-3) / thumbnails
    first = hit.start + step / 2
    return (first, first + thumbnails * step), 1.0 / step
