"""The evaluation report of a run: JSON metrics, a Markdown summary, tables and PNG plots.

Written to ``<checkpoint>/report/`` from what the evaluations left next to the checkpoint
(``eval_youcook2.json``, ``eval_classification.json`` and their ``*_arrays.safetensors``)
and the run's ``log.jsonl`` (the checkpoint's parent directory); no model is run, so
``mmssl report RUN_DIR`` redraws it in seconds. Files::

    report.json              every metric, published numbers, what each plot shows
    report.md                tables (ours beside published and chance) and the plots
    recall_at_k.png          R@K against K per retrieval direction, with chance
    similarity.png           text→video scores of a sample (true pairs on the diagonal)
    embedding_pca.png        2-D PCA of clip embeddings coloured by task / recipe type
    training_curves.png      loss terms and learning rate against step

The arrays an evaluation leaves for the report are one safetensors file per evaluation
(``eval_<name>_arrays.safetensors``): named tensors plus JSON-encoded metadata (keys, label
names). Figures are drawn with matplotlib's Agg backend (files only, no display needed),
each from plain arrays.

Published numbers printed beside ours (protocols and sources: ``docs/protocols.md``):
zero-shot text→video retrieval on YouCook2 validation clips after HowTo100M pretraining,
(R@1, R@5, R@10 as fractions, MedR or None where the paper gives none). They are the
protocol's reference points; a CPU run on the synthetic world is not comparable with them.
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib
import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from mmssl.eval.classification_tasks import DATASETS

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)

REPORT_DIR = "report"
RETRIEVAL_NAME = "eval_youcook2.json"
CLASSIFICATION_NAME = "eval_classification.json"
NAME = 40  # width of the tables' first column
DPI = 100

PUBLISHED_T2V: dict[str, tuple[float, float, float, float | None]] = {
    "HowTo100M (Miech 2019)": (0.061, 0.173, 0.248, 46),
    "MIL-NCE (Miech 2020)": (0.151, 0.380, 0.512, 10),
    "MMV (Alayrac 2020)": (0.117, 0.334, 0.454, 13),
    "VideoCLIP (Xu 2021)": (0.227, 0.504, 0.631, None),
}
PUBLISHED_NOTE = ("published rows: real YouCook2 after HowTo100M pretraining; not comparable "
                  "to the synthetic world")


def arrays_path(directory: str | Path, name: str) -> Path:
    return Path(directory) / f"eval_{name}_arrays.safetensors"


def save_arrays(directory: str | Path, name: str, tensors: dict[str, torch.Tensor],
                meta: dict) -> Path:
    """Write ``tensors`` (any shapes, made contiguous on the CPU) and ``meta`` (JSON)."""
    path = arrays_path(directory, name)
    plain = {key: value.detach().cpu().contiguous() for key, value in tensors.items()}
    save_file(plain, str(path), metadata={"meta": json.dumps(meta)})
    return path


def load_arrays(directory: str | Path, name: str) -> tuple[dict[str, torch.Tensor], dict]:
    """(tensors, meta), or ({}, {}) when that evaluation left no arrays."""
    path = arrays_path(directory, name)
    if not path.is_file():
        return {}, {}
    with safe_open(str(path), framework="pt") as handle:
        tensors = {key: handle.get_tensor(key) for key in handle.keys()}  # noqa: SIM118
        meta = json.loads((handle.metadata() or {}).get("meta", "{}"))
    return tensors, meta


def format_table(results: dict) -> str:
    """Retrieval results as a fixed-width table, chance level and published numbers beside ours."""
    clips, queries = results["protocol"]["clips"], results["protocol"].get("queries")
    title = (f"Zero-shot retrieval, YouCook2 format, {clips} clips, "
             f"{results['protocol']['windows']} windows averaged")
    if queries and queries != clips:
        title += f", {queries} queries"
    lines = [title, f"{'direction':<{NAME}}{'R@1':>7}{'R@5':>7}{'R@10':>7}{'MedR':>7}"
                    f"{'MnR':>8}"]
    for name, m in {**results["metrics"], **results.get("metrics_to_text", {})}.items():
        lines.append(f"{'ours ' + name:<{NAME}}{m['R@1']:>7.3f}{m['R@5']:>7.3f}{m['R@10']:>7.3f}"
                     f"{m['MedR']:>7.1f}{m['MnR']:>8.1f}")
    lines.append(f"{'chance':<{NAME}}{1 / clips:>7.3f}{5 / clips:>7.3f}{10 / clips:>7.3f}"
                 f"{(clips + 1) / 2:>7.1f}{(clips + 1) / 2:>8.1f}")
    for name, (r1, r5, r10, medr) in PUBLISHED_T2V.items():
        medr_text = "-" if medr is None else f"{medr:.1f}"
        lines.append(f"{'paper t->v ' + name:<{NAME}}{r1:>7.3f}{r5:>7.3f}{r10:>7.3f}"
                     f"{medr_text:>7}{'-':>8}")
    missing = results.get("clip_list", {}).get("missing")
    if missing:
        lines.append(f"clip list: {results['clip_list']['found']} of "
                     f"{results['clip_list']['listed']} clips found; missing {missing}")
    lines.append(f"({PUBLISHED_NOTE})")
    return "\n".join(lines)


def format_classification(results: dict) -> str:
    """One line per (dataset, task, kind): metric, chance and segment counts."""
    lines = [f"{'classification':<{NAME}}{'metric':>8}{'ours':>8}{'chance':>8}"]
    for dataset, parts in results.items():
        if dataset not in DATASETS:
            continue
        if "not_run" in parts:
            lines.append(f"{dataset:<{NAME}}not run: {parts['not_run']}")
            continue
        for kind in ("linear", "zero_shot"):
            for task, m in parts[kind].items():
                if task == "not_run":
                    continue
                metric = "mAP" if "mAP" in m else "top1"
                lines.append(f"{kind.replace('_', '-') + ' ' + task:<{NAME}}{metric:>8}"
                             f"{m[metric]:>8.3f}{m['chance']:>8.3f}")
    return "\n".join(lines)


def checkpoint_dir(path: str | Path) -> Path:
    """A run directory (holding ``checkpoint/``) or a checkpoint directory itself."""
    path = Path(path)
    if (path / "checkpoint").is_dir():
        return path / "checkpoint"
    if path.is_dir():
        return path
    raise FileNotFoundError(f"{path}: not a run or checkpoint directory")


def read_log(run_dir: Path) -> list[dict]:
    """The run's log.jsonl records (empty when absent); a bad line raises naming it."""
    path = run_dir / "log.jsonl"
    if not path.is_file():
        return []
    records = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if line.strip():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as error:
                raise ValueError(f"{path}: line {number} is not JSON ({error})") from None
    return records


