"""Factories: tensors from data (``tensor``, ``from_numpy``) and from shapes (``zeros``, ``randn`` …).

Dtypes are inferred as PyTorch does: Python floats give the default float dtype (float32), Python
ints int64, bools bool; NumPy arrays keep their dtype. Every random factory draws from the seeded
generator of :mod:`chainrule.random`.
"""

from __future__ import annotations

import builtins
import operator
from typing import Any, Sequence

import numpy as np

from chainrule import dtype as dtypes
from chainrule.errors import ChainruleError
from chainrule.random import Generator, numpy_generator
from chainrule.tensor import Tensor, check_device, wrap

__all__ = ["tensor", "as_tensor", "from_numpy", "zeros", "ones", "full", "empty", "zeros_like",
           "ones_like", "full_like", "empty_like", "rand_like", "randn_like", "randint_like",
           "arange", "linspace", "eye", "rand", "randn", "randint", "randperm", "normal"]


def _finish(array: np.ndarray, requires_grad: bool, device: Any) -> Tensor:
    check_device(device)
    t = wrap(array)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _unwrap(data: Any, leaf_types: set[Any]) -> Any:
    """``data`` with tensors replaced by their arrays; the type of every leaf (the dtype of arrays and
    tensors) is added to ``leaf_types``."""
    if isinstance(data, Tensor):
        leaf_types.add(data._data.dtype)
        return data._data
    if isinstance(data, np.ndarray):
        leaf_types.add(data.dtype)
        return data
    if not isinstance(data, (list, tuple)):
        leaf_types.add(type(data))
        return data
    types = set(map(type, data))  # a flat list of numbers (the common case) is typed in one C loop
    if any(issubclass(t, (list, tuple, Tensor, np.ndarray)) for t in types):
        return [_unwrap(d, leaf_types) for d in data]
    leaf_types.update(types)
    return data


def _leaf_dtype(leaf: Any) -> dtypes.dtype:
    """The dtype a single value contributes: NumPy values keep theirs, Python floats get the default."""
    if isinstance(leaf, np.dtype) or issubclass(leaf, np.generic):
        return dtypes.from_numpy_dtype(np.dtype(leaf))
    if issubclass(leaf, builtins.bool):
        return dtypes.bool
    if issubclass(leaf, builtins.int):
        return dtypes.int64
    if issubclass(leaf, builtins.float):
        return dtypes.get_default_dtype()
    if issubclass(leaf, complex):
        raise ChainruleError("tensor: complex numbers are not supported")
    raise ChainruleError(f"tensor: cannot make a tensor from values of type {leaf.__name__}; "
                         "pass numbers, nested lists of numbers, NumPy arrays or tensors")


def _infer_dtype(leaf_types: set[Any]) -> np.dtype:
    """PyTorch's inference: the promotion of every value's dtype (float32 for an empty list)."""
    result = None
    for leaf in leaf_types:
        d = _leaf_dtype(leaf)
        result = d if result is None else dtypes.promote_types(result, d)
    return (result or dtypes.get_default_dtype()).numpy


def tensor(data: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False,
           pin_memory: bool = False) -> Tensor:
    """A new tensor holding a copy of ``data`` (a number, nested lists, a NumPy array or a tensor).

    Without ``dtype`` the type is inferred as PyTorch does: Python floats give the default float dtype
    (float32), ints int64, bools bool; NumPy arrays, NumPy scalars and tensors keep their dtype, and a
    mixture gets the promotion of its parts (``[np.float64(1), 2.0]`` is float64).
    """
    leaf_types: set[Any] = set()
    try:
        array = np.array(_unwrap(data, leaf_types))
    except ValueError as error:
        raise ChainruleError(f"tensor: the data is not rectangular (nested lists of unequal lengths): {error}") from None
    target = dtypes.to_numpy_dtype(dtype) if dtype is not None else _infer_dtype(leaf_types)
    if array.dtype != target:
        array = array.astype(target)
    return _finish(array, requires_grad, device)


