"""Every command's one override form: its own arguments, then its config dataclass from
``--config FILE.yaml`` and ``--key=value`` / ``--key value`` (keys relative to the command's
config, ``-`` and ``_`` alike); ``--help`` lists every key with its default and meaning;
an unknown key is an error naming the known keys."""

import argparse
import io
import json
import shutil
import tarfile

import av
import pytest
import yaml
from safetensors.torch import load_file

from mmssl.cli import main
from mmssl.command_line import config_keys, parse_command
from mmssl.config import (
    DemoConfig,
    EmbedConfig,
    EvalConfig,
    PrepConfig,
    SearchConfig,
    SynthConfig,
    TrainConfig,
    to_dict,
)
from mmssl.shard_format import read_manifest

COMMANDS = {"demo": DemoConfig, "synth": SynthConfig, "prep howto100m": PrepConfig,
            "prep youcook2": PrepConfig, "prep coin": PrepConfig, "prep audioset": PrepConfig,
            "prep videos": PrepConfig, "train": TrainConfig, "eval": EvalConfig,
            "embed": EmbedConfig, "search": SearchConfig}


def parse(cls, *argv):
    return parse_command(argparse.ArgumentParser(prog="test"), cls, list(argv))[1]


@pytest.mark.parametrize("command", COMMANDS)
def test_help_lists_every_key_with_default_and_meaning(command, capsys):
    with pytest.raises(SystemExit) as done:
        main([*command.split(), "--help"])
    assert done.value.code == 0
    lines = capsys.readouterr().out.splitlines()
    for key, default, meaning in config_keys(COMMANDS[command]()):
        shown = default if isinstance(default, str) and default else json.dumps(
            list(default) if isinstance(default, tuple) else default)
        option = f"--{key}={shown} "
        at = next(i for i, line in enumerate(lines) if f"{line.strip()} ".startswith(option))
        assert meaning in lines[at] or meaning in lines[at + 1], key


def test_spot_checks_of_the_help(capsys):
    with pytest.raises(SystemExit):
        main(["prep", "youcook2", "--help"])
    out = capsys.readouterr().out
    assert "--gop=8" in out and "keyframe interval" in out and "--annotations" in out
    assert "usage: mmssl prep youcook2" in out
    with pytest.raises(SystemExit):
        main(["demo", "--help"])
    assert '--train.loss.weights={"at": 1.0}' in capsys.readouterr().out


@pytest.mark.parametrize("command, option, known", [
    ("train", "--optim.lrr=1", "keys of optim: accumulation_steps"),
    ("train", "--no_such_key", "TrainConfig keys: checkpoint_every, data,"),
    ("synth --out x", "--synth.howto_videos=2", "SynthConfig keys: audio_rate, audioset_clips"),
    ("eval youcook2 --checkpoint c", "--eval.windows=3", "EvalConfig keys: audioset_class"),
    ("prep coin --annotations a --videos v --out o", "--gopp=4", "PrepConfig keys: crf, fps,"),
    ("embed --checkpoint c --sentences s --out o", "--windw=2",
     "EmbedConfig keys: batch_size, device, fps, level,"),
    ("search index query", "--topp=2", "SearchConfig keys: backend, block_rows,"),
    ("demo", "--train.optim.lrr=1", "keys of train.optim: accumulation_steps"),
])
def test_unknown_keys_are_errors_naming_the_known_ones(command, option, known, capsys):
    with pytest.raises(SystemExit) as done:
        main([*command.split(), option])
    assert done.value.code == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert f"unknown option {option.partition('=')[0]}" in error and known in error


def test_dash_and_underscore_are_alike_and_both_value_forms_work():
    dashes = parse(PrepConfig, "--short-side", "32", "--max-pixels=100", "--max_seconds", "5")
    underscores = parse(PrepConfig, "--short_side=32", "--max_pixels", "100", "--max-seconds=5")
    assert dashes == underscores == PrepConfig(short_side=32, max_pixels=100, max_seconds=5.0)
    demo = parse(DemoConfig, "--train.optim.max-steps", "5", "--train.data.batch_size=4")
    assert (demo.train.optim.max_steps, demo.train.data.batch_size) == (5, 4)


