"""From samples to batches: ``default_collate`` (what the loader stacks samples with), ``default_convert``
(arrays to tensors, for ``batch_size=None``) and the two ways a loader fetches a batch from a dataset.
"""

from __future__ import annotations

import collections.abc
from typing import Any, Sequence

import numpy as np

from chainrule.creation import as_tensor, tensor
from chainrule.dtype import float64
from chainrule.errors import ChainruleError
from chainrule.ops.shape import stack
from chainrule.tensor import Tensor

__all__ = ["default_collate", "default_convert", "fetch_items", "fetch_batch"]

_COLLATABLE = "default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; found "


def _numeric_array(array: np.ndarray | np.generic) -> bool:
    """Whether NumPy data can become a tensor (not strings, bytes or Python objects)."""
    return array.dtype.kind not in "OSUV"


def default_collate(batch: Sequence[Any]) -> Any:
    """Stack a list of samples into a batch, as ``torch.utils.data.default_collate`` does.

    Tensors and numeric NumPy arrays are stacked along a new first dimension; Python ints (and
    bools) become an int64 (bool) tensor, floats a float64 tensor, NumPy scalars a tensor of their
    dtype; strings stay a list. Dicts, named tuples and lists are collated field by field; a tuple of
    fields gives a list, as in PyTorch (so a ``TensorDataset`` batch is ``[x, y]``).
    """
    elem = batch[0]
    if isinstance(elem, Tensor):
        return stack(batch)
    if isinstance(elem, (np.ndarray, np.generic)) and not isinstance(elem, (np.str_, np.bytes_)):
        if not _numeric_array(elem):
            raise ChainruleError(_COLLATABLE + f"a NumPy array of dtype {elem.dtype}")
        if isinstance(elem, np.generic):
            return as_tensor(np.array(batch))
        return stack([as_tensor(b) for b in batch])
    if isinstance(elem, float):
        return tensor(batch, dtype=float64)
    if isinstance(elem, int):
        return tensor(batch)
    if isinstance(elem, (str, bytes)):
        return batch
    if isinstance(elem, collections.abc.Mapping):
        fields = {key: default_collate([sample[key] for sample in batch]) for key in elem}
        return _same_type(elem, fields)
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # a named tuple
        return type(elem)(*(default_collate(samples) for samples in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        if any(len(sample) != len(elem) for sample in batch):
            raise ChainruleError("each element in list of batch should be of equal size "
                                 f"(default_collate: sample lengths {sorted({len(s) for s in batch})})")
        fields = [default_collate(samples) for samples in zip(*batch)]
        return fields if isinstance(elem, tuple) else _same_type(elem, fields)
    raise ChainruleError(_COLLATABLE + str(type(elem)))


def default_convert(data: Any) -> Any:
    """Turn NumPy arrays (also inside dicts and sequences) into tensors without batching them, as
    ``torch.utils.data.default_convert``; what the loader applies when ``batch_size=None``."""
    if isinstance(data, (np.ndarray, np.generic)) and _numeric_array(data):
        return as_tensor(data)
    if isinstance(data, collections.abc.Mapping):
        return _same_type(data, {key: default_convert(value) for key, value in data.items()})
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, collections.abc.Sequence) and not isinstance(data, (str, bytes)):
        return _same_type(data, [default_convert(d) for d in data])
    return data


def _same_type(like: Any, content: dict[Any, Any] | list[Any]) -> Any:
    """``content`` as the container type of ``like`` when that type can be built from it."""
    try:
        return type(like)(content)
    except TypeError:
        return content


def fetch_items(dataset: Any, indices: Sequence[int]) -> list[Any]:
    """The samples ``dataset[i]`` for ``i`` in ``indices``, through PyTorch's ``__getitems__`` hook when
    the dataset has one."""
    getitems = getattr(dataset, "__getitems__", None)
    if getitems:
        return getitems(indices)
    return [dataset[i] for i in indices]


def fetch_batch(dataset: Any, indices: Sequence[int]) -> Any:
    """``default_collate(fetch_items(dataset, indices))``, computed by the dataset's ``__getbatch__``
    in one go (one fancy index per tensor) when it has one."""
    getbatch = getattr(dataset, "__getbatch__", None)
    if getbatch is not None:
        return getbatch(indices)
    return default_collate(fetch_items(dataset, indices))
