"""Map-style datasets: ``Dataset``, ``TensorDataset``, ``Subset`` and ``random_split``."""

from __future__ import annotations

import itertools
import math
import warnings
from typing import Any, Sequence

import numpy as np

from chainrule.creation import as_tensor
from chainrule.errors import ChainruleError
from chainrule.random import Generator, numpy_generator
from chainrule.tensor import Tensor
from chainrule.utils.data.collate import fetch_batch, fetch_items

__all__ = ["Dataset", "TensorDataset", "Subset", "random_split", "DataArgumentError", "check_generator"]


class DataArgumentError(ChainruleError, ValueError):
    """A bad argument to a dataset, sampler or loader; also a ``ValueError``, which PyTorch raises."""


def check_generator(owner: str, generator: Any) -> None:
    """Accept ``None`` or a ``chainrule.Generator``; anything else (a ``torch.Generator``) is an error."""
    if generator is not None and not isinstance(generator, Generator):
        raise DataArgumentError(f"{owner}: generator must be a chainrule.Generator or None, "
                                f"got {type(generator).__module__}.{type(generator).__name__}")


class Dataset:
    """A map-style dataset: ``dataset[i]`` is the ``i``-th sample and ``len(dataset)`` their number.

    Subclasses implement ``__getitem__`` and ``__len__``. They may also implement
    ``__getitems__(indices)`` (PyTorch's hook: the list of samples) or ``__getbatch__(indices)``
    (chainrule's: the already collated batch, equal to ``default_collate`` of those samples), which
    the ``DataLoader`` uses to fetch a whole batch at once.
    """

    def __getitem__(self, index: int) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__")


class TensorDataset(Dataset):
    """Samples are the rows of several tensors of equal length: ``dataset[i] == (t[i] for t in tensors)``.

    A batch is fetched with one NumPy fancy index per tensor (``__getbatch__``), not row by row.
    """

    def __init__(self, *tensors: Tensor) -> None:
        self.tensors = tuple(as_tensor(t) for t in tensors)
        lengths = [t.shape[0] if t.ndim else None for t in self.tensors]
        if not self.tensors or None in lengths or len(set(lengths)) != 1:
            raise DataArgumentError(f"TensorDataset: expects one or more tensors of equal length (size of "
                                    f"the first dimension); got shapes {[tuple(t.shape) for t in self.tensors]}")

    def __getitem__(self, index: Any) -> tuple[Tensor, ...]:
        return tuple(t[index] for t in self.tensors)

    def __getbatch__(self, indices: Sequence[int]) -> list[Tensor]:
        """The batch ``[t[indices] for t in tensors]`` (what ``default_collate`` of the rows gives)."""
        index = np.asarray(indices, dtype=np.intp)
        return [t[index] for t in self.tensors]

    def __len__(self) -> int:
        return self.tensors[0].shape[0]


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``, in that order."""

    def __init__(self, dataset: Any, indices: Sequence[int]) -> None:
        self.dataset = dataset
        self.indices = indices

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, list):
            return self.dataset[[self.indices[i] for i in index]]
        return self.dataset[self.indices[index]]

    def __getitems__(self, indices: Sequence[int]) -> list[Any]:
        return fetch_items(self.dataset, [self.indices[i] for i in indices])

    def __getbatch__(self, indices: Sequence[int]) -> Any:
        """The collated batch, in one fancy index when the underlying dataset can do that."""
        return fetch_batch(self.dataset, [self.indices[i] for i in indices])

    def __len__(self) -> int:
        return len(self.indices)


def random_split(dataset: Any, lengths: Sequence[int | float], generator: Generator | None = None) -> list[Subset]:
    """Split ``dataset`` at random into non-overlapping ``Subset``\\ s of the given lengths.

    ``lengths`` are counts summing to ``len(dataset)``, or fractions summing to 1: each split then gets
    ``floor(len * fraction)`` items and the remainder is handed out one by one from the first split, as
    in PyTorch. The permutation comes from ``generator`` (default: chainrule's seeded one).
    """
    check_generator("random_split", generator)
    n = len(dataset)
    lengths = list(lengths)
    if math.isclose(sum(lengths), 1) and sum(lengths) <= 1:
        for i, fraction in enumerate(lengths):
            if not 0 <= fraction <= 1:
                raise DataArgumentError(f"random_split: fraction at index {i} is not between 0 and 1: {fraction}")
        counts = [math.floor(n * fraction) for fraction in lengths]
        for i in range(n - sum(counts)):
            counts[i % len(counts)] += 1
        for i, count in enumerate(counts):
            if count == 0:
                warnings.warn(f"random_split: length of split at index {i} is 0; that subset is empty",
                              stacklevel=2)
        lengths = counts
    if any(not isinstance(length, (int, np.integer)) or length < 0 for length in lengths) or sum(lengths) != n:
        raise DataArgumentError(f"random_split: lengths {lengths} must be non-negative counts summing to the "
                                f"dataset's length {n}, or fractions summing to 1")
    order = numpy_generator(generator).permutation(n).tolist()
    ends = itertools.accumulate(lengths)
    return [Subset(dataset, order[end - length:end]) for end, length in zip(ends, lengths)]
