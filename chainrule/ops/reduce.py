"""Reductions: each forward beside its vector-Jacobian product.

``dim`` may be an int, a tuple of ints or ``None`` (all dimensions); ``keepdim`` keeps reduced
dimensions with size 1. NumPy spellings ``axis``/``keepdims`` are accepted too, which is what lets
the backward rules of other primitives call ``g.sum(axis=…, keepdims=True)`` on arrays and tensors
alike.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule import dtype as dtypes
from chainrule.autograd.function import Primitive
from chainrule.errors import ChainruleError
from chainrule.tensor import Tensor

Dim = "int | tuple[int, ...] | list[int] | None"


def normalize_dims(op: str, dim: Any, ndim: int) -> tuple[int, ...] | None:
    """``dim`` as a sorted tuple of non-negative axes (``None`` for all), with clear errors."""
    if dim is None:
        return None
    dims = (dim,) if isinstance(dim, (int, np.integer)) else tuple(dim)
    n = max(ndim, 1)
    result = []
    for d in dims:
        if not -n <= d < n:
            raise ChainruleError(
                f"{op}: dimension {d} is out of range for a tensor with {ndim} dimensions "
                f"(expected a value in [{-n}, {n - 1}])")
        result.append(int(d) % n if ndim else 0)
    if len(set(result)) != len(result):
        raise ChainruleError(f"{op}: dimension list {list(dims)} repeats a dimension")
    return tuple(sorted(result))


def resolve_dim_args(op: str, x: Tensor, dim: Any, keepdim: Any, axis: Any, keepdims: Any) -> tuple[Any, bool]:
    """Merge PyTorch's ``dim``/``keepdim`` with NumPy's ``axis``/``keepdims`` spellings."""
    if axis is not None:
        if dim is not None:
            raise ChainruleError(f"{op}: pass either dim or axis, not both")
        dim = axis
    if keepdims is not None:
        keepdim = keepdims
    return normalize_dims(op, dim, x._data.ndim), bool(keepdim)


def expand_reduced(g: Any, shape: tuple[int, ...], axes: tuple[int, ...] | None, keepdim: bool) -> Any:
    """Reshape a reduced gradient so that it broadcasts against the input again."""
    if axes is None:
        return g.reshape((1,) * len(shape)) if len(shape) else g
    if keepdim:
        return g
    return g.reshape(tuple(1 if i in axes else s for i, s in enumerate(shape)))


class Sum(Primitive):
    @staticmethod
    def forward(ctx, x, axes, keepdim):
        ctx.shape, ctx.axes, ctx.keepdim = x.shape, axes, keepdim
        return np.sum(x, axis=axes, keepdims=keepdim)

    @staticmethod
    def backward(ctx, g):  # d(Σx)/dx_i = 1: the gradient is spread back over the summed axes
        return np.broadcast_to(expand_reduced(g, ctx.shape, ctx.axes, ctx.keepdim), ctx.shape), None, None


def sum(input: Tensor, dim: Any = None, keepdim: bool = False, *, dtype: Any = None,  # noqa: A001
        axis: Any = None, keepdims: Any = None) -> Tensor:
    """The sum over ``dim`` (all elements by default). Integer and bool tensors sum to int64."""
    axes, keep = resolve_dim_args("sum", input, dim, keepdim, axis, keepdims)
    if dtype is not None:
        input = input.to(dtype)
    elif input._data.dtype.kind in "biu":
        input = input.to(dtypes.int64)
    return Sum.apply(input, axes, keep)


def mean(input: Tensor, dim: Any = None, keepdim: bool = False, *, dtype: Any = None,
         axis: Any = None, keepdims: Any = None) -> Tensor:
    """The mean over ``dim`` (all elements by default); floating tensors only, as in PyTorch."""
    axes, keep = resolve_dim_args("mean", input, dim, keepdim, axis, keepdims)
    if dtype is not None:
        input = input.to(dtype)
    if input._data.dtype.kind != "f":
        raise ChainruleError(
            f"mean: expected a floating tensor, got dtype {input.dtype}; convert with .float() "
            "or pass dtype=chainrule.float32")
    shape = input._data.shape
    count = int(np.prod([shape[a] for a in axes])) if axes is not None else input._data.size
    return Sum.apply(input, axes, keep) / count


TENSOR_METHODS = {"sum": sum, "mean": mean}
NUMPY_FUNCTIONS = {np.sum: sum, np.mean: mean}