def test_values_as_typed():
    train = parse(TrainConfig, "--resume", "latest", "--mixed_precision=no", "--optim.lr", "-1",
                  "--loss.learn-temperature", "--tensorboard", "false",
                  "--data.mix./data/a-b.1=2", "--optim.betas=[0.8, 0.9]")
    assert (train.resume, train.mixed_precision, train.optim.lr) == ("latest", "no", -1.0)
    assert train.loss.learn_temperature is True and train.tensorboard is False
    assert train.data.mix == {"/data/a-b.1": 2.0}  # an entry's name is kept as written
    assert train.optim.betas == (0.8, 0.9)
    assert parse(EvalConfig, "--subset", "").subset == ""
    parser = argparse.ArgumentParser(prog="test")
    parser.add_argument("benchmark")
    args, config = parse_command(parser, TrainConfig, ["--loss.learn_temperature", "youcook2"])
    assert args.benchmark == "youcook2" and config.loss.learn_temperature is True


def test_config_file_then_overrides(tmp_path):
    path = tmp_path / "train.yaml"
    path.write_text(yaml.safe_dump({"optim": {"lr": 0.5, "max_steps": 9}}))
    config = parse(TrainConfig, "--config", str(path), "--optim.lr=0.25")
    assert (config.optim.lr, config.optim.max_steps) == (0.25, 9)


@pytest.mark.parametrize("argv, message", [
    (["--optim.lr"], "--optim.lr needs a value"),
    (["--data.batch_size=many"], "expected int"),
    (["--config", "/nonexistent.yaml"], "/nonexistent.yaml"),
])
def test_bad_values_are_usage_errors(argv, message, capsys):
    with pytest.raises(SystemExit):
        parse(TrainConfig, *argv)
    assert message in capsys.readouterr().err


def test_prep_takes_every_setting_from_the_command(tiny_world, tmp_path):
    (tmp_path / "prep.yaml").write_text("gop: 4\nsamples_per_shard: 2\n")
    out = tmp_path / "shards"
    youcook = tiny_world / "youcook2"
    main(["prep", "youcook2", "--annotations", str(youcook / "youcookii_annotations_trainval.json"),
          "--videos", str(youcook / "videos"), "--out", str(out), "--subset", "validation",
          "--config", str(tmp_path / "prep.yaml"), "--crf", "30", "--short-side=32",
          "--max_pixels=100000", "--max-seconds", "600", "--workers=1"])
    settings = read_manifest(out)["prep"]
    assert settings == {**to_dict(PrepConfig()), "gop": 4, "samples_per_shard": 2, "crf": 30,
                        "short_side": 32, "max_pixels": 100000, "max_seconds": 600.0,
                        "workers": 1}
    with tarfile.open(out / "shard-000000.tar") as tar:
        media = next(tar.extractfile(m).read() for m in tar if m.name.endswith(".mp4"))
    assert b"keyint=4 " in media and b"crf=30.0" in media  # x264's record of its options
    with av.open(io.BytesIO(media)) as container:
        frames = list(container.decode(video=0))
    assert min(frames[0].width, frames[0].height) == 32
    assert [i for i, frame in enumerate(frames) if frame.key_frame] == list(
        range(0, len(frames), 4))


def test_synth_keys_without_prefix(tmp_path):
    main(["synth", "--out", str(tmp_path), "--howto_videos=2", "--youcook-val-videos", "1",
          "--youcook_train_videos=0", "--coin-videos=0", "--audioset_clips", "0",
          "--howto_seconds=[6, 8]", "--youcook_seconds", "[6, 8]"])
    assert len(json.loads((tmp_path / "howto100m" / "caption.json").read_text())) == 2
    youcook = json.loads((tmp_path / "youcook2" / "youcookii_annotations_trainval.json")
                         .read_text())["database"]
    assert len(youcook) == 1 and not (tmp_path / "coin").exists()


