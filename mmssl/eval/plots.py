"""The report's pictures (matplotlib, Agg backend: files only, no display needed).

Each function draws one figure from plain arrays and writes one PNG; none reads a model.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)
import numpy as np  # noqa: E402

DPI = 100


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
