"""``mmssl``: the command line. Thin: parse arguments, load config, call one function.

    mmssl demo [--out DIR] [--config configs/demo.yaml] [--train.optim.max_steps=N ...]
    mmssl synth --out DIR [--synth.howto_videos=N ...]
    mmssl prep howto100m|youcook2|coin|audioset ARGS...   (python -m data_prep.<dataset>)
    mmssl prep --summary SHARDS [SHARDS ...]
    mmssl train --config configs/X.yaml [--a.b=c ...]
    mmssl eval youcook2 --checkpoint RUN/checkpoint --shards SHARDS [--windows 10]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from mmssl.config import DemoConfig, EvalConfig, SynthConfig, load_config

PREP_DATASETS = ("howto100m", "youcook2", "coin", "audioset")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    commands = {"demo": _demo, "synth": _synth, "prep": _prep, "train": _train, "eval": _eval}
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in commands:
        print(__doc__)
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    commands[argv[0]](argv[1:])
    return 0


def _demo(argv: list[str]) -> None:
    from mmssl.demo import run_demo

    parser = argparse.ArgumentParser(prog="mmssl demo", description="Run the whole path on "
                                     "the synthetic world (offline, CPU).")
    parser.add_argument("--out", help="output directory (default: a new runs/demo-<time>)")
    parser.add_argument("--config", help="YAML overriding DemoConfig defaults")
    parser.add_argument("--no-progress", action="store_true")
    args, overrides = parser.parse_known_args(argv)
    config = load_config(DemoConfig, args.config, overrides)
    out = Path(args.out or f"runs/demo-{time.strftime('%Y%m%d-%H%M%S')}")
    run_demo(config, out, progress=not args.no_progress)


def _synth(argv: list[str]) -> None:
    from mmssl.synth import generate_world

    parser = argparse.ArgumentParser(prog="mmssl synth", description="Write the synthetic "
                                     "world in the public HowTo100M and YouCook2 formats.")
    parser.add_argument("--out", required=True)
    parser.add_argument("--config", help="YAML overriding SynthConfig defaults")
    args, overrides = parser.parse_known_args(argv)
    config = load_config(SynthConfig, args.config, [o.replace("--synth.", "--") for o in overrides])
    print(generate_world(args.out, config))


def _prep(argv: list[str]) -> None:
    if argv and argv[0] == "--summary":
        from data_prep.summary import summarize

        for directory in argv[1:]:
            print(summarize(directory))
        return
    if not argv or argv[0] not in PREP_DATASETS:
        raise SystemExit(f"usage: mmssl prep {{{','.join(PREP_DATASETS)}}} ARGS... "
                         "(see python -m data_prep.<dataset> --help)")
    import importlib

    importlib.import_module(f"data_prep.{argv[0]}").main(argv[1:])


def _train(argv: list[str]) -> None:
    from mmssl.train import main as train_main

    train_main(argv)


def _eval(argv: list[str]) -> None:
    from mmssl.eval.retrieval import evaluate_youcook2, format_table

    parser = argparse.ArgumentParser(prog="mmssl eval", description="Zero-shot retrieval.")
    parser.add_argument("benchmark", choices=["youcook2"])
    parser.add_argument("--checkpoint", required=True, help="a run's checkpoint directory")
    parser.add_argument("--shards", required=True, help="prepared YouCook2-format shards")
    parser.add_argument("--windows", type=int, default=EvalConfig().windows)
    parser.add_argument("--subset", default=EvalConfig().subset)
    args = parser.parse_args(argv)
    config = EvalConfig(shards=args.shards, windows=args.windows, subset=args.subset)
    print(format_table(evaluate_youcook2(args.checkpoint, config)))


if __name__ == "__main__":
    sys.exit(main())
