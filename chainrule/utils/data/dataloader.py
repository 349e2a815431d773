"""``DataLoader``: iterate over a dataset in (shuffled) batches, as ``torch.utils.data.DataLoader``."""

from __future__ import annotations

import functools
from typing import Any, Callable, Iterable, Iterator

from chainrule.random import Generator
from chainrule.tensor import check_device
from chainrule.utils.data.collate import default_collate, default_convert, fetch_batch, fetch_items
from chainrule.utils.data.dataset import DataArgumentError, check_generator
from chainrule.utils.data.sampler import BatchSampler, RandomSampler, SequentialSampler

__all__ = ["DataLoader"]


class DataLoader:
    """Batches of ``dataset``: ``for xb, yb in DataLoader(TensorDataset(x, y), batch_size=128, shuffle=True)``.

    ``shuffle=True`` draws a new order at each epoch from ``generator`` (a ``chainrule.Generator``) or
    else from chainrule's default generator, so ``chainrule.manual_seed(s)`` makes it reproducible.
    ``sampler`` (an iterable of indices) or ``batch_sampler`` (an iterable of index lists) replace the
    built-in order, with PyTorch's rules on which arguments exclude which. ``batch_size=None`` yields
    single samples (arrays converted to tensors). With the default ``collate_fn``, a dataset that has
    ``__getbatch__`` (``TensorDataset``, ``Subset`` of one, the MNIST data sets) hands over each batch
    in one fancy index instead of item by item.

    Loading happens in the calling process: ``num_workers`` must be 0 (worker processes are not
    implemented), and ``pin_memory``, ``timeout`` and ``worker_init_fn``, which only matter for
    workers or GPUs, are accepted and have no effect.
    """

    def __init__(self, dataset: Any, batch_size: int | None = 1, shuffle: bool | None = None,
                 sampler: Iterable[Any] | None = None, batch_sampler: Iterable[list[Any]] | None = None,
                 num_workers: int = 0, collate_fn: Callable[[list[Any]], Any] | None = None,
                 pin_memory: bool = False, drop_last: bool = False, timeout: float = 0,
                 worker_init_fn: Callable[[int], None] | None = None, multiprocessing_context: Any = None,
                 generator: Generator | None = None, *, prefetch_factor: int | None = None,
                 persistent_workers: bool = False, pin_memory_device: str = "", in_order: bool = True) -> None:
        _check_single_process(num_workers, timeout, multiprocessing_context, prefetch_factor, persistent_workers)
        check_device(pin_memory_device or None)
        check_generator("DataLoader", generator)
        if not hasattr(dataset, "__getitem__"):
            raise DataArgumentError(f"DataLoader: the dataset must be map-style (indexable, with __getitem__ and "
                                    f"__len__); got {type(dataset).__name__}, and iterable-style datasets are not "
                                    f"supported yet: wrap the samples in a list or a Dataset")
        if sampler is not None and shuffle:
            raise DataArgumentError("DataLoader: sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise DataArgumentError("DataLoader: batch_sampler option is mutually exclusive with "
                                        "batch_size, shuffle, sampler, and drop_last")
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise DataArgumentError("DataLoader: batch_size=None option disables auto-batching and is "
                                    "mutually exclusive with drop_last")
        if sampler is None:
            sampler = RandomSampler(dataset, generator=generator) if shuffle else SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        self.dataset, self.batch_size, self.drop_last = dataset, batch_size, drop_last
        self.sampler, self.batch_sampler, self.generator = sampler, batch_sampler, generator
        self.num_workers, self.pin_memory, self.timeout = num_workers, pin_memory, timeout
        self.worker_init_fn, self.pin_memory_device, self.in_order = worker_init_fn, pin_memory_device, in_order
        self.collate_fn = collate_fn or (default_collate if batch_sampler is not None else default_convert)

    def __iter__(self) -> Iterator[Any]:
        if self.batch_sampler is None:  # batch_size=None: one sample at a time
            return (self.collate_fn(self.dataset[index]) for index in self.sampler)
        if self.collate_fn is default_collate:
            fetch = functools.partial(fetch_batch, self.dataset)
        else:
            fetch = functools.partial(_collate_items, self.collate_fn, self.dataset)
        return map(fetch, self.batch_sampler)

    def __len__(self) -> int:
        return len(self.sampler if self.batch_sampler is None else self.batch_sampler)


def _collate_items(collate_fn: Callable[[list[Any]], Any], dataset: Any, indices: list[Any]) -> Any:
    return collate_fn(fetch_items(dataset, indices))


def _check_single_process(num_workers: int, timeout: float, multiprocessing_context: Any,
                          prefetch_factor: int | None, persistent_workers: bool) -> None:
    """Reject the arguments that ask for worker processes, which chainrule's loader does not have."""
    if num_workers != 0:
        raise DataArgumentError(
            f"DataLoader: num_workers={num_workers} is not supported: chainrule loads batches in the calling "
            f"process (worker processes are not implemented); pass num_workers=0")
    if timeout < 0:
        raise DataArgumentError(f"DataLoader: timeout option should be non-negative, got {timeout}")
    for name, value, default in (("multiprocessing_context", multiprocessing_context, None),
                                 ("prefetch_factor", prefetch_factor, None),
                                 ("persistent_workers", persistent_workers, False)):
        if value != default:
            raise DataArgumentError(f"DataLoader: {name}={value!r} needs worker processes (num_workers > 0), "
                                    f"which chainrule's loader does not have; leave it at {default!r}")
