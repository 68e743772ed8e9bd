"""Workers hand their tensors over by name, not as file descriptors fetched one connection
at a time, and the reading process's own sharing strategy is left as it was."""

import torch

from mmssl.data.worker_loader import worker_loader


class Tensors(torch.utils.data.IterableDataset):
    """Six items per reader, each saying how its process shares tensors."""

    def __iter__(self):
        for index in range(6):
            yield {"video": torch.full((2, 3, 4), index, dtype=torch.uint8),
                   "audio": torch.full((5,), float(index)),
                   "strategy": torch.multiprocessing.get_sharing_strategy()}


def test_workers_share_by_name_and_items_arrive_whole():
    before = torch.multiprocessing.get_sharing_strategy()
    items = list(worker_loader(Tensors(), workers=2, ahead=5))
    assert sorted(int(item["video"][0, 0, 0]) for item in items) == sorted(list(range(6)) * 2)
    assert all(torch.equal(item["audio"], torch.full((5,), float(item["video"][0, 0, 0])))
               for item in items)
    assert {item["strategy"] for item in items} == {"file_system"}
    assert torch.multiprocessing.get_sharing_strategy() == before


def test_no_workers_reads_in_this_process():
    items = list(worker_loader(Tensors(), workers=0))
    assert [int(item["video"][0, 0, 0]) for item in items] == list(range(6))
    assert items[0]["strategy"] == torch.multiprocessing.get_sharing_strategy()
