"""Samplers: the order in which a loader visits a dataset's indices, and how it groups them in batches."""

from __future__ import annotations

import itertools
from typing import Any, Iterable, Iterator, Sequence, Sized

import numpy as np

from chainrule.random import Generator, numpy_generator
from chainrule.utils.data.dataset import DataArgumentError, check_generator

__all__ = ["Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler", "BatchSampler"]


class Sampler:
    """Base class: an iterable of dataset indices (subclasses implement ``__iter__``, usually ``__len__``)."""

    def __init__(self, data_source: Sized | None = None) -> None:
        """``data_source`` is accepted (and unused) for subclasses that pass it on, as in PyTorch."""

    def __iter__(self) -> Iterator[Any]:
        raise NotImplementedError(f"{type(self).__name__} must implement __iter__")


class SequentialSampler(Sampler):
    """The indices ``0, 1, …, len(data_source) - 1`` in order."""

    def __init__(self, data_source: Sized) -> None:
        self.data_source = data_source

    def __iter__(self) -> Iterator[int]:
        return iter(range(len(self.data_source)))

    def __len__(self) -> int:
        return len(self.data_source)


class RandomSampler(Sampler):
    """The indices of ``data_source`` in a random order, drawn afresh at each iteration.

    Without replacement each pass is a permutation (``num_samples`` larger than the dataset chains
    several); with ``replacement=True`` it draws ``num_samples`` indices independently. The draws come
    from ``generator``, or else chainrule's default generator, so ``manual_seed`` fixes the order.
    """

    def __init__(self, data_source: Sized, replacement: bool = False, num_samples: int | None = None,
                 generator: Generator | None = None) -> None:
        if not isinstance(replacement, bool):
            raise DataArgumentError(f"RandomSampler: replacement should be a boolean value, got {replacement!r}")
        if num_samples is not None and (isinstance(num_samples, bool) or not isinstance(num_samples, int)
                                        or num_samples <= 0):
            raise DataArgumentError(f"RandomSampler: num_samples should be a positive integer, got {num_samples!r}")
        check_generator("RandomSampler", generator)
        self.data_source, self.replacement, self.generator = data_source, replacement, generator
        self._num_samples = num_samples
        if len(data_source) == 0:
            raise DataArgumentError("RandomSampler: cannot sample from an empty dataset")

    @property
    def num_samples(self) -> int:
        """How many indices one iteration yields (the dataset's length unless given)."""
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def __iter__(self) -> Iterator[int]:
        n, rng = len(self.data_source), numpy_generator(self.generator)
        if self.replacement:
            return iter(rng.integers(0, n, size=self.num_samples).tolist())
        passes, rest = divmod(self.num_samples, n)
        chunks = [rng.permutation(n) for _ in range(passes)]
        if rest:
            chunks.append(rng.permutation(n)[:rest])
        return iter(np.concatenate(chunks).tolist())

    def __len__(self) -> int:
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """The given ``indices`` in a random order (drawn from ``generator`` or the default one)."""

    def __init__(self, indices: Sequence[int], generator: Generator | None = None) -> None:
        check_generator("SubsetRandomSampler", generator)
        self.indices, self.generator = indices, generator

    def __iter__(self) -> Iterator[int]:
        for i in numpy_generator(self.generator).permutation(len(self.indices)).tolist():
            yield self.indices[i]

    def __len__(self) -> int:
        return len(self.indices)


class BatchSampler(Sampler):
    """Group the indices of ``sampler`` into lists of ``batch_size``; the last, shorter one is dropped
    when ``drop_last``."""

    def __init__(self, sampler: Iterable[int], batch_size: int, drop_last: bool) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0:
            raise DataArgumentError(f"BatchSampler: batch_size should be a positive integer, got {batch_size!r}")
        if not isinstance(drop_last, bool):
            raise DataArgumentError(f"BatchSampler: drop_last should be a boolean value, got {drop_last!r}")
        self.sampler, self.batch_size, self.drop_last = sampler, batch_size, drop_last

    def __iter__(self) -> Iterator[list[int]]:
        indices = iter(self.sampler)
        while batch := list(itertools.islice(indices, self.batch_size)):
            if self.drop_last and len(batch) < self.batch_size:
                return
            yield batch

    def __len__(self) -> int:
        full, rest = divmod(len(self.sampler), self.batch_size)
        return full + (rest > 0 and not self.drop_last)
