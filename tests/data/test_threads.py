"""Thread and worker counts the product picks when the config leaves them at 0."""

import os

from mmssl.data import threads


def test_auto_threads_are_the_cores_the_loader_workers_leave(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(16)))
    monkeypatch.delenv("LOCAL_WORLD_SIZE", raising=False)
    assert threads.core_share() == 16
    assert threads.torch_threads(0, loader_workers=6) == 10
    assert threads.torch_threads(3, loader_workers=6) == 3  # asked for: honoured
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "8")  # 8 processes launched on the machine
    assert threads.core_share() == 2
    assert threads.torch_threads(0, loader_workers=4) == 1  # never below one
    assert threads.decode_workers() == 1 and threads.decode_workers(0) == 0


def test_two_cores_and_one_worker_give_one_thread(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1})
    monkeypatch.delenv("LOCAL_WORLD_SIZE", raising=False)
    assert threads.torch_threads(0, loader_workers=1) == 1
    assert threads.torch_threads(0, loader_workers=0) == 2
