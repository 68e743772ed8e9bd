"""The training loop gives each method its own candidate rule when data.candidates is
empty: MIL-NCE's reference rule for milnce (every slot filled), mmssl's masked rule for
the others."""

import pytest

from mmssl.config import TrainConfig, load_config
from mmssl.training.loop import Run


def first_batch(shards, out, method: str, *overrides: str) -> dict:
    config = load_config(TrainConfig, None, [
        f"--method={method}", f"--data.shards={shards}", f"--output_dir={out}",
        "--data.batch_size=4", "--data.num_workers=0", "--data.shuffle_buffer=4",
        "--data.num_candidates=12", *overrides])
    return next(Run(config, progress=False).batches(0))


@pytest.mark.parametrize(("method", "overrides", "filled"), [
    ("milnce", (), True), ("mmv", (), False), ("milnce", ("--data.candidates=masked",), False),
])
def test_milnce_fills_every_candidate_slot_by_default(tiny_shards, tmp_path, method,
                                                      overrides, filled):
    batch = first_batch(tiny_shards["howto100m"], tmp_path, method, *overrides)
    assert bool(batch["text_mask"].all()) == filled
