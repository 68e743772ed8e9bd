"""The evaluation report of a run: JSON metrics, a Markdown summary and PNG plots.

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
"""

from __future__ import annotations

import json
from pathlib import Path

from mmssl.eval import plots
from mmssl.eval.artifacts import load_arrays
from mmssl.eval.classification import format_classification
from mmssl.eval.published import PUBLISHED_NOTE, PUBLISHED_T2V
from mmssl.eval.retrieval import RESULTS_NAME, format_table

REPORT_DIR = "report"
CLASSIFICATION_NAME = "eval_classification.json"


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
    retrieval = _read_json(checkpoint / RESULTS_NAME)
    classification = _read_json(checkpoint / CLASSIFICATION_NAME)
    if retrieval is None and classification is None:
        raise FileNotFoundError(f"{checkpoint}: no {RESULTS_NAME} or {CLASSIFICATION_NAME}; "
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
        plots.recall_curves(ranks, meta["num_clips"], out / "recall_at_k.png")
        figures["recall_at_k.png"] = "zero-shot retrieval R@K against K, every direction"
        plots.similarity_heatmap(tensors["sample_scores"].numpy(), out / "similarity.png",
                                 "text→video scores (true pairs on the diagonal)")
        figures["similarity.png"] = (f"text→video scores of the first "
                                     f"{len(tensors['sample_scores'])} queries and their clips")
    coin, coin_meta = load_arrays(checkpoint, "coin")
    if coin:  # COIN tasks, when evaluated, make the more telling PCA
        plots.embedding_pca(coin["video_embeddings"].numpy(), coin_meta["groups"],
                            out / "embedding_pca.png", "COIN clip embeddings by task")
        figures["embedding_pca.png"] = "PCA of COIN clip video embeddings, coloured by task"
    elif tensors:
        plots.embedding_pca(tensors["video_embeddings"].numpy(), meta["groups"],
                            out / "embedding_pca.png", "YouCook2 clip embeddings by recipe")
        figures["embedding_pca.png"] = "PCA of YouCook2 clip video embeddings by recipe type"
    if log:
        plots.training_curves(log, out / "training_curves.png")
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
