"""Published numbers printed beside ours (``../shared/PROTOCOLS.md``), with their sources.

Zero-shot text→video retrieval on YouCook2 validation clips after HowTo100M pretraining:
(R@1, R@5, R@10 as fractions, MedR or None where the paper gives none). They are the
protocol's reference points; a CPU run on the synthetic world is not comparable with them.
"""

from __future__ import annotations

PUBLISHED_T2V: dict[str, tuple[float, float, float, float | None]] = {
    "HowTo100M (Miech 2019)": (0.061, 0.173, 0.248, 46),
    "MIL-NCE (Miech 2020)": (0.151, 0.380, 0.512, 10),
    "MMV (Alayrac 2020)": (0.117, 0.334, 0.454, 13),
    "VideoCLIP (Xu 2021)": (0.227, 0.504, 0.631, None),
}
PUBLISHED_NOTE = ("published rows: real YouCook2 after HowTo100M pretraining; not comparable "
                  "to the synthetic world")