def as_tensor(data: Any, dtype: Any = None, device: Any = None) -> Tensor:
    """A tensor sharing memory with ``data`` when it is already a tensor or array of that dtype."""
    check_device(device)
    if isinstance(data, Tensor):
        return data if dtype is None or data.dtype == dtype else data.to(dtype)
    if isinstance(data, np.ndarray) and (dtype is None or data.dtype == dtypes.to_numpy_dtype(dtype)):
        return from_numpy(data)
    return tensor(data, dtype=dtype, device=device)


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor that shares memory with a NumPy array (changes to one show in the other)."""
    if not isinstance(array, np.ndarray):
        raise ChainruleError(f"from_numpy: expected a numpy.ndarray, got {type(array).__name__}")
    dtypes.from_numpy_dtype(array.dtype)
    return wrap(array)


def _size(size: Sequence[Any]) -> tuple[int, ...]:
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = size[0]
    try:
        shape = tuple(operator.index(s) for s in size)
    except TypeError:
        raise ChainruleError(f"size: expected integers, got {tuple(size)!r}") from None
    if any(s < 0 for s in shape):
        raise ChainruleError(f"size: negative dimension in {shape}")
    return shape


def _float_dtype(dtype: Any) -> np.dtype:
    return dtypes.get_default_dtype().numpy if dtype is None else dtypes.to_numpy_dtype(dtype)


def _random_float_dtype(op: str, dtype: Any) -> np.dtype:
    np_dtype = _float_dtype(dtype)
    if np_dtype.kind != "f":
        raise ChainruleError(f"{op}: draws floating point numbers, got dtype={np_dtype}; use a float dtype "
                             "(or randint for integers)")
    return np_dtype


def zeros(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of zeros of the given shape."""
    return _finish(np.zeros(_size(size), _float_dtype(dtype)), requires_grad, device)


