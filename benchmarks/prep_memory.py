"""Peak memory of converting one long video: segments are encoded as the decoder passes
their ends, so memory follows the open segments, not the video's length.

    python benchmarks/prep_memory.py --source VIDEO [--json benchmarks/results/prep_memory.json]

Converts ``--source`` (a real video; the README's figures use a 122.7-s 1080p clip) at
8 fps, short side 256, as one HowTo100M-style task of consecutive ``--segment``-second
samples, each run in a fresh process; reports the process's peak RSS above its RSS after
imports, next to the size of the whole video's decoded frames (what holding every segment
until the end of the file would need).
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
from pathlib import Path

CHILD = """
import json, resource, sys
from mmssl.prep.convert import convert_video
from mmssl.prep.tasks import SegmentSpec, VideoTask
from mmssl.config import PrepConfig
from mmssl.media import probe, scaled_size
path, segment, short_side = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
info = probe(path)
spans = [(s, min(s + segment, info.duration)) for s in range(0, int(info.duration), int(segment))]
task = VideoTask("bench", "long", path, tuple(SegmentSpec(float(a), float(b)) for a, b in spans))
config = PrepConfig(short_side=short_side)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
converted = convert_video(task, config)
samples, failures = converted.samples, converted.failures
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
width, height = scaled_size(info.width, info.height, short_side)
frames = int(info.duration * config.fps)
print(json.dumps({"samples": len(samples), "failures": len(failures),
                  "rss_after_imports_mib": before / 1024, "peak_rss_mib": peak / 1024,
                  "growth_mib": (peak - before) / 1024,
                  "all_frames_mib": frames * width * height * 3 / 2**20}))
"""


def measure(path: str, segment: float, short_side: int) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, path, str(segment), str(short_side)],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--json", default="benchmarks/results/prep_memory.json")
    parser.add_argument("--source", required=True, help="a real video, ideally over 2 minutes")
    args = parser.parse_args()
    rows = []
    print(f"{'segment s':>10}{'short side':>11}{'samples':>8}{'growth MiB':>12}"
          f"{'all frames MiB':>16}")
    for segment, short_side in ((10.0, 256), (60.0, 256), (60.0, 128)):
        row = {"segment_seconds": segment, "short_side": short_side,
               **measure(args.source, segment, short_side)}
        rows.append(row)
        print(f"{segment:>10g}{short_side:>11}{row['samples']:>8}{row['growth_mib']:>12.0f}"
              f"{row['all_frames_mib']:>16.0f}", flush=True)
    record = {"machine": {"platform": platform.platform(), "python": platform.python_version(),
                          "max_rss_unit": "KiB (Linux ru_maxrss)"},
              "source": args.source, "rows": rows}
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(record, indent=1))


if __name__ == "__main__":
    main()