def write_report(path: str | Path) -> Path:
    """Draw the report of the run or checkpoint at ``path``; returns the report directory.

    Raises when the checkpoint has no evaluation results at all."""
    checkpoint = checkpoint_dir(path)
    retrieval = _read_json(checkpoint / RETRIEVAL_NAME)
    classification = _read_json(checkpoint / CLASSIFICATION_NAME)
    if retrieval is None and classification is None:
        raise FileNotFoundError(f"{checkpoint}: no {RETRIEVAL_NAME} or {CLASSIFICATION_NAME}; "
                                "run `mmssl eval` first")
    out = checkpoint / REPORT_DIR
    out.mkdir(exist_ok=True)
    figures = _draw(checkpoint, out, read_log(checkpoint.parent))
    report = {"checkpoint": str(checkpoint), "retrieval": retrieval,
              "classification": classification, "figures": figures,
              "published_t2v": {name: dict(zip(("R@1", "R@5", "R@10", "MedR"), values,
                                               strict=True))
                                for name, values in PUBLISHED_T2V.items()},
              "published_note": PUBLISHED_NOTE}
    (out / "report.json").write_text(json.dumps(report, indent=1))
    (out / "report.md").write_text(_markdown(report))
    return out


def _read_json(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.is_file() else None


def _draw(checkpoint: Path, out: Path, log: list[dict]) -> dict[str, str]:
    """Every plot the saved arrays allow; {file name: what it shows}."""
    figures = {}
    tensors, meta = load_arrays(checkpoint, "youcook2")
    if tensors:
        ranks = {k.removeprefix("ranks/"): v.numpy() for k, v in tensors.items()
                 if k.startswith("ranks/")}
        recall_curves(ranks, meta["num_clips"], out / "recall_at_k.png")
        figures["recall_at_k.png"] = "zero-shot retrieval R@K against K, every direction"
        similarity_heatmap(tensors["sample_scores"].numpy(), out / "similarity.png",
                                 "text→video scores (true pairs on the diagonal)")
        figures["similarity.png"] = (f"text→video scores of the first "
                                     f"{len(tensors['sample_scores'])} queries and their clips")
    coin, coin_meta = load_arrays(checkpoint, "coin")
    if coin:  # COIN tasks, when evaluated, make the more telling PCA
        embedding_pca(coin["video_embeddings"].numpy(), coin_meta["groups"],
                            out / "embedding_pca.png", "COIN clip embeddings by task")
        figures["embedding_pca.png"] = "PCA of COIN clip video embeddings, coloured by task"
    elif tensors:
        embedding_pca(tensors["video_embeddings"].numpy(), meta["groups"],
                            out / "embedding_pca.png", "YouCook2 clip embeddings by recipe")
        figures["embedding_pca.png"] = "PCA of YouCook2 clip video embeddings by recipe type"
    if log:
        training_curves(log, out / "training_curves.png")
        figures["training_curves.png"] = f"training losses and lr over {log[-1]['step']} steps"
    return figures


def _markdown(report: dict) -> str:
    lines = ["# Evaluation report", "", f"Checkpoint: `{report['checkpoint']}`", ""]
    if report["retrieval"]:
        lines += ["## Zero-shot retrieval", "", "```", format_table(report["retrieval"]),
                  "```", ""]
        skipped = report["retrieval"].get("skipped")
        lines += [f"Unreadable clips skipped: {skipped or 'none'}.", ""]
    if report["classification"]:
        lines += ["## Linear probes and zero-shot classification", "", "```",
                  format_classification(report["classification"]), "```", ""]
    lines += ["## Figures", ""]
    for name, caption in report["figures"].items():
        lines += [f"![{caption}]({name})", "", f"*{caption}*", ""]
    return "\n".join(lines)


def _save(fig, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path


def recall_curves(ranks: dict[str, np.ndarray], num_items: int, path: str | Path,
                  max_k: int = 50) -> Path:
    """R@K against K (log scale) per direction, with chance K / N. ranks: 0-based (Q,)."""
    ks = np.arange(1, min(max_k, num_items) + 1)
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, r in ranks.items():
        ax.plot(ks, [(np.asarray(r) < k).mean() for k in ks], label=name)
    ax.plot(ks, ks / num_items, "k:", label="chance")
    ax.set(xscale="log", xlabel="K", ylabel="R@K", ylim=(0, 1.02),
           title=f"Recall@K ({num_items} items)")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    return _save(fig, path)


def similarity_heatmap(scores: np.ndarray, path: str | Path, title: str) -> Path:
    """A (n, n) block of a score matrix whose diagonal holds the true pairs."""
    fig, ax = plt.subplots(figsize=(5, 4.4))
    image = ax.imshow(scores, cmap="viridis", aspect="auto")
    fig.colorbar(image, ax=ax, fraction=0.046)
    ax.set(xlabel="clip", ylabel="query", title=title)
    return _save(fig, path)


def pca_2d(x: np.ndarray) -> np.ndarray:
    """(N, D) → (N, 2): projections on the top two principal components (SVD of the
    centred data)."""
    centred = x - x.mean(0, keepdims=True)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    return centred @ vt[:2].T


def embedding_pca(x: np.ndarray, labels: list[str], path: str | Path, title: str) -> Path:
    """2-D PCA of embeddings, one colour per label."""
    points = pca_2d(np.asarray(x, dtype=np.float64))
    fig, ax = plt.subplots(figsize=(6, 4.5))
    names = sorted(set(labels))
    colours = plt.get_cmap("tab10" if len(names) <= 10 else "tab20")
    for i, name in enumerate(names):
        rows = [j for j, label in enumerate(labels) if label == name]
        ax.scatter(points[rows, 0], points[rows, 1], s=12, color=colours(i % colours.N),
                   label=name)
    ax.set(xlabel="PC 1", ylabel="PC 2", title=title)
    if len(names) <= 20:
        ax.legend(fontsize=6, markerscale=1.2, loc="best")
    return _save(fig, path)


def training_curves(records: list[dict], path: str | Path) -> Path:
    """Every ``loss*`` series of a run's log.jsonl against step, and the learning rate."""
    steps = [r["step"] for r in records]
    fig, (ax, ax_lr) = plt.subplots(1, 2, figsize=(9, 3.6))
    for key in sorted({k for r in records for k in r if k.startswith("loss")}):
        ax.plot(steps, [r.get(key, np.nan) for r in records], label=key)
    ax.set(xlabel="step", ylabel="loss", title="training losses")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    ax_lr.plot(steps, [r.get("lr", np.nan) for r in records], color="gray")
    ax_lr.set(xlabel="step", ylabel="learning rate", title="schedule")
    return _save(fig, path)
