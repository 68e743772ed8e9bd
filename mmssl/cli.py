"""``mmssl``: the command line. Thin: parse arguments, load config, call one function.

Every command takes its inputs as ordinary arguments and its settings as one config
dataclass: ``--config FILE.yaml``, then ``--<key>=value`` (or ``--<key> value``) overrides,
keys relative to the command's own config, ``-`` and ``_`` alike (see
:mod:`mmssl.command_line`; ``mmssl <command> --help`` lists the keys and defaults).

    mmssl demo [--out DIR] [--config FILE.yaml] [--train.optim.max_steps=N ...]   DemoConfig
    mmssl synth --out DIR [--howto_videos=N ...]                                  SynthConfig
    mmssl prep howto100m|youcook2|coin|audioset ARGS... [--gop=N ...]             PrepConfig
        (also python -m mmssl.prep.<dataset>)
    mmssl prep --summary SHARDS [SHARDS ...]
    mmssl train --config configs/X.yaml [--optim.lr=X ...] [--resume latest] [--dry-run]
                                                                                  TrainConfig
    mmssl eval youcook2|classify|all --checkpoint RUN/checkpoint [--shards YC2] [--windows 10]
        [--clip-list CLIPS.csv] [--subset validation] [--coin-shards COIN]
        [--audioset-shards AS --audioset-class-names class_labels_indices.csv]    EvalConfig
    mmssl embed --checkpoint RUN/checkpoint (--shards SHARDS | --sentences FILE.txt |
        --videos DIR_OR_CSV) --out OUT.safetensors|OUT_DIR [--modalities video audio text]
        [--windows 10] [--subset S] [--level embedding|backbone] [--window 4 --stride 2]
                                                                                  EmbedConfig
    mmssl search INDEX "query" ["query" ...] [--top 10] [--html OUT_DIR]          SearchConfig
    mmssl report RUN_DIR|CHECKPOINT_DIR
    mmssl convert milnce|avlnet|clip ... --out CKPT        (a published model's release;
        see mmssl convert --help)

A mistake in the input (a config key or value, an annotation file, a run directory that
holds another run, a missing file; :class:`mmssl.errors.UserError`) ends the command with
one line, ``mmssl: error: <what and where>``, and exit code 2; ``--debug`` anywhere on the
command line shows the traceback instead. Any other exception is a bug and shows its
traceback.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from mmssl.command_line import parse_command
from mmssl.config import DemoConfig, EmbedConfig, EvalConfig, SearchConfig, SynthConfig
from mmssl.errors import UserError

PREP_DATASETS = ("howto100m", "youcook2", "coin", "audioset", "videos")


class UsageError(UserError):
    """A command line that names no known command or dataset."""


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    argv = [arg for arg in argv if arg != "--debug"]
    commands = {"demo": _demo, "synth": _synth, "prep": _prep, "train": _train, "eval": _eval,
                "embed": _embed, "search": _search, "report": _report, "convert": _convert}
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if argv else 2
    if argv[0] not in commands:
        return _usage_error(f"unknown command {argv[0]!r}; commands: {', '.join(commands)} "
                            "(mmssl --help)")
    try:
        commands[argv[0]](argv[1:])
    except USER_ERRORS as error:
        if debug:
            raise
        return _usage_error(str(error))
    return 0


# Bad input: mmssl's own UserError classes, and a path given on the command line (or in a
# config) that is not there or cannot be read.
USER_ERRORS = (UserError, FileNotFoundError, NotADirectoryError, IsADirectoryError,
               PermissionError)


def _usage_error(message: str) -> int:
    """One line on stderr, exit code 2 (argparse's for usage errors)."""
    print(f"mmssl: error: {' '.join(message.split())}", file=sys.stderr)
    return 2


def _demo(argv: list[str]) -> None:
    from mmssl.demo import run_demo

    parser = argparse.ArgumentParser(prog="mmssl demo", description="Run the whole path on "
                                     "the synthetic world (offline, CPU).")
    parser.add_argument("--out", help="output directory (default: a new runs/demo-<time>)")
    parser.add_argument("--no-progress", action="store_true")
    args, config = parse_command(parser, DemoConfig, argv)
    out = Path(args.out or f"runs/demo-{time.strftime('%Y%m%d-%H%M%S')}")
    run_demo(config, out, progress=not args.no_progress)


def _synth(argv: list[str]) -> None:
    from mmssl.synth import generate_world

    parser = argparse.ArgumentParser(prog="mmssl synth", description="Write the synthetic "
                                     "world in the public dataset formats.")
    parser.add_argument("--out", required=True, help="directory of the world")
    args, config = parse_command(parser, SynthConfig, argv)
    print(generate_world(args.out, config))


def _prep(argv: list[str]) -> None:
    if argv and argv[0] == "--summary":
        from mmssl.prep.summary import summarize

        parser = argparse.ArgumentParser(prog="mmssl prep --summary",
                                         description="Summarise prepared shard directories.")
        parser.add_argument("directories", nargs="+", metavar="SHARDS")
        for directory in parser.parse_args(argv[1:]).directories:
            print(summarize(directory))
        return
    if not argv or argv[0] not in PREP_DATASETS:
        what = f"unknown dataset {argv[0]!r}" if argv else "which dataset?"
        raise UsageError(f"mmssl prep: {what}; usage: mmssl prep "
                         f"{{{','.join(PREP_DATASETS)}}} ARGS... (mmssl prep <dataset> --help) "
                         "or mmssl prep --summary SHARDS [SHARDS ...]")
    import importlib

    importlib.import_module(f"mmssl.prep.{argv[0]}").main(argv[1:], prog=f"mmssl prep {argv[0]}")


def _train(argv: list[str]) -> None:
    from mmssl.train import main as train_main

    train_main(argv)


def _eval(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="mmssl eval", description="Zero-shot retrieval "
                                     "(youcook2), linear probes and zero-shot classification "
                                     "(classify), or everything configured plus the report "
                                     "(all).")
    parser.add_argument("benchmark", choices=["youcook2", "classify", "all"])
    parser.add_argument("--checkpoint", required=True, help="a run's checkpoint directory")
    args, config = parse_command(parser, EvalConfig, argv)
    if args.benchmark == "youcook2":
        from mmssl.eval.evaluate import evaluate_youcook2
        from mmssl.eval.report import format_table

        if not config.shards:
            parser.error("youcook2 needs --shards")
        print(format_table(evaluate_youcook2(args.checkpoint, config)))
    elif args.benchmark == "classify":
        from mmssl.eval.evaluate import classify_checkpoint
        from mmssl.eval.report import format_classification

        print(format_classification(classify_checkpoint(args.checkpoint, config, True)))
    else:
        from mmssl.eval.evaluate import evaluate_checkpoint

        print(f"report: {evaluate_checkpoint(args.checkpoint, config, True)['report']}")


def _embed(argv: list[str]) -> None:
    from mmssl.eval.embed import embed_sentences, embed_shards, read_sentences, write_embeddings

    parser = argparse.ArgumentParser(prog="mmssl embed", description="Export embeddings "
                                     "(with their keys) to .safetensors or a .npy directory; "
                                     "raw videos to .safetensors or a directory of parts.")
    parser.add_argument("--checkpoint", required=True)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--shards", help="prepared shards: one row per segment")
    source.add_argument("--sentences", help="text file, one sentence per line")
    source.add_argument("--videos", help="raw videos: a directory, or a CSV video_id,path"
                        "[,start,end]; one row per span (resumable)")
    parser.add_argument("--out", required=True, help="X.safetensors, or a directory (.npy; "
                        "parts for --videos)")
    parser.add_argument("--modalities", nargs="+", choices=["video", "audio", "text"],
                        help="towers to export (default: every tower of the method)")
    args, config = parse_command(parser, EmbedConfig, argv)
    if args.videos:
        from mmssl.api.collection import embed_video_collection

        print(embed_video_collection(args.checkpoint, args.videos, args.out, config,
                                     args.modalities))
        return
    if args.sentences:
        keys, arrays = embed_sentences(args.checkpoint, read_sentences(args.sentences),
                                       config.batch_size, config.level)
    else:
        keys, arrays = embed_shards(args.checkpoint, args.shards, args.modalities,
                                    config.windows, config.subset, config.level, progress=True,
                                    batch_size=config.batch_size)
    out = write_embeddings(args.out, keys, arrays, args.sentences or args.shards)
    print(f"{len(keys)} rows, arrays {sorted(arrays)} -> {out}")


def _search(argv: list[str]) -> None:
    from mmssl.search.page import write_page
    from mmssl.search.ranking import format_hits, search

    parser = argparse.ArgumentParser(prog="mmssl search", description="Text queries against "
                                     "an index written by mmssl embed --videos: the "
                                     "best-matching spans with their times.")
    parser.add_argument("index", help="OUT.safetensors or OUT_DIR of mmssl embed --videos")
    parser.add_argument("queries", nargs="+", help="what to look for, one or more")
    parser.add_argument("--checkpoint", help="embed queries with this checkpoint (default: "
                        "the one the index was embedded with)")
    parser.add_argument("--html", metavar="OUT_DIR", help="also write OUT_DIR/index.html, a "
                        "thumbnail strip per hit")
    args, config = parse_command(parser, SearchConfig, argv)
    hits = search(args.index, args.queries, config, args.checkpoint)
    for query, found in zip(args.queries, hits, strict=True):
        print(format_hits(query, found))
    if args.html:
        print(f"page: {write_page(args.html, args.queries, hits, config.thumbnails)}")


def _report(argv: list[str]) -> None:
    from mmssl.eval.report import write_report

    parser = argparse.ArgumentParser(prog="mmssl report", description="Redraw the evaluation "
                                     "report (JSON, Markdown, PNG) of a run.")
    parser.add_argument("run", help="run directory (holding checkpoint/) or checkpoint dir")
    print(f"report: {write_report(parser.parse_args(argv).run)}")


def _convert(argv: list[str]) -> None:
    from mmssl.convert import main as convert_main

    convert_main(argv)


if __name__ == "__main__":
    sys.exit(main())
