"""Every method (and every video–text objective) on the synthetic world at equal compute:
linear-probe COIN top-1 and, where the method has text, zero-shot YouCook2 retrieval.

    nice -n 10 python benchmarks/methods_table.py [--out runs/methods_table] [--seeds 0 1 2]
        [--steps 80] [--batch 16] [--only moco swav ...]
        [--json benchmarks/results/methods_table.json]

One world (HowTo100M-, YouCook2- and COIN-format videos) is made and prepared once. Every
run trains from its shipped config (``configs/synthetic_<name>.yaml``) with the same
steps, clips per step, learning-rate schedule and one torch thread — equal compute in
optimiser steps and clips seen (two-view methods encode each clip twice, as they do
anywhere) — then evaluates in the same subprocess: COIN task and step linear probes on
frozen backbone features (training videos → testing videos) and, with a text tower,
zero-shot text→video retrieval on the YouCook2 validation clips. SupCon trains on the COIN
training videos' *task labels*, so its COIN task probe is supervised, not comparable.
Runs are resumable (a run whose ``result.json`` exists is not redone) and run from a
snapshot of the code (``git archive``), so edits made while it runs do not change them.

Prints mean ± std (ddof 1) over seeds, writes per-run and aggregated figures to JSON and
the table as Markdown next to it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WORLD = ["--synth.seed=21", "--synth.howto_videos=48", "--synth.youcook_val_videos=16",
         "--synth.youcook_train_videos=0", "--synth.coin_videos=36",
         "--synth.audioset_clips=0", "--synth.howto_seconds=[20.0, 30.0]"]
# name: (config, extra overrides); every run also gets the shared settings of run_one.
VARIANTS = {
    "MMV FAC (+a–t)": ("synthetic_mmv_fac", []),
    "AVLnet": ("synthetic_avlnet", []),
    "MIL-NCE": ("synthetic_milnce", []),
    "CLIP (InfoNCE, learnt τ)": ("synthetic_clip", []),
    "CLIP + SigLIP": ("synthetic_clip_siglip", []),
    "CLIP + MMS": ("synthetic_clip_mms", []),
    "CLIP + max-margin ranking": ("synthetic_clip_margin_ranking", []),
    "CLIP + Hadsell": ("synthetic_clip_hadsell", []),
    "ALBEF (momentum distillation)": ("synthetic_albef", []),
    "SimCLR": ("synthetic_simclr", []),
    "BYOL": ("synthetic_byol", []),
    "MoCo": ("synthetic_moco", []),
    "Barlow Twins": ("synthetic_barlow_twins", []),
    "SwAV": ("synthetic_swav", []),
    "SupCon (COIN task labels)": ("synthetic_supcon", []),
}
LABELLED = {"synthetic_supcon"}  # trained on the COIN shards, not the HowTo100M ones


def build_world(out: Path) -> dict[str, Path]:
    """Synthesise the world and prepare its shards (once); {dataset: shard directory}."""
    from mmssl.config import DemoConfig, load_config
    from mmssl.demo import prepare_world
    from mmssl.synth import generate_world

    config = load_config(DemoConfig, None, WORLD)
    world, shards = out / "world", out / "shards"
    if not (shards / "coin" / "manifest.json").is_file():
        generate_world(world, config.synth, progress=False)
        prepare_world(config, world, shards)
    return {name: shards / name for name in ("howto100m", "youcook2", "coin")}


def snapshot(out: Path) -> Path:
    """The committed code (``git archive HEAD mmssl configs``) under ``out/code``."""
    code = out / "code"
    if not (code / "mmssl").is_dir():
        code.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(["git", "-C", str(REPO), "archive", "HEAD", "mmssl",
                                  "configs"], check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(code)], input=archive, check=True)
    return code


def run_one(run_dir: Path, config: str, overrides: list[str], seed: int, args,
            shards: dict[str, Path], code: Path) -> dict:
    """Train and evaluate one (variant, seed) in a subprocess; returns its result."""
    result = run_dir / "result.json"
    if not result.is_file():
        train_shards = shards["coin" if config in LABELLED else "howto100m"]
        command = [sys.executable, str(Path(__file__).resolve()), "--worker", str(run_dir),
                   str(code / "configs" / f"{config}.yaml"), str(shards["youcook2"]),
                   str(shards["coin"]), "--", f"--data.shards={train_shards}",
                   f"--output_dir={run_dir}", f"--seed={seed}",
                   f"--optim.max_steps={args.steps}",
                   f"--optim.warmup_steps={max(1, args.steps // 10)}",
                   f"--optim.lr={args.lr}", f"--data.batch_size={args.batch}", "--threads=1",
                   f"--log_every={args.steps}", "--checkpoint_every=0", "--tensorboard=false",
                   "--data.num_workers=1", *overrides]
        env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(code)}
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, env=env)
    return json.loads(result.read_text())


def worker(run_dir: str, config: str, youcook: str, coin: str, overrides: list[str]) -> None:
    """In the subprocess: train from ``config`` + ``overrides``, then evaluate."""
    from mmssl.config import EvalConfig, TrainConfig, load_config
    from mmssl.eval.evaluate import classify_checkpoint, evaluate_youcook2
    from mmssl.train import train

    started = time.time()
    checkpoint = train(load_config(TrainConfig, config, overrides), progress=False)
    trained = time.time()
    out = {"train_seconds": round(trained - started, 1)}
    classes = classify_checkpoint(checkpoint, EvalConfig(coin_shards=coin, probe_windows=2))
    out["coin_linear"] = {task: m["top1"] for task, m in classes["coin"]["linear"].items()}
    out["coin_chance"] = {task: m["chance"] for task, m in classes["coin"]["linear"].items()}
    try:
        retrieval = evaluate_youcook2(checkpoint, EvalConfig(shards=youcook, windows=2),
                                      progress=False)
        out["retrieval"] = retrieval["metrics"]["text->video"]
    except ValueError as error:  # no text tower
        out["retrieval"] = None
        out["no_retrieval"] = str(error)
    out["eval_seconds"] = round(time.time() - trained, 1)
    Path(run_dir, "result.json").write_text(json.dumps(out, indent=1))


def mean_std(values: list[float]) -> list[float]:
    return [statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0,
            len(values)]


def aggregate(runs: dict) -> dict:
    """{variant: {column: [mean, std, n]}} over seeds."""
    table = {}
    for variant, by_seed in runs.items():
        results = list(by_seed.values())
        row = {f"COIN {task} top-1": mean_std([r["coin_linear"][task] for r in results])
               for task in ("coin_task", "coin_step")}
        with_text = [r["retrieval"] for r in results if r["retrieval"] is not None]
        if with_text:
            row.update({f"t→v {m}": mean_std([r[m] for r in with_text])
                        for m in ("R@1", "R@10", "MedR")})
        row["train s"] = mean_std([r["train_seconds"] for r in results])
        table[variant] = row
    return table


COLUMNS = ("COIN coin_task top-1", "COIN coin_step top-1", "t→v R@1", "t→v R@10", "t→v MedR",
           "train s")


def markdown(table: dict) -> str:
    lines = ["| method | COIN task top-1 | COIN step top-1 | t→v R@1 | t→v R@10 | t→v MedR "
             "| train s | seeds |", "|---|---|---|---|---|---|---|---|"]
    for variant, row in table.items():
        cells = []
        for column in COLUMNS:
            if column not in row:
                cells.append("—")
                continue
            mean, std, _ = row[column]
            digits = 1 if column in ("t→v MedR", "train s") else 3
            cells.append(f"{mean:.{digits}f} ± {std:.{digits}f}")
        seeds = row["train s"][2]
        lines.append(f"| {variant} | {' | '.join(cells)} | {seeds} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="runs/methods_table")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=80)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--only", nargs="+", help="configs (e.g. synthetic_moco) to run")
    parser.add_argument("--json", default="benchmarks/results/methods_table.json")
    parser.add_argument("--worker", nargs=4, help=argparse.SUPPRESS)
    args, rest = parser.parse_known_args()
    if args.worker:
        worker(*args.worker, [r for r in rest if r != "--"])
        return
    out, started = Path(args.out), time.time()
    shards, code = build_world(out), snapshot(out)
    world_seconds = round(time.time() - started, 1)
    print(f"[methods] world and shards ready ({world_seconds} s)", flush=True)
    runs: dict = {}
    for seed in args.seeds:  # seed-major: one seed of everything exists early
        for variant, (config, overrides) in VARIANTS.items():
            if args.only and config not in args.only:
                continue
            record = run_one(out / "runs" / config / f"seed{seed}", config, overrides, seed,
                             args, shards, code)
            runs.setdefault(variant, {})[seed] = record
            print(f"[methods] {variant} | seed {seed}: COIN task "
                  f"{record['coin_linear']['coin_task']:.3f}, t->v R@1 "
                  f"{record['retrieval']['R@1'] if record['retrieval'] else '-'} "
                  f"({record['train_seconds']} s train)", flush=True)
            _write(args, runs, world_seconds, started)
    print(markdown(aggregate(runs)))
    print(f"[methods] wall {time.time() - started:.0f} s")


def _write(args, runs: dict, world_seconds: float, started: float) -> None:
    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    record = {
        "machine": {"platform": platform.platform(), "python": platform.python_version(),
                    "load_avg_1min": os.getloadavg()[0]},
        "settings": {"world": WORLD, "steps": args.steps, "batch": args.batch, "lr": args.lr,
                     "seeds": args.seeds, "threads": 1, "probe_windows": 2,
                     "retrieval_windows": 2, "commit": commit},
        "variants": {name: {"config": c, "overrides": o} for name, (c, o) in VARIANTS.items()},
        "world_seconds": world_seconds, "wall_seconds": round(time.time() - started, 1),
        "runs": runs, "table": aggregate(runs),
    }
    path = Path(args.json)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=1, ensure_ascii=False))
    path.with_suffix(".md").write_text(markdown(record["table"]) + "\n")


if __name__ == "__main__":
    main()
