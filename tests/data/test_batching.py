"""Batch buffers: fresh memory advised as huge pages, so that filling a batch does not
fault in (and zero) every 4 KiB page of it one by one. Whether the kernel then finds free
2 MiB pages depends on its memory at the time; the advice is what mmssl controls, and the
kernel shows it as the ``hg`` flag of the mapping (``/proc/self/smaps``)."""

import re
from pathlib import Path

import pytest
import torch

from mmssl.data.batching import BatchBuffers, advise_huge_pages

THP = Path("/sys/kernel/mm/transparent_hugepage/enabled")


def mapping_flags(address: int) -> set[str]:
    """``VmFlags`` of the mapping of this process that holds ``address``."""
    text = Path("/proc/self/smaps").read_text()
    for block in re.split(r"\n(?=[0-9a-f]+-[0-9a-f]+ )", text):
        low, high = (int(bound, 16) for bound in block.split(" ", 1)[0].split("-"))
        if low <= address < high:
            return set(re.search(r"VmFlags:([^\n]*)", block).group(1).split())
    raise AssertionError("no mapping holds the tensor")


@pytest.mark.skipif(not THP.is_file() or "[never]" in THP.read_text(),
                    reason="transparent huge pages are off (or this is not Linux)")
def test_a_batch_is_advised_as_huge_pages():
    # 38.5 MB: above glibc's largest mmap threshold (32 MiB), so a mapping of its own
    # whatever this process freed before (smaller blocks may come from the heap).
    buffers = BatchBuffers(8, {"video": ((3, 32, 224, 224), torch.uint8)})
    video = buffers.tensors["video"]
    assert "hg" in mapping_flags(video.data_ptr() + video.numel() // 2)
    plain = torch.empty(video.shape, dtype=torch.uint8)  # as before: not advised
    assert "hg" not in mapping_flags(plain.data_ptr() + plain.numel() // 2)


def test_small_tensors_are_left_alone():
    assert not advise_huge_pages(torch.empty(1000))


def test_stacked_fields_are_written_into_the_tensors_the_buffers_keep():
    buffers = BatchBuffers(2, {})
    audio = [torch.arange(5.0), torch.arange(5.0) + 10]
    first = buffers.stack("audio", audio)
    assert torch.equal(first, torch.stack(audio))
    again = buffers.stack("audio", [torch.ones(5), torch.zeros(5)])
    assert again.data_ptr() == first.data_ptr()  # the same memory, filled again
    assert torch.equal(again, torch.stack([torch.ones(5), torch.zeros(5)]))
    longer = buffers.stack("audio", [torch.ones(7), torch.ones(7)])  # another frame rate
    assert longer.shape == (2, 7) and longer.data_ptr() != first.data_ptr()
    flags = buffers.stack("audio", [torch.tensor(True), torch.tensor(False)])
    assert flags.dtype == torch.bool and flags.tolist() == [True, False]
