"""Batch buffers handed back by the consumer are filled again — and only those: a batch
kept without being released is never written to, and a hand-back left over from an earlier
pass over the loader is ignored."""

import itertools

import torch

from mmssl.data.recycling import RECYCLE_KEY, SLOTS, BufferPool
from mmssl.data.training_stream import TrainingStream
from mmssl.data.worker_loader import worker_loader
from tests.data.test_training_stream import TOKENIZER, assert_same_batches, small_config

SHAPES = {"video": ((3, 2, 4, 4), torch.uint8)}


def copied(batch: dict) -> dict:
    """The batch's contents, copied, without its hand-back tag."""
    return {key: value.clone() if torch.is_tensor(value) else value
            for key, value in batch.items() if key != RECYCLE_KEY}


def test_released_buffers_are_refilled_and_kept_ones_never(tiny_shards):
    config = small_config(tiny_shards["howto100m"], num_workers=1)
    stream = TrainingStream(config, TOKENIZER)
    batches = iter(worker_loader(stream, workers=1))
    kept = next(batches)  # held, never released
    kept_copy = copied(kept)
    seen, tags = [copied(kept)], [kept[RECYCLE_KEY]]
    for batch in itertools.islice(batches, 11):
        seen.append(copied(batch))
        tags.append(batch[RECYCLE_KEY])
        stream.release(batch)
    reused = [tag for tag in tags if tag is not None and (tag[0], tag[1]) in
              {(t[0], t[1]) for t in tags[: tags.index(tag)] if t is not None}]
    assert reused, tags  # the worker filled released buffers again
    assert all(tag[1] != kept[RECYCLE_KEY][1] for tag in tags[1:])  # not the kept slot
    assert_same_batches([copied(kept)], [kept_copy])
    # Refilled buffers hold exactly what fresh ones would: the stream in this process,
    # never released, gives the same batches.
    fresh = itertools.islice(iter(TrainingStream(config, TOKENIZER)), len(seen))
    assert_same_batches(seen, [copied(batch) for batch in fresh])


def test_a_release_from_an_earlier_pass_is_ignored():
    pool = BufferPool(readers=1)
    pool.start(0)
    first, tag = pool.take(2, SHAPES)
    pool.release({RECYCLE_KEY: tag})
    again, _ = pool.take(2, SHAPES)
    assert again is first  # released: filled again
    pool.start(0)  # the loader is iterated anew; the old hand-back stays in the table
    fresh, _ = pool.take(2, SHAPES)
    assert fresh is not first
    assert pool.take(2, SHAPES)[0] is not fresh  # not released: a new buffer


def test_slots_are_bounded_and_a_consumer_that_keeps_batches_stops_the_keeping():
    pool = BufferPool(readers=1)
    pool.start(0)
    first, tag = pool.take(2, SHAPES)
    pool.release({RECYCLE_KEY: tag})
    tags = [pool.take(2, SHAPES)[1] for _ in range(SLOTS + 2)]  # one refill, then none
    assert len(pool.slots) == SLOTS and tags[-1] is None and pool.reader == 0
    keeper = BufferPool(readers=1)
    keeper.start(0)
    tags = [keeper.take(2, SHAPES)[1] for _ in range(SLOTS + 1)]  # never handed back
    assert tags[SLOTS - 1] is not None and tags[SLOTS] is None and not keeper.slots


def test_readers_beyond_the_table_take_fresh_buffers():
    pool = BufferPool(readers=1)
    pool.start(3)  # more workers than the config said
    buffers, tag = pool.take(2, SHAPES)
    assert tag is None and not pool.slots


def shared_names(batch: dict) -> dict[str, bytes]:
    """The name of the shared memory segment behind each tensor of a batch from a worker."""
    return {key: value.untyped_storage()._share_filename_cpu_()[1]
            for key, value in batch.items() if torch.is_tensor(value)}


def test_a_refilled_batch_comes_back_in_the_same_shared_memory(tiny_shards):
    # Every field, not only the video: a refilled batch creates no shared memory segment.
    config = small_config(tiny_shards["howto100m"], num_workers=1)
    stream = TrainingStream(config, TOKENIZER)
    names = {}
    for batch in itertools.islice(iter(worker_loader(stream, workers=1)), 10):
        slot = tuple(batch[RECYCLE_KEY][:2])
        if slot in names:
            assert shared_names(batch) == names[slot]
            return
        names[slot] = shared_names(batch)
        stream.release(batch)
    raise AssertionError(f"no slot was refilled: {list(names)}")
