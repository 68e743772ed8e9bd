"""One torch thread for the encoder tests: on this shared 2-core machine two threads spin
against each other and run small convolutions 10-50× slower (benchmarks/README.md)."""

import pytest
import torch


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
