"""Data types in PyTorch's style (``cr.float32`` …) and PyTorch's type-promotion rules.

A :class:`dtype` wraps a NumPy dtype. Promotion follows ``torch.result_type``: operands are ranked
as dimensioned tensors > zero-dimensional tensors > Python scalars, and a lower-ranked operand only
changes the result when it belongs to a higher *category* (bool < integer < floating). So a Python
float never upcasts a float32 tensor, and ``int_tensor * 0.5`` gives the default float dtype.
"""

from __future__ import annotations

import numpy as np

from chainrule.errors import ChainruleError

__all__ = [
    "dtype", "float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "bool",
    "half", "float", "double", "short", "int", "long", "get_default_dtype", "set_default_dtype",
    "result_type", "promote_types", "to_numpy_dtype", "from_numpy_dtype",
]

_BOOL, _INT, _FLOAT = 0, 1, 2


class dtype:  # noqa: N801 - PyTorch's spelling
    """A tensor element type, e.g. ``chainrule.float32``; compares equal to the NumPy dtype."""

    __slots__ = ("name", "numpy", "is_floating_point", "is_signed", "itemsize", "category")

    def __init__(self, name: str, numpy_dtype: np.dtype, category: int) -> None:
        self.name = name
        self.numpy = np.dtype(numpy_dtype)
        self.is_floating_point = category == _FLOAT
        self.is_signed = category != _BOOL and self.numpy.kind != "u"
        self.itemsize = self.numpy.itemsize
        self.category = category

    def __repr__(self) -> str:
        return f"chainrule.{self.name}"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, dtype):
            return self is other
        try:
            return self.numpy == np.dtype(other)  # type: ignore[arg-type]
        except TypeError:
            return False

    def __hash__(self) -> int:
        return hash(self.numpy)


float16 = half = dtype("float16", np.float16, _FLOAT)
float32 = float = dtype("float32", np.float32, _FLOAT)  # noqa: A001 - PyTorch's alias
float64 = double = dtype("float64", np.float64, _FLOAT)
uint8 = dtype("uint8", np.uint8, _INT)
int8 = dtype("int8", np.int8, _INT)
int16 = short = dtype("int16", np.int16, _INT)
int32 = int = dtype("int32", np.int32, _INT)  # noqa: A001
int64 = long = dtype("int64", np.int64, _INT)
bool = dtype("bool", np.bool_, _BOOL)  # noqa: A001

_ALL = (float16, float32, float64, uint8, int8, int16, int32, int64, bool)
_BY_NUMPY: dict[np.dtype, dtype] = {d.numpy: d for d in _ALL}
_default_float = float32


def from_numpy_dtype(np_dtype: np.dtype) -> dtype:
    """The chainrule dtype of a NumPy dtype; a clear error for unsupported ones."""
    try:
        return _BY_NUMPY[np_dtype]
    except KeyError:
        raise ChainruleError(
            f"dtype: NumPy dtype {np_dtype} is not supported; use one of "
            f"{', '.join(d.name for d in _ALL)}") from None


def to_numpy_dtype(d: object) -> np.dtype:
    """Accept a chainrule dtype, a NumPy dtype or a type name and return the NumPy dtype.

    As in PyTorch, the Python types mean ``float`` → float64, ``int`` → int64, ``bool`` → bool.
    """
    if isinstance(d, dtype):
        return d.numpy
    if d is builtins_float:
        return np.dtype(np.float64)
    if d is builtins_int:
        return np.dtype(np.int64)
    if d is builtins_bool:
        return np.dtype(np.bool_)
    try:
        return from_numpy_dtype(np.dtype(d)).numpy  # type: ignore[arg-type]
    except TypeError:
        raise ChainruleError(f"dtype: {d!r} is not a dtype; use e.g. chainrule.float32") from None


def get_default_dtype() -> dtype:
    """The floating dtype that tensors made from Python floats get (float32 unless changed)."""
    return _default_float


def set_default_dtype(d: dtype) -> None:
    """Set the default floating dtype (float32 or float64), as ``torch.set_default_dtype``."""
    global _default_float
    d = from_numpy_dtype(to_numpy_dtype(d))
    if not d.is_floating_point:
        raise ChainruleError(f"set_default_dtype: {d} is not a floating dtype; use float32 or float64")
    _default_float = d


def promote_types(a: dtype, b: dtype) -> dtype:
    """The smallest dtype both ``a`` and ``b`` cast to, as ``torch.promote_types``."""
    if a.category != b.category:
        return a if a.category > b.category else b
    return _BY_NUMPY[np.promote_types(a.numpy, b.numpy)]


def _category_of_scalar(value: object) -> int:
    if isinstance(value, (builtins_bool, np.bool_)):
        return _BOOL
    if isinstance(value, (builtins_int, np.integer)):
        return _INT
    if isinstance(value, (builtins_float, np.floating)):
        return _FLOAT
    raise ChainruleError(f"type promotion: {type(value).__name__} values are not supported")


def result_type(*operands: object) -> dtype:
    """The dtype of an elementwise operation on ``operands`` (tensors, arrays or Python scalars).

    Follows ``torch.result_type``: dimensioned tensors dominate zero-dimensional ones, which dominate
    Python scalars, unless the lower-ranked operand is of a higher category (bool < int < float).
    """
    dims: dtype | None = None
    zero_dim: dtype | None = None
    scalar_category = -1
    for op in operands:
        np_dtype = getattr(op, "dtype", None)
        if np_dtype is not None and hasattr(op, "ndim"):
            d = from_numpy_dtype(np.dtype(np_dtype.numpy if isinstance(np_dtype, dtype) else np_dtype))
            if op.ndim == 0 and not isinstance(op, np.generic):  # type: ignore[attr-defined]
                zero_dim = d if zero_dim is None else promote_types(zero_dim, d)
            elif isinstance(op, np.generic):
                scalar_category = max(scalar_category, _category_of_scalar(op))
            else:
                dims = d if dims is None else promote_types(dims, d)
        else:
            scalar_category = max(scalar_category, _category_of_scalar(op))
    result = dims
    if zero_dim is not None:
        result = zero_dim if result is None or zero_dim.category > result.category else result
    if scalar_category >= 0 and (result is None or scalar_category > result.category):
        result = (bool, int64, _default_float)[scalar_category]
    assert result is not None
    return result


import builtins as _builtins  # noqa: E402 - the names above shadow the builtins on purpose

builtins_float, builtins_int, builtins_bool = _builtins.float, _builtins.int, _builtins.bool
