"""Config: dataclass defaults, YAML overrides, command-line overrides, clear errors."""

from pathlib import Path

import pytest
import yaml

from mmssl.command_line import config_keys
from mmssl.config import (
    ConfigError,
    DemoConfig,
    EmbedConfig,
    TrainConfig,
    load_config,
    save_config,
    to_dict,
)


def test_yaml_then_command_line_override(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({"optim": {"lr": 0.5}, "data": {"batch_size": 8}}))
    config = load_config(TrainConfig, path, ["--optim.lr=0.25", "--loss.normalize=false"])
    assert config.optim.lr == 0.25 and config.data.batch_size == 8
    assert config.loss.normalize is False
    assert config.optim.max_steps == TrainConfig().optim.max_steps


def test_round_trip(tmp_path):
    config = load_config(DemoConfig, None, ["--train.seed=7", "--synth.howto_seconds=[5, 6]"])
    save_config(config, tmp_path / "out.yaml")
    again = load_config(DemoConfig, tmp_path / "out.yaml")
    assert to_dict(again) == to_dict(config) and again.synth.howto_seconds == (5.0, 6.0)


@pytest.mark.parametrize("override, message", [
    ("--optim.lrr=1", "unknown key 'lrr'"),
    ("--optim.lr", "not of the form"),
    ("--data.batch_size=many", "expected int"),
    ("--optim.max_steps=true", "optim.max_steps: expected int, got True"),
    ("--optim.lr=false", "optim.lr: expected float, got False"),
    ("--loss.weights.at=yes", r"loss.weights.at: expected float, got True"),
    ("--data.crop_size=[48, true]", "data.crop_size: expected int, got True"),
])
def test_bad_overrides_are_errors(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config(TrainConfig, None, [override])


def test_unknown_key_in_yaml_names_the_file(tmp_path):
    path = tmp_path / "typo.yaml"
    path.write_text("optim:\n  warmup: 3\n")
    with pytest.raises(ConfigError, match="typo.yaml"):
        load_config(TrainConfig, path)


@pytest.mark.parametrize("path", sorted((Path(__file__).parents[1] / "configs").glob("*.yaml")),
                         ids=lambda p: p.name)
def test_shipped_configs_load(path):
    config = load_config(TrainConfig, path)
    assert config.output_dir.startswith("runs/") and config.data.shards


def test_text_fields_take_override_text_as_written():
    """YAML would read ``no`` as false and ``2024`` as a number; a text field keeps them."""
    config = load_config(TrainConfig, None, ["--mixed_precision=no", "--output_dir=2024",
                                             "--data.shards=", "--data.batch-size=8"])
    assert (config.mixed_precision, config.output_dir, config.data.shards) == ("no", "2024", "")
    assert config.data.batch_size == 8


@pytest.mark.parametrize("cls", [DemoConfig, EmbedConfig])
def test_every_setting_has_a_one_line_meaning(cls):
    """The help every command lists comes from the field itself (config.setting)."""
    for key, _, meaning in config_keys(cls()):
        assert meaning and "\n" not in meaning, key


def test_a_text_field_takes_a_number_in_a_file_but_not_a_bool(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("output_dir: 2024\ndata:\n  shards: 12.5\n  mix: {2024: 1}\n")
    config = load_config(TrainConfig, path)
    assert (config.output_dir, config.data.shards, config.data.mix) == ("2024", "12.5",
                                                                        {"2024": 1.0})
    path.write_text("mixed_precision: no\n")  # YAML reads no as false
    with pytest.raises(ConfigError, match="mixed_precision: expected str, got False"):
        load_config(TrainConfig, path)


def test_a_config_file_that_is_not_yaml_is_named(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("optim: {lr: [1,\n")
    with pytest.raises(ConfigError, match=r"config file .*broken.yaml: not YAML \(line"):
        load_config(TrainConfig, path)
    with pytest.raises(ConfigError, match="nope.yaml"):
        load_config(TrainConfig, tmp_path / "nope.yaml")
