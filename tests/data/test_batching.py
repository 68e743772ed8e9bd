"""Batch buffers: fresh memory advised as huge pages, so that filling a batch does not
fault in (and zero) every 4 KiB page of it one by one."""

import re
from pathlib import Path

import pytest
import torch

from mmssl.data.batching import BatchBuffers, advise_huge_pages

THP = Path("/sys/kernel/mm/transparent_hugepage/enabled")


def anon_huge_kib(address: int) -> int:
    """``AnonHugePages`` of the mapping of this process that holds ``address``."""
    text = Path("/proc/self/smaps").read_text()
    for block in re.split(r"\n(?=[0-9a-f]+-[0-9a-f]+ )", text):
        low, high = (int(bound, 16) for bound in block.split(" ", 1)[0].split("-"))
        if low <= address < high:
            return int(re.search(r"AnonHugePages:\s+(\d+) kB", block).group(1))
    raise AssertionError("no mapping holds the tensor")


@pytest.mark.skipif(not THP.is_file() or "[never]" in THP.read_text(),
                    reason="transparent huge pages are off (or this is not Linux)")
def test_a_batch_filled_in_place_sits_on_huge_pages():
    # 38.5 MB: above glibc's largest mmap threshold (32 MiB), so fresh pages from the
    # kernel whatever this process freed before (smaller blocks may be reused heap).
    buffers = BatchBuffers(8, {"video": ((3, 32, 224, 224), torch.uint8)})
    video = buffers.tensors["video"]
    video.fill_(1)
    assert anon_huge_kib(video.data_ptr() + video.numel() // 2) >= 2048
    plain = torch.empty(video.shape, dtype=torch.uint8)  # as before: not advised
    plain.fill_(1)
    if "[madvise]" in THP.read_text():
        assert anon_huge_kib(plain.data_ptr() + plain.numel() // 2) == 0


def test_small_tensors_are_left_alone():
    assert not advise_huge_pages(torch.empty(1000))
