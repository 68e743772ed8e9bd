"""The papers' ablations, reproduced small on the synthetic world (CPU, seeded).

    nice -n 10 python benchmarks/ablations/run_ablations.py [--out runs/ablations]
        [--seeds 0 1 2] [--steps 80] [--batch 16] [--only milnce_k spaces audio]
        [--json benchmarks/results/ablations.json]

One small world and one set of shards serve every run; each run is ``mmssl train`` then
``mmssl eval youcook2`` in subprocesses (so a crash costs one run, and a killed job resumes:
a run whose ``eval_youcook2.json`` exists is not redone). Experiments:

1. ``milnce_k`` — MIL-NCE with K = 1, 3, 5 candidate narrations on the world's ASR-like
   narrations (25% spoken 2.5–5 s off their event, 15% of events unnarrated, chatter).
   K = 1 is plain NCE with the anchor narration as the single positive (the MIL-NCE
   paper's NCE baseline). MIL-NCE paper (Miech et al. 2020, Table 1): K > 1 beats it.
2. ``spaces`` — MMV with shared, disjoint and fine-and-coarse (FAC) spaces. MMV (Alayrac
   et al. 2020, Table 1): FAC best for video–audio–text. All three train NCE(v,a) +
   MIL-NCE(v,t) + MIL-NCE(a,t) (the demo's objective; the paper has no a–t term, and
   without it nothing ties sound words to audio, see benchmarks/README.md).
3. text→video against text→video+audio (AVLnet, Rouditchenko et al. 2021: adding audio
   helps when narration refers to sound) is read from the ``spaces`` runs: the same
   checkpoints scored against z_v and against z_v + z_a. The world's narrations name the
   sound ("... with a whistle"), which only the audio reveals. (AVLnet's own MMS
   training is not in the table: the CPU time of a shared 2-core machine did not allow
   it; ``EXTRA`` below holds its settings.)

Prints mean ± std (over seeds; std with ddof = 1) of R@1, R@10 and MedR per row, writes
the per-run and aggregated figures to JSON and the table as Markdown next to it.
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

WORLD = ["--synth.seed=11", "--synth.howto_videos=96", "--synth.youcook_val_videos=24",
         "--synth.youcook_train_videos=0", "--synth.coin_videos=0", "--synth.audioset_clips=0"]
MMV_AT = ["--method=mmv", "--loss.weights.va=1.0", "--loss.weights.vt=1.0",
          "--loss.weights.at=1.0"]
EXPERIMENTS = {
    "milnce_k": {
        "MIL-NCE K=1 (plain NCE)": ["--method=milnce", "--data.num_candidates=1"],
        "MIL-NCE K=3": ["--method=milnce", "--data.num_candidates=3"],
        "MIL-NCE K=5": ["--method=milnce", "--data.num_candidates=5"],
    },
    "spaces": {
        "MMV shared": [*MMV_AT, "--model.space=shared"],
        "MMV disjoint": [*MMV_AT, "--model.space=disjoint"],
        "MMV FAC": [*MMV_AT, "--model.space=fac"],
    },
}
EXTRA = {"audio": {"AVLnet (shared, MMS)": ["--method=avlnet", "--data.num_candidates=1"]}}
COLUMNS = ("text->video", "text->audio", "text->video+audio")


def build_world(out: Path) -> tuple[Path, Path]:
    """Synthesise the world and prepare its HowTo100M and YouCook2 shards (once)."""
    from mmssl.config import DemoConfig, load_config
    from mmssl.demo import prepare_world
    from mmssl.synth import generate_world

    config = load_config(DemoConfig, None, WORLD)
    world, shards = out / "world", out / "shards"
    if not (shards / "youcook2" / "manifest.json").is_file():
        generate_world(world, config.synth, progress=False)
        prepare_world(config, world, shards)
    return shards / "howto100m", shards / "youcook2"


def run_one(run_dir: Path, overrides: list[str], seed: int, args, shards: tuple[Path, Path]
            ) -> dict:
    """Train and evaluate one (variant, seed); returns its metrics and wall seconds."""
    result_path = run_dir / "checkpoint" / "eval_youcook2.json"
    timing_path = run_dir / "wall_seconds.json"
    if result_path.is_file() and timing_path.is_file():
        return {"metrics": json.loads(result_path.read_text())["metrics"],
                **json.loads(timing_path.read_text())}
    started = time.time()
    # One torch thread per process: on a loaded 2-core machine, spinning threads made
    # evaluation ~10x slower (benchmarks/README.md, loader_throughput).
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    train = [sys.executable, "-m", "mmssl.cli", "train", f"--data.shards={shards[0]}",
             f"--output_dir={run_dir}", f"--seed={seed}", f"--optim.max_steps={args.steps}",
             f"--optim.warmup_steps={max(1, args.steps // 10)}",
             f"--data.batch_size={args.batch}", "--threads=1", "--log_every=10",
             "--no-progress", *overrides]
    trained_before = run_dir / "train_seconds.json"
    if not trained_before.is_file():
        subprocess.run(train, check=True, stdout=subprocess.DEVNULL, env=env)
        trained_before.write_text(json.dumps(round(time.time() - started, 1)))
    train_seconds = json.loads(trained_before.read_text())
    trained = time.time()
    subprocess.run([sys.executable, "-m", "mmssl.cli", "eval", "youcook2", "--checkpoint",
                    str(run_dir / "checkpoint"), "--shards", str(shards[1]),
                    "--windows", str(args.windows)], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, env=env)
    timing = {"train_seconds": train_seconds,
              "eval_seconds": round(time.time() - trained, 1)}
    timing_path.write_text(json.dumps(timing))
    return {"metrics": json.loads(result_path.read_text())["metrics"], **timing}


def mean_std(values: list[float]) -> tuple[float, float]:
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def aggregate(runs: dict) -> dict:
    """{experiment: {variant: {direction: {metric: [mean, std, n]}}}} over seeds."""
    table: dict = {}
    for (experiment, variant), by_seed in runs.items():
        rows = table.setdefault(experiment, {}).setdefault(variant, {})
        for direction in COLUMNS:
            per_seed = [r["metrics"][direction] for r in by_seed.values()
                        if direction in r["metrics"]]
            if per_seed:
                rows[direction] = {m: [*mean_std([p[m] for p in per_seed]), len(per_seed)]
                                   for m in ("R@1", "R@10", "MedR")}
    return table


def markdown(table: dict) -> str:
    lines = ["| experiment | variant | direction | R@1 | R@10 | MedR | seeds |",
             "|---|---|---|---|---|---|---|"]
    for experiment, variants in table.items():
        for variant, directions in variants.items():
            for direction, m in directions.items():
                if experiment == "milnce_k" and direction != "text->video":
                    continue
                cells = [f"{m[k][0]:.3f} ± {m[k][1]:.3f}" for k in ("R@1", "R@10")]
                cells.append(f"{m['MedR'][0]:.1f} ± {m['MedR'][1]:.1f}")
                lines.append(f"| {experiment} | {variant} | {direction} | "
                             f"{' | '.join(cells)} | {m['R@1'][2]} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="runs/ablations")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=80)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--windows", type=int, default=3)
    parser.add_argument("--only", nargs="+", choices=sorted({*EXPERIMENTS, *EXTRA}))
    parser.add_argument("--json", default="benchmarks/results/ablations.json")
    args = parser.parse_args()
    out = Path(args.out)
    started = time.time()
    shards = build_world(out)
    world_seconds = round(time.time() - started, 1)
    print(f"[ablations] world and shards ready ({world_seconds} s)", flush=True)
    runs: dict = {}
    # Seed-major order: a partial table (one seed of everything) exists early.
    for seed in args.seeds:
        for experiment, variants in {**EXPERIMENTS, **EXTRA}.items():
            if (args.only and experiment not in args.only) or (
                    not args.only and experiment in EXTRA):
                continue
            for variant, overrides in variants.items():
                run_dir = out / "runs" / experiment / variant.split(" (")[0].replace(" ", "_")
                record = run_one(run_dir / f"seed{seed}", overrides, seed, args, shards)
                runs.setdefault((experiment, variant), {})[seed] = record
                m = record["metrics"]["text->video"]
                print(f"[ablations] {experiment} | {variant} | seed {seed}: t->v R@1 "
                      f"{m['R@1']:.3f} R@10 {m['R@10']:.3f} ({record['train_seconds']} s "
                      "train)", flush=True)
                _write(args, runs, world_seconds, started)
    print(markdown(aggregate(runs)))
    print(f"[ablations] wall {time.time() - started:.0f} s")


def _write(args, runs: dict, world_seconds: float, started: float) -> None:
    table = aggregate(runs)
    record = {
        "machine": {"platform": platform.platform(), "python": platform.python_version()},
        "settings": {"world": WORLD, "steps": args.steps, "batch": args.batch,
                     "windows": args.windows, "seeds": args.seeds, "threads": 1},
        "experiments": {e: {v: o for v, o in vs.items()} for e, vs in EXPERIMENTS.items()},
        "world_seconds": world_seconds, "wall_seconds": round(time.time() - started, 1),
        "runs": {f"{e} | {v}": by_seed for (e, v), by_seed in runs.items()},
        "table": table,
    }
    path = Path(args.json)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=1))
    path.with_suffix(".md").write_text(markdown(table) + "\n")


if __name__ == "__main__":
    main()