def test_eval_windows_from_the_command(eval_checkpoint, tiny_shards, tmp_path):
    checkpoint = tmp_path / "checkpoint"
    shutil.copytree(eval_checkpoint, checkpoint)
    assert main(["eval", "youcook2", "--checkpoint", str(checkpoint),
                 "--shards", str(tiny_shards["youcook2"]), "--windows=3"]) == 0
    results = json.loads((checkpoint / "eval_youcook2.json").read_text())
    assert results["protocol"]["windows"] == 3


def test_embed_settings_from_the_command(eval_checkpoint, tiny_shards, tmp_path):
    from mmssl.eval.embed import embed_shards

    out = tmp_path / "video.safetensors"
    assert main(["embed", "--checkpoint", str(eval_checkpoint), "--shards",
                 str(tiny_shards["youcook2"]), "--out", str(out), "--modalities", "video",
                 "--windows", "2", "--level=backbone"]) == 0
    _, expected = embed_shards(eval_checkpoint, str(tiny_shards["youcook2"]), ["video"],
                               windows=2, level="backbone")
    written = load_file(str(out))
    assert set(written) == set(expected) == {"video.features"}
    assert written["video.features"].equal(expected["video.features"])


# User errors: one line on stderr, exit code 2; the traceback with --debug.

def one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("mmssl: error: "), err
    return err


def test_an_unknown_command_is_named(capsys):
    assert main(["bogus", "--x"]) == 2
    error = one_line_error(capsys)
    assert "unknown command 'bogus'" in error and "train" in error
    assert main(["prep", "bogus"]) == 2
    assert "unknown dataset 'bogus'" in one_line_error(capsys)


def test_summary_needs_a_directory_and_names_a_missing_one(tmp_path, capsys):
    with pytest.raises(SystemExit) as done:
        main(["prep", "--summary"])
    assert done.value.code == 2 and "SHARDS" in capsys.readouterr().err
    assert main(["prep", "--summary", str(tmp_path / "nope")]) == 2
    assert f"{tmp_path / 'nope' / 'manifest.json'} not found" in one_line_error(capsys)


def test_a_bool_is_not_a_number_and_a_text_field_takes_any_text(capsys, tmp_path,
                                                               monkeypatch):
    with pytest.raises(SystemExit) as done:
        main(["train", "--optim.max_steps=true"])
    assert done.value.code == 2
    assert "optim.max_steps: expected int, got True" in capsys.readouterr().err
    monkeypatch.chdir(tmp_path)  # --data.shards=2024 is accepted, then is not there
    assert main(["train", "--data.shards=2024", "--dry-run"]) == 2
    assert "2024/manifest.json not found" in one_line_error(capsys)


def test_a_bad_annotation_file_is_one_line_and_debug_shows_the_traceback(tmp_path, capsys):
    from mmssl.prep.annotations import AnnotationError

    captions = tmp_path / "caption.json"
    captions.write_text('{"abc": {"start": [1], "end": [2], "text": ["x"]')  # cut short
    argv = ["prep", "howto100m", "--captions", str(captions), "--videos", str(tmp_path),
            "--out", str(tmp_path / "out")]
    assert main(argv) == 2
    assert f"{captions}: record '<file>': not a JSON file" in one_line_error(capsys)
    with pytest.raises(AnnotationError, match="not a JSON file"):
        main([*argv, "--debug"])


def test_a_bad_record_with_strict_names_file_and_record(tiny_world, tmp_path, capsys):
    youcook = tiny_world / "youcook2"
    data = json.loads((youcook / "youcookii_annotations_trainval.json").read_text())
    video_id = next(iter(data["database"]))
    data["database"][video_id]["annotations"][0]["segment"] = [0, float("inf")]
    annotations = tmp_path / "annotations.json"
    annotations.write_text(json.dumps(data))  # Infinity, as Python's json writes it
    assert main(["prep", "youcook2", "--annotations", str(annotations), "--videos",
                 str(youcook / "videos"), "--out", str(tmp_path / "out"), "--strict"]) == 2
    error = one_line_error(capsys)
    assert f"{annotations}: record '{video_id}': dropped 1 of" in error
    assert "annotations[0]" in error and "end inf is not finite" in error
    assert not (tmp_path / "out" / "manifest.json").exists()