def ones(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of ones of the given shape."""
    return _finish(np.ones(_size(size), _float_dtype(dtype)), requires_grad, device)


def empty(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """An uninitialised tensor of the given shape."""
    return _finish(np.empty(_size(size), _float_dtype(dtype)), requires_grad, device)


def full(size: Sequence[int], fill_value: Any, *, dtype: Any = None, device: Any = None,
         requires_grad: bool = False) -> Tensor:
    """A tensor filled with ``fill_value``; its dtype follows the value (bool, int64 or float)."""
    if dtype is None:
        dtype = dtypes.result_type(fill_value.item() if isinstance(fill_value, Tensor) else fill_value)
    return _finish(np.full(_size((size,)), fill_value, dtypes.to_numpy_dtype(dtype)), requires_grad, device)


def _like(input: Tensor, dtype: Any) -> tuple[tuple[int, ...], np.dtype]:
    return input._data.shape, input._data.dtype if dtype is None else dtypes.to_numpy_dtype(dtype)


def zeros_like(input: Tensor, *, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """Zeros with ``input``'s shape and dtype."""
    return _finish(np.zeros(*_like(input, dtype)), requires_grad, device)


def ones_like(input: Tensor, *, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """Ones with ``input``'s shape and dtype."""
    return _finish(np.ones(*_like(input, dtype)), requires_grad, device)


def empty_like(input: Tensor, *, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """An uninitialised tensor with ``input``'s shape and dtype."""
    return _finish(np.empty(*_like(input, dtype)), requires_grad, device)


def full_like(input: Tensor, fill_value: Any, *, dtype: Any = None, device: Any = None,
              requires_grad: bool = False) -> Tensor:
    """``fill_value`` everywhere, with ``input``'s shape and dtype."""
    shape, np_dtype = _like(input, dtype)
    return _finish(np.full(shape, fill_value, np_dtype), requires_grad, device)


def rand(*size: Any, generator: Generator | None = None, dtype: Any = None, device: Any = None,
         requires_grad: bool = False) -> Tensor:
    """Uniform random numbers in [0, 1)."""
    np_dtype = _random_float_dtype("rand", dtype)
    array = numpy_generator(generator).random(_size(size), dtype=np.float64 if np_dtype == np.float16 else np_dtype)
    return _finish(array.astype(np_dtype, copy=False), requires_grad, device)


def randn(*size: Any, generator: Generator | None = None, dtype: Any = None, device: Any = None,
          requires_grad: bool = False) -> Tensor:
    """Standard normal random numbers."""
    np_dtype = _random_float_dtype("randn", dtype)
    array = numpy_generator(generator).standard_normal(
        _size(size), dtype=np.float64 if np_dtype == np.float16 else np_dtype)
    return _finish(array.astype(np_dtype, copy=False), requires_grad, device)


def rand_like(input: Tensor, *, dtype: Any = None, generator: Generator | None = None, device: Any = None,
              requires_grad: bool = False) -> Tensor:
    """Uniform random numbers in [0, 1) with ``input``'s shape and dtype."""
    return rand(input._data.shape, dtype=input.dtype if dtype is None else dtype, generator=generator,
                device=device, requires_grad=requires_grad)


def randn_like(input: Tensor, *, dtype: Any = None, generator: Generator | None = None, device: Any = None,
               requires_grad: bool = False) -> Tensor:
    """Standard normal random numbers with ``input``'s shape and dtype."""
    return randn(input._data.shape, dtype=input.dtype if dtype is None else dtype, generator=generator,
                 device=device, requires_grad=requires_grad)


def randint(low: int = 0, high: int | None = None, size: Sequence[int] | None = None, *,
            generator: Generator | None = None, dtype: Any = None, device: Any = None,
            requires_grad: bool = False) -> Tensor:
    """Random integers in [low, high) (``randint(high, size)`` starts at 0), int64 by default."""
    if size is None:
        if not isinstance(high, (tuple, list)):
            raise ChainruleError("randint: pass a size, e.g. randint(0, 10, (3,))")
        low, high, size = 0, low, high
    elif high is None:
        low, high = 0, low
    if high <= low:
        raise ChainruleError(f"randint: high ({high}) must be greater than low ({low})")
    np_dtype = np.dtype(np.int64) if dtype is None else dtypes.to_numpy_dtype(dtype)
    array = numpy_generator(generator).integers(low, high, _size((size,)), dtype=np.int64)
    return _finish(array.astype(np_dtype, copy=False), requires_grad, device)


def randint_like(input: Tensor, low: int = 0, high: int | None = None, *, generator: Generator | None = None,
                 dtype: Any = None, device: Any = None) -> Tensor:
    """Random integers in [low, high) (``randint_like(x, high)`` starts at 0) with ``input``'s shape and dtype."""
    return randint(low, high, input._data.shape, generator=generator,
                   dtype=input.dtype if dtype is None else dtype, device=device)


def randperm(n: int, *, generator: Generator | None = None, dtype: Any = None, device: Any = None,
             requires_grad: bool = False) -> Tensor:
    """A random permutation of 0 … n-1 (int64 by default)."""
    if n < 0:
        raise ChainruleError(f"randperm: n must be non-negative, got {n}")
    np_dtype = np.dtype(np.int64) if dtype is None else dtypes.to_numpy_dtype(dtype)
    return _finish(numpy_generator(generator).permutation(int(n)).astype(np_dtype), requires_grad, device)


def normal(mean: float = 0.0, std: float = 1.0, size: Sequence[int] = (), *,
           generator: Generator | None = None, dtype: Any = None) -> Tensor:
    """Normal random numbers with the given mean and standard deviation."""
    return randn(size, generator=generator, dtype=dtype) * std + mean


def _python_number(value: Any) -> Any:
    """A Python int or float from a number, a NumPy scalar or a one-element tensor."""
    if isinstance(value, (Tensor, np.ndarray, np.generic)):
        return value.item()
    return value


def arange(start: Any, end: Any = None, step: Any = 1, *, dtype: Any = None, device: Any = None,
           requires_grad: bool = False) -> Tensor:
    """Values from ``start`` to ``end`` (excluded) by ``step``: int64 for integer arguments, else the
    default float dtype. The length is ``ceil((end - start) / step)``, as in PyTorch."""
    if end is None:
        start, end = 0, start
    start, end, step = _python_number(start), _python_number(end), _python_number(step)
    if not all(np.isfinite(v) for v in (start, end, step)):
        raise ChainruleError(f"arange: unsupported range {start} -> {end} by {step}; use finite numbers")
    if dtype is None:
        all_int = all(isinstance(v, builtins.int) for v in (start, end, step))
        np_dtype = np.dtype(np.int64) if all_int else dtypes.get_default_dtype().numpy
    else:
        np_dtype = dtypes.to_numpy_dtype(dtype)
    if np_dtype.kind != "f":  # as PyTorch: integer ranges truncate their bounds and step first
        start, end, step = builtins.int(start), builtins.int(end), builtins.int(step)
    if step == 0:
        raise ChainruleError("arange: step must be nonzero")
    if (end - start) * step < 0:
        raise ChainruleError(
            f"arange: the range {start} -> {end} goes against the sign of step={step}, so it would be "
            "empty; swap start and end or change the sign of step")
    count = int(np.ceil((end - start) / step))
    array = (start + step * np.arange(count, dtype=np.float64 if np_dtype.kind == "f" else np.int64)).astype(np_dtype)
    return _finish(array, requires_grad, device)


def linspace(start: float, end: float, steps: int, *, dtype: Any = None, device: Any = None,
             requires_grad: bool = False) -> Tensor:
    """``steps`` evenly spaced values from ``start`` to ``end`` inclusive."""
    if steps < 0:
        raise ChainruleError(f"linspace: the number of steps must be non-negative, got {steps}")
    return _finish(np.linspace(start, end, int(steps)).astype(_float_dtype(dtype)), requires_grad, device)


def eye(n: int, m: int | None = None, *, dtype: Any = None, device: Any = None,
        requires_grad: bool = False) -> Tensor:
    """The identity matrix (n × m)."""
    return _finish(np.eye(n, m, dtype=_float_dtype(dtype)), requires_grad, device)
