"""FeatureQueue against a naive FIFO list, plus checkpointing and a 2-process enqueue."""

import pytest
import torch

from mmssl.methods.queue import FeatureQueue

SIZE, DIM = 5, 3


def rows(n, seed, dim=DIM, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    return torch.nn.functional.normalize(torch.randn(n, dim, generator=g, dtype=dtype), dim=-1)


def oldest_first(queue):
    """The stored rows from the oldest (at ptr) to the newest."""
    return torch.roll(queue.features, shifts=-int(queue.ptr), dims=0)


def test_initialised_with_seeded_random_unit_vectors():
    a = FeatureQueue(SIZE, DIM, generator=torch.Generator().manual_seed(0))
    b = FeatureQueue(SIZE, DIM, generator=torch.Generator().manual_seed(0))
    c = FeatureQueue(SIZE, DIM, generator=torch.Generator().manual_seed(1))
    assert a.features.shape == (SIZE, DIM) and int(a.ptr) == 0
    torch.testing.assert_close(a.features.norm(dim=1), torch.ones(SIZE), rtol=0, atol=1e-6)
    assert torch.equal(a.features, b.features)  # reproducible across processes
    assert not torch.equal(a.features, c.features)


def test_fifo_order_and_wrap_around_known_slots():
    queue = FeatureQueue(4, 2)
    a = torch.arange(6.0).reshape(3, 2)
    b = 10 + torch.arange(6.0).reshape(3, 2)
    queue.enqueue(a)  # slots 0, 1, 2
    assert int(queue.ptr) == 3
    torch.testing.assert_close(queue.features[:3], a)
    queue.enqueue(b)  # slots 3, 0, 1: wraps around and overwrites the two oldest (a0, a1)
    assert int(queue.ptr) == 2
    expected = torch.stack([b[1], b[2], a[2], b[0]])
    torch.testing.assert_close(queue.features, expected, rtol=0, atol=0)
    # The oldest surviving entry (a2) sits at ptr.
    torch.testing.assert_close(oldest_first(queue), torch.stack([a[2], b[0], b[1], b[2]]))


@pytest.mark.parametrize("batches", [[2, 2, 2, 2], [3, 1, 4, 2, 6], [7], [5, 5, 1], [0, 2]])
def test_matches_naive_fifo_list(batches):
    """After any sequence of batch sizes, oldest-first contents = last K of everything seen."""
    queue = FeatureQueue(SIZE, DIM, generator=torch.Generator().manual_seed(3))
    seen = list(queue.features.clone())  # the initial rows count as the oldest entries
    for step, n in enumerate(batches):
        keys = rows(n, seed=10 + step)
        queue.enqueue(keys)
        seen.extend(keys)
        torch.testing.assert_close(oldest_first(queue), torch.stack(seen[-SIZE:]), rtol=0, atol=0)
        assert int(queue.ptr) == (sum(batches[:step + 1])) % SIZE


def test_batch_larger_than_queue_equals_single_key_enqueues():
    big, single = FeatureQueue(SIZE, DIM), FeatureQueue(SIZE, DIM)
    keys = rows(2 * SIZE + 2, seed=4)
    big.enqueue(keys)
    for key in keys:
        single.enqueue(key[None])
    assert torch.equal(big.features, single.features) and int(big.ptr) == int(single.ptr)


def test_state_dict_holds_queue_pointer_and_fill_count():
    queue = FeatureQueue(SIZE, DIM)
    queue.enqueue(rows(3, seed=5))
    state = queue.state_dict()
    assert set(state) == {"queue", "ptr", "filled"}
    restored = FeatureQueue(SIZE, DIM, generator=torch.Generator().manual_seed(99))
    restored.load_state_dict(state)
    assert torch.equal(restored.features, queue.features) and int(restored.ptr) == 3
    assert int(restored.filled) == 3 and not restored.full
    more = rows(4, seed=6)
    queue.enqueue(more)
    restored.enqueue(more)
    assert torch.equal(restored.features, queue.features)


def test_enqueue_takes_no_gradient_and_casts_dtype():
    queue = FeatureQueue(SIZE, DIM)
    keys = rows(2, seed=7, dtype=torch.float64).requires_grad_(True)
    queue.enqueue(keys * 2)
    assert queue.features.dtype == torch.float32
    assert not queue.features.requires_grad and queue.features.grad_fn is None
    torch.testing.assert_close(queue.features[:2], (keys * 2).detach().float())
    assert list(queue.parameters()) == []


def test_empty_queue_and_bad_shapes():
    empty = FeatureQueue(0, DIM)
    empty.enqueue(rows(3, seed=8))
    assert empty.features.shape == (0, DIM) and int(empty.ptr) == 0
    with pytest.raises(ValueError, match="FeatureQueue"):
        FeatureQueue(SIZE, DIM).enqueue(torch.randn(2, DIM + 1))
    with pytest.raises(ValueError, match="FeatureQueue"):
        FeatureQueue(-1, DIM)


WORLD, LOCAL = 2, 2  # each process enqueues LOCAL keys per step
STEPS = 3  # 3 steps · WORLD · LOCAL = 12 keys > SIZE: the queue wraps around


def step_keys(step, rank):
    return rows(LOCAL, seed=100 + 10 * step + rank)


def _body(rank):
    queue = FeatureQueue(SIZE, DIM, generator=torch.Generator().manual_seed(0))
    states = []
    for step in range(STEPS):
        queue.enqueue(step_keys(step, rank))
        states.append({"features": queue.features.clone(), "ptr": queue.ptr.clone()})
    return {"states": states}


def test_two_processes_hold_identical_queues_in_rank_order(run_gloo):
    per_rank = run_gloo(_body, WORLD)
    # Single-process reference: each step enqueues rank 0's keys, then rank 1's.
    reference = FeatureQueue(SIZE, DIM, generator=torch.Generator().manual_seed(0))
    for step in range(STEPS):
        reference.enqueue(torch.cat([step_keys(step, r) for r in range(WORLD)]))
        for results in per_rank:
            state = results["states"][step]
            assert torch.equal(state["features"], reference.features)
            assert int(state["ptr"]) == int(reference.ptr) == (step + 1) * WORLD * LOCAL % SIZE
    # After step 0 both ranks' keys sit in slots 0..3, rank 0's first.
    first = per_rank[1]["states"][0]["features"]
    assert torch.equal(first[:LOCAL], step_keys(0, 0))
    assert torch.equal(first[LOCAL:2 * LOCAL], step_keys(0, 1))


@pytest.mark.parametrize(("batches", "full_after"), [([2, 2, 1], 3), ([7], 1), ([4, 0, 1], 3)])
def test_full_once_every_initial_row_is_replaced(batches, full_after):
    queue = FeatureQueue(SIZE, DIM)
    for index, n in enumerate(batches, start=1):
        queue.enqueue(rows(n, seed=index))
        assert queue.full == (index >= full_after)
        assert int(queue.filled) == min(SIZE, sum(batches[:index]))
