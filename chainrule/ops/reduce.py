"""Reductions: each forward beside its vector-Jacobian product.

``dim`` may be an int, a tuple of ints or ``None`` (all dimensions); ``keepdim`` keeps reduced
dimensions with size 1. NumPy spellings ``axis``/``keepdims`` are accepted too, which is what lets
the backward rules of other primitives call ``g.sum(axis=…, keepdims=True)`` on arrays and tensors
alike.

Primitives with their own rule: ``Sum``, ``Prod``, ``Var``, ``Std``, ``Amax`` (max/min), ``TakeAlongDim``
(max/min along a dim), ``LogSumExp``, ``Norm`` and ``CumSum``. ``mean`` is a composition.
Some rules need a helper that is itself differentiable (the product of the other elements, a
running sum from the end); each such helper is a small primitive called through a function that
runs plain NumPy on arrays (an ordinary backward) and records on tensors (``create_graph=True``).
"""

from __future__ import annotations

import builtins
import math
from collections import namedtuple
from typing import Any

import numpy as np

from chainrule import dtype as dtypes
from chainrule.autograd.engine import spread
from chainrule.autograd.function import Primitive
from chainrule.errors import ChainruleError
from chainrule.recording import replayed_call
from chainrule.ops.elementwise import maximum, minimum
from chainrule.tensor import Tensor, wrap

# what max/min along a dim return, as torch.return_types.max / .min
MaxResult = namedtuple("max", ("values", "indices"))
MinResult = namedtuple("min", ("values", "indices"))


# ---------------------------------------------------------------------------- dim handling
def normalize_dims(op: str, dim: Any, ndim: int) -> tuple[int, ...] | None:
    """``dim`` as a sorted tuple of non-negative axes (``None`` for all), with clear errors.

    An empty tuple reduces nothing (NumPy's meaning, which backward rules rely on); a
    zero-dimensional tensor accepts 0 and -1 and has no axis to reduce (``()``).
    """
    if dim is None:
        return None
    dims = (dim,) if isinstance(dim, (int, np.integer)) else tuple(dim)
    n = builtins.max(ndim, 1)
    result = []
    for d in dims:
        if not isinstance(d, (int, np.integer)) or isinstance(d, bool):
            raise ChainruleError(f"{op}: dim must be an int or a tuple of ints, got {dim!r}")
        if not -n <= d < n:
            raise ChainruleError(
                f"{op}: dimension {d} is out of range for a tensor with {ndim} dimensions "
                f"(expected a value in [{-n}, {n - 1}])")
        result.append(int(d) % n)
    if len(set(result)) != len(result):
        raise ChainruleError(f"{op}: dimension list {list(dims)} repeats a dimension")
    return tuple(sorted(result)) if ndim else ()


def resolve_dim_args(op: str, x: Tensor, dim: Any, keepdim: Any, axis: Any, keepdims: Any) -> tuple[Any, bool]:
    """Merge PyTorch's ``dim``/``keepdim`` with NumPy's ``axis``/``keepdims`` spellings.

    ``dim=()`` reduces every dimension (PyTorch's meaning); ``axis=()`` reduces none (NumPy's).
    """
    if axis is not None:
        if dim is not None:
            raise ChainruleError(f"{op}: pass either dim or axis, not both")
        dim = axis
    elif isinstance(dim, (tuple, list)) and len(dim) == 0:
        dim = None
    if keepdims is not None:
        keepdim = keepdims
    return normalize_dims(op, dim, x._data.ndim), bool(keepdim)


def one_dim(op: str, dim: Any, ndim: int) -> int:
    """A single dimension (ops such as ``cumsum`` and ``argmax`` take exactly one), normalised."""
    if not isinstance(dim, (int, np.integer)) or isinstance(dim, bool):
        raise ChainruleError(f"{op}: dim must be a single int, got {dim!r}")
    axes = normalize_dims(op, dim, ndim)
    return axes[0] if axes else 0


def expand_reduced(g: Any, shape: tuple[int, ...], axes: tuple[int, ...] | None, keepdim: bool) -> Any:
    """Reshape a reduced gradient so that it broadcasts against the input again."""
    if axes is None:
        return g.reshape((1,) * len(shape)) if len(shape) else g
    if keepdim:
        return g
    return g.reshape(tuple(1 if i in axes else s for i, s in enumerate(shape)))


def reduced_count(shape: tuple[int, ...], axes: tuple[int, ...] | None) -> int:
    """How many input elements each output of a reduction over ``axes`` combines."""
    return math.prod(shape) if axes is None else math.prod(shape[a] for a in axes)


def _require_float(op: str, x: Tensor) -> None:
    if x._data.dtype.kind != "f":
        raise ChainruleError(
            f"{op}: expected a floating tensor, got dtype {x.dtype}; convert with .float() "
            "or .double() first")


def _require_nonempty(op: str, x: Tensor, axes: tuple[int, ...] | None) -> None:
    """Max-like reductions have no identity: reducing an empty dimension is an error, as in PyTorch."""
    shape = x._data.shape
    if x._data.size == 0 and (axes is None or builtins.any(shape[a] == 0 for a in axes)):
        where = "the tensor" if axes is None else f"dimension {[a for a in axes if shape[a] == 0][0]}"
        raise ChainruleError(
            f"{op}: cannot reduce over {where} of an empty tensor of shape {tuple(shape)}: the "
            "operation has no identity; pass dim= naming a non-empty dimension")


def _integer_to_int64(x: Tensor, dtype: Any) -> Tensor:
    """Sums and products of integer or bool tensors are int64, as in PyTorch (or ``dtype``)."""
    if dtype is not None:
        return x.to(dtype)
    return x.to(dtypes.int64) if x._data.dtype.kind in "biu" else x


# ---------------------------------------------------------------------------- sum, mean
class Sum(Primitive):
    @staticmethod
    def forward(ctx, x, axes, keepdim):
        ctx.shape, ctx.axes, ctx.keepdim = x.shape, axes, keepdim
        return np.sum(x, axis=axes, keepdims=keepdim)

    @staticmethod
    def backward(ctx, g):  # d(Σx)/dx_i = 1: the gradient is spread back over the summed axes
        return spread(expand_reduced(g, ctx.shape, ctx.axes, ctx.keepdim), ctx.shape), None, None


def sum(input: Tensor, dim: Any = None, keepdim: bool = False, *, dtype: Any = None,  # noqa: A001
        axis: Any = None, keepdims: Any = None) -> Tensor:
    """The sum over ``dim`` (all elements by default). Integer and bool tensors sum to int64."""
    axes, keep = resolve_dim_args("sum", input, dim, keepdim, axis, keepdims)
    return Sum.apply(_integer_to_int64(input, dtype), axes, keep)


def mean(input: Tensor, dim: Any = None, keepdim: bool = False, *, dtype: Any = None,
         axis: Any = None, keepdims: Any = None) -> Tensor:
    """The mean over ``dim`` (all elements by default); floating tensors only, as in PyTorch."""
    axes, keep = resolve_dim_args("mean", input, dim, keepdim, axis, keepdims)
    if dtype is not None:
        input = input.to(dtype)
    _require_float("mean", input)
    return Mean.apply(input, axes, keep)


class Mean(Primitive):
    @staticmethod
    def forward(ctx, x, axes, keepdim):
        ctx.shape = x.shape
        ctx.count = reduced_count(x.shape, axes)
        return np.sum(x, axis=axes, keepdims=keepdim) / ctx.count

    @staticmethod
    def backward(ctx, g):  # d(Σx/n)/dx_i = 1/n: the gradient is spread back, divided by the count
        _, axes, keepdim = ctx.inputs
        return spread(expand_reduced(g / ctx.count, ctx.shape, axes, keepdim), ctx.shape), None, None


# ---------------------------------------------------------------------------- prod
class Prod(Primitive):
    @staticmethod
    def forward(ctx, x, axes, keepdim):
        ctx.save_for_backward(x)
        return np.prod(x, axis=axes, keepdims=keepdim)

    @staticmethod
    def backward(ctx, g):
        # d(Πx)/dx_i = Π_{j≠i} x_j, from prefix and suffix products: no division by x, so one zero
        # (or several) in a slice gives the exact gradient
        (x,) = ctx.saved_tensors
        _, axes, keepdim = ctx.inputs
        return expand_reduced(g, x.shape, axes, keepdim) * _others_product(x, axes), None, None


def _others_product(x: Any, axes: tuple[int, ...] | None) -> Any:
    """For every element, the product of the other elements of its slice over ``axes``."""
    shape = tuple(x.shape)
    if axes is None:
        return prod_others(x.reshape(-1)).reshape(shape)
    kept = tuple(a for a in range(len(shape)) if a not in axes)
    order = kept + axes  # the reduced axes last, flattened into one
    moved = x if order == tuple(range(len(shape))) else np.transpose(x, order)
    moved_shape = tuple(shape[a] for a in order)
    others = prod_others(moved.reshape(moved_shape[:len(kept)] + (reduced_count(shape, axes),)))
    others = others.reshape(moved_shape)
    return others if moved is x else np.transpose(others, tuple(np.argsort(order)))


def _prod_others_array(x: np.ndarray) -> np.ndarray:
    # out_i = (x_0 ⋯ x_{i-1}) · (x_{i+1} ⋯ x_{n-1}) along the last axis
    out = np.ones_like(x)
    if x.shape[-1] > 1:
        np.cumprod(x[..., :-1], axis=-1, out=out[..., 1:])
        out[..., :-1] *= np.cumprod(x[..., :0:-1], axis=-1)[..., ::-1]
    return out


class ProdOthers(Primitive):
    """``out_i = Π_{j≠i} x_j`` along the last axis: the gradient of a product, as a differentiable op."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return _prod_others_array(x)

    @staticmethod
    def backward(ctx, g):
        # d out_i/dx_j = Π_{k≠i,j} x_k for j ≠ i (0 for j = i): row i of an (n, n) table is the
        # product of the others of the slice with x_i set to 1. O(n²), but this rule only runs for
        # second derivatives of prod.
        (x,) = ctx.saved_tensors
        n = x.shape[-1]
        diagonal = np.eye(n, dtype=bool)
        rows = np.where(diagonal, 1, x.reshape(tuple(x.shape[:-1]) + (1, n)))
        pairs = prod_others(rows)
        weighted = g.reshape(tuple(g.shape[:-1]) + (n, 1)) * pairs
        return (np.where(diagonal, 0, weighted).sum(axis=-2),)


def prod_others(x: Any) -> Any:
    """``Π_{j≠i} x_j`` along the last axis of an array (NumPy) or a tensor (recorded)."""
    return ProdOthers.apply(x) if isinstance(x, Tensor) else _prod_others_array(x)


def prod(input: Tensor, dim: Any = None, keepdim: bool = False, *, dtype: Any = None,
         axis: Any = None, keepdims: Any = None) -> Tensor:
    """The product over ``dim`` (all elements by default; a tuple of dims is accepted too).

    Integer and bool tensors give int64. The gradient is exact with zeros in the input.
    """
    axes, keep = resolve_dim_args("prod", input, dim, keepdim, axis, keepdims)
    return Prod.apply(_integer_to_int64(input, dtype), axes, keep)


# ---------------------------------------------------------------------------- var, std
def _var_vjp(g: Any, x: Any, axes: tuple[int, ...] | None, keepdim: bool, correction: float) -> Any:
    # var = Σ(x - x̄)² / (N - correction); d var/dx_i = 2 (x_i - x̄) / (N - correction)
    # (the terms through x̄ cancel because Σ(x - x̄) = 0)
    dof = builtins.max(reduced_count(tuple(x.shape), axes) - correction, 0)
    scale = 2.0 / dof if dof else math.inf
    centered = x - np.mean(x, axis=axes, keepdims=True)
    return expand_reduced(g, x.shape, axes, keepdim) * centered * scale


class Var(Primitive):
    @staticmethod
    def forward(ctx, x, axes, keepdim, correction):
        ctx.save_for_backward(x)
        return np.var(x, axis=axes, ddof=correction, keepdims=keepdim)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return _var_vjp(g, x, *ctx.inputs[1:]), None, None, None


class Std(Primitive):
    @staticmethod
    def forward(ctx, x, axes, keepdim, correction):
        out = np.asarray(np.std(x, axis=axes, ddof=correction, keepdims=keepdim))
        ctx.save_for_backward(x, out)
        return out

    @staticmethod
    def backward(ctx, g):
        # std = √var: d std = d var / (2 std), taken as 0 where std = 0 (PyTorch's convention)
        x, out = ctx.saved_tensors
        zero = out == 0
        g_var = np.where(zero, 0, g) / (2 * np.where(zero, 1, out))
        return _var_vjp(g_var, x, *ctx.inputs[1:]), None, None, None


def _correction(op: str, unbiased: Any, correction: Any) -> Any:
    if unbiased is not None and correction is not None:
        raise ChainruleError(f"{op}: pass either unbiased or correction, not both")
    if correction is not None:
        return correction
    return 1 if unbiased is None or unbiased else 0


def var(input: Tensor, dim: Any = None, unbiased: bool | None = None, keepdim: bool = False, *,
        correction: float | None = None, axis: Any = None, keepdims: Any = None) -> Tensor:
    """The variance over ``dim``: ``Σ(x - mean)² / (N - correction)``, ``correction=1`` by default
    (``unbiased=False`` means ``correction=0``). ``var(x, False)`` is ``var(x, unbiased=False)``."""
    if isinstance(dim, bool):
        dim, unbiased = None, dim
    axes, keep = resolve_dim_args("var", input, dim, keepdim, axis, keepdims)
    _require_float("var", input)
    # fused (also std): one NumPy call forward and a one-line rule, instead of five recorded ops
    return Var.apply(input, axes, keep, _correction("var", unbiased, correction))


def std(input: Tensor, dim: Any = None, unbiased: bool | None = None, keepdim: bool = False, *,
        correction: float | None = None, axis: Any = None, keepdims: Any = None) -> Tensor:
    """The standard deviation over ``dim``: ``sqrt(var(...))``, with :func:`var`'s arguments; its
    gradient is 0 where it is 0 (a constant slice), as in PyTorch."""
    if isinstance(dim, bool):
        dim, unbiased = None, dim
    axes, keep = resolve_dim_args("std", input, dim, keepdim, axis, keepdims)
    _require_float("std", input)
    return Std.apply(input, axes, keep, _correction("std", unbiased, correction))


# ---------------------------------------------------------------------------- max, min, amax, amin
class Amax(Primitive):
    @staticmethod
    def forward(ctx, x, axes, keepdim, largest):
        out = np.asarray((np.max if largest else np.min)(x, axis=axes, keepdims=keepdim))
        ctx.save_for_backward(x, out)
        return out

    @staticmethod
    def backward(ctx, g):
        # the gradient goes to the extreme elements; tied ones share it evenly (as PyTorch)
        x, out = ctx.saved_tensors
        _, axes, keepdim, _ = ctx.inputs
        hit = x == expand_reduced(out, x.shape, axes, keepdim)
        count = hit.sum(axis=axes, keepdims=True, dtype=x.dtype)
        return expand_reduced(g, x.shape, axes, keepdim) / count * hit, None, None, None


class TakeAlongDim(Primitive):
    @staticmethod
    def forward(ctx, x, index, dim, keepdim):
        out = np.take_along_axis(x, index, axis=dim)
        return out if keepdim else out.squeeze(dim)

    @staticmethod
    def backward(ctx, g):
        # each output is one input element (x at index): its gradient goes there, the rest get 0
        x, index, dim, keepdim = ctx.inputs
        n = x.shape[dim]
        positions = np.arange(n).reshape((n,) + (1,) * (x.ndim - dim - 1))
        g = g if keepdim else g.reshape(index.shape)
        return np.where(positions == index, g, 0), None, None, None


def _extreme(op: str, largest: bool, input: Tensor, dim: Any, keepdim: Any, axis: Any,
             keepdims: Any) -> Tensor:
    axes, keep = resolve_dim_args(op, input, dim, keepdim, axis, keepdims)
    _require_nonempty(op, input, axes)
    return Amax.apply(input, axes, keep, largest)


def _extreme_along(op: str, largest: bool, input: Tensor, dim: Any, keepdim: Any, axis: Any,
                   keepdims: Any) -> Any:
    """``max``/``min`` in all their forms: full reduction, along a dim, or against another tensor."""
    if isinstance(dim, Tensor):
        return (maximum if largest else minimum)(input, dim)
    if axis is not None:
        dim = axis
    if keepdims is not None:
        keepdim = keepdims
    if dim is None:
        return _extreme(op, largest, input, None, False, None, None)
    x = input._data
    d = one_dim(op, dim, x.ndim)
    result = MaxResult if largest else MinResult
    if x.ndim == 0:
        return result(Amax.apply(input, (), False, largest), wrap(np.zeros((), np.int64)))
    _require_nonempty(op, input, (d,))
    index = (np.argmax if largest else np.argmin)(x, axis=d, keepdims=True)
    values = TakeAlongDim.apply(input, index, d, bool(keepdim))
    return result(values, wrap(index if keepdim else index.squeeze(d)))


def max(input: Tensor, dim: Any = None, keepdim: bool = False, *,  # noqa: A001
        axis: Any = None, keepdims: Any = None) -> Any:
    """The largest element; or, with ``dim``, ``(values, indices)`` along it; or, with a tensor as
    second argument, the elementwise :func:`maximum`.

    Without ``dim`` the gradient is shared evenly by tied maxima (as :func:`amax`); along ``dim`` it
    goes to the returned index, the first occurrence among ties (as PyTorch).
    """
    return _extreme_along("max", True, input, dim, keepdim, axis, keepdims)


def min(input: Tensor, dim: Any = None, keepdim: bool = False, *,  # noqa: A001
        axis: Any = None, keepdims: Any = None) -> Any:
    """The smallest element; or ``(values, indices)`` along ``dim``; or the elementwise
    :func:`minimum` with a tensor (see :func:`max`)."""
    return _extreme_along("min", False, input, dim, keepdim, axis, keepdims)


def amax(input: Tensor, dim: Any = None, keepdim: bool = False, *, axis: Any = None,
         keepdims: Any = None) -> Tensor:
    """The maximum over ``dim`` (an int or a tuple; all dims by default); ties share the gradient."""
    return _extreme("amax", True, input, dim, keepdim, axis, keepdims)


def amin(input: Tensor, dim: Any = None, keepdim: bool = False, *, axis: Any = None,
         keepdims: Any = None) -> Tensor:
    """The minimum over ``dim`` (an int or a tuple; all dims by default); ties share the gradient."""
    return _extreme("amin", False, input, dim, keepdim, axis, keepdims)


@replayed_call  # computed on arrays: a compiled step replays the call
def _arg_extreme(op: str, largest: bool, input: Tensor, dim: Any, keepdim: bool) -> Tensor:
    x = input._data
    find = np.argmax if largest else np.argmin
    if dim is None:
        _require_nonempty(op, input, None)
        index = np.asarray(find(x), dtype=np.int64)
        return wrap(index.reshape((1,) * x.ndim) if keepdim else index)
    d = one_dim(op, dim, x.ndim)
    if x.ndim == 0:
        return wrap(np.zeros((), np.int64))
    _require_nonempty(op, input, (d,))
    return wrap(find(x, axis=d, keepdims=bool(keepdim)).astype(np.int64, copy=False))


def argmax(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    """The index (int64) of the largest element along ``dim``, or in the flattened tensor; the first
    one among ties. No gradient."""
    return _arg_extreme("argmax", True, input, dim, keepdim)


def argmin(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    """The index (int64) of the smallest element along ``dim``, or in the flattened tensor."""
    return _arg_extreme("argmin", False, input, dim, keepdim)


# ---------------------------------------------------------------------------- logsumexp
class LogSumExp(Primitive):
    @staticmethod
    def forward(ctx, x, axes, keepdim):
        # log Σ e^x = m + log Σ e^(x - m) with m the max (0 where it is infinite): no overflow
        m = np.max(x, axis=axes, keepdims=True, initial=-np.inf)
        m = np.where(np.isfinite(m), m, 0)
        with np.errstate(divide="ignore"):  # log 0 = -inf for empty or all -inf slices
            out = np.log(np.sum(np.exp(x - m), axis=axes, keepdims=True)) + m
        if not keepdim:
            out = out.squeeze(axes)
        ctx.save_for_backward(x, out)
        return out

    @staticmethod
    def backward(ctx, g):  # d/dx_i log Σ e^x = e^(x_i - logsumexp): the softmax
        x, out = ctx.saved_tensors
        _, axes, keepdim = ctx.inputs
        softmax = np.exp(x - expand_reduced(out, x.shape, axes, keepdim))
        return expand_reduced(g, x.shape, axes, keepdim) * softmax, None, None


def logsumexp(input: Tensor, dim: Any, keepdim: bool = False) -> Tensor:
    """``log(sum(exp(input), dim))``, computed without overflow (``logsumexp([1e4]) = 1e4``).

    A fused primitive: more stable and faster than the composition, and its gradient (the softmax)
    reuses the output. Integer inputs are computed in the default float dtype.
    """
    axes = normalize_dims("logsumexp", dim, input._data.ndim)
    if input._data.dtype.kind != "f":
        input = input.to(dtypes.get_default_dtype())
    return LogSumExp.apply(input, axes, bool(keepdim))


# ---------------------------------------------------------------------------- norm
def _vector_norm(x: np.ndarray, p: float, axes: tuple[int, ...] | None, keepdim: bool) -> np.ndarray:
    if p == 2:
        return np.sqrt(np.sum(x * x, axis=axes, keepdims=keepdim))
    if p == 1:
        return np.sum(np.abs(x), axis=axes, keepdims=keepdim)
    if p == math.inf:
        return np.max(np.abs(x), axis=axes, keepdims=keepdim)
    if p == -math.inf:
        return np.min(np.abs(x), axis=axes, keepdims=keepdim)
    if p == 0:
        return np.sum(x != 0, axis=axes, keepdims=keepdim, dtype=x.dtype)
    return np.sum(np.abs(x) ** p, axis=axes, keepdims=keepdim) ** (1.0 / p)


class Norm(Primitive):
    @staticmethod
    def forward(ctx, x, p, axes, keepdim):
        out = np.asarray(_vector_norm(x, p, axes, keepdim))
        ctx.save_for_backward(x, out)
        return out

    @staticmethod
    def backward(ctx, g):
        # ‖x‖_p = (Σ|x|^p)^(1/p): d/dx_i = sign(x_i) |x_i|^(p-1) / ‖x‖^(p-1), taken as 0 where
        # ‖x‖ = 0 (PyTorch's convention); p = 2 gives x/‖x‖. For p = ±inf the gradient is sign(x_i)
        # shared evenly by the elements whose |x_i| is the norm; p = 0 (a count) has none.
        x, out = ctx.saved_tensors
        _, p, axes, keepdim = ctx.inputs
        if p == 0:
            return None, None, None, None
        g = expand_reduced(g, x.shape, axes, keepdim)
        n = expand_reduced(out, x.shape, axes, keepdim)
        if p in (math.inf, -math.inf):
            hit = np.abs(x) == n
            return np.sign(x) * hit * (g / hit.sum(axis=axes, keepdims=True, dtype=x.dtype)), None, None, None
        zero = n == 0
        safe_n = np.where(zero, 1, n)
        if p == 2:
            return x * np.where(zero, 0, g / safe_n), None, None, None
        scaled = np.where(x == 0, 0, np.sign(x) * np.where(x == 0, 1, np.abs(x)) ** (p - 1))
        return scaled * np.where(zero, 0, g / safe_n ** (p - 1)), None, None, None


def norm(input: Tensor, p: float | str = "fro", dim: Any = None, keepdim: bool = False,
         dtype: Any = None) -> Tensor:
    """The vector p-norm over ``dim`` (all elements by default), as ``torch.norm``.

    ``p``: ``'fro'`` or 2 (Euclidean, the default), 1, ``inf``, ``-inf``, 0 (the count of non-zero
    elements) or any other number. The gradient at an all-zero input is 0. A fused primitive: the
    composition ``sqrt(sum(x²))`` would give a NaN gradient at zero.
    """
    if isinstance(p, str):
        if p != "fro":
            raise ChainruleError(f"norm: p={p!r} is not supported; use 'fro' or a number (matrix "
                                 "norms such as 'nuc' are not implemented)")
        p = 2
    if dtype is not None:
        input = input.to(dtype)
    _require_float("norm", input)
    axes = normalize_dims("norm", dim, input._data.ndim)
    p = float(p)
    if p in (math.inf, -math.inf):
        _require_nonempty("norm", input, axes)
    return Norm.apply(input, p, axes, bool(keepdim))


# ---------------------------------------------------------------------------- cumsum
def _running_sum(x: np.ndarray, dim: int, reverse: bool) -> np.ndarray:
    if x.ndim == 0:
        return x.copy()
    if reverse:
        return np.flip(np.cumsum(np.flip(x, dim), axis=dim), dim)
    return np.cumsum(x, axis=dim)


class CumSum(Primitive):
    @staticmethod
    def forward(ctx, x, dim, reverse):
        return _running_sum(x, dim, reverse)

    @staticmethod
    def backward(ctx, g):  # y_i = Σ_{j≤i} x_j, so dx_j = Σ_{i≥j} g_i: a running sum from the end
        _, dim, reverse = ctx.inputs
        return running_sum(g, dim, not reverse), None, None


def running_sum(x: Any, dim: int, reverse: bool = False) -> Any:
    """Cumulative sums along ``dim`` (from the end with ``reverse``) of an array or a tensor."""
    return CumSum.apply(x, dim, reverse) if isinstance(x, Tensor) else _running_sum(x, dim, reverse)


def cumsum(input: Tensor, dim: int, *, dtype: Any = None) -> Tensor:
    """Cumulative sums along ``dim``; integer and bool tensors give int64 (or ``dtype``)."""
    d = one_dim("cumsum", dim, input._data.ndim)
    return CumSum.apply(_integer_to_int64(input, dtype), d, False)


# ---------------------------------------------------------------------------- no-gradient reductions
@replayed_call  # computed on arrays: a compiled step replays the call
def all(input: Tensor, dim: Any = None, keepdim: bool = False, *,  # noqa: A001
        axis: Any = None, keepdims: Any = None) -> Tensor:
    """Whether every element over ``dim`` is non-zero (a bool tensor; no gradient)."""
    axes, keep = resolve_dim_args("all", input, dim, keepdim, axis, keepdims)
    return wrap(np.asarray(np.all(input._data, axis=axes, keepdims=keep)))


@replayed_call  # computed on arrays: a compiled step replays the call
def any(input: Tensor, dim: Any = None, keepdim: bool = False, *,  # noqa: A001
        axis: Any = None, keepdims: Any = None) -> Tensor:
    """Whether some element over ``dim`` is non-zero (a bool tensor; no gradient)."""
    axes, keep = resolve_dim_args("any", input, dim, keepdim, axis, keepdims)
    return wrap(np.asarray(np.any(input._data, axis=axes, keepdims=keep)))


@replayed_call  # computed on arrays: a compiled step replays the call
def count_nonzero(input: Tensor, dim: Any = None) -> Tensor:
    """How many elements over ``dim`` (an int or a tuple; all by default) are non-zero (int64)."""
    axes = normalize_dims("count_nonzero", dim, input._data.ndim)
    return wrap(np.asarray(np.count_nonzero(input._data, axis=axes), dtype=np.int64))


# ---------------------------------------------------------------------------- Tensor methods, NumPy dispatch
def _reject_numpy_options(name: str, out: Any, extra: dict[str, Any]) -> None:
    """NumPy options chainrule has no counterpart for (``out=``, ``where=``, ``initial=`` …)."""
    unsupported = (["out"] if out is not None else []) + sorted(extra)
    if unsupported:
        raise ChainruleError(
            f"numpy.{name}: the argument(s) {', '.join(unsupported)} are not supported on chainrule "
            "tensors; leave them out (chainrule returns a new tensor)")


def _numpy_extreme(fn: Any, name: str) -> Any:
    def adapter(a: Tensor, axis: Any = None, out: Any = None, keepdims: bool = False, **extra: Any) -> Tensor:
        _reject_numpy_options(name, out, extra)
        return fn(a, axis, keepdims)

    adapter.__name__ = f"numpy_{name}"
    return adapter


def _numpy_prod(a: Tensor, axis: Any = None, dtype: Any = None, out: Any = None, keepdims: bool = False,
                **extra: Any) -> Tensor:
    _reject_numpy_options("prod", out, extra)
    return prod(a, axis, keepdims, dtype=dtype)


def _numpy_cumsum(a: Tensor, axis: int | None = None, dtype: Any = None, out: Any = None) -> Tensor:
    _reject_numpy_options("cumsum", out, {})
    return cumsum(a.reshape(-1), 0, dtype=dtype) if axis is None else cumsum(a, axis, dtype=dtype)


def _numpy_moment(fn: Any, name: str) -> Any:
    def adapter(a: Tensor, axis: Any = None, dtype: Any = None, out: Any = None, ddof: float = 0,
                keepdims: bool = False, *, correction: float | None = None, **extra: Any) -> Tensor:
        _reject_numpy_options(name, out, extra)
        if dtype is not None:
            a = a.to(dtype)
        return fn(a, axis, keepdim=keepdims, correction=ddof if correction is None else correction)

    adapter.__name__ = f"numpy_{name}"
    return adapter


def _numpy_arg_extreme(fn: Any, name: str) -> Any:
    def adapter(a: Tensor, axis: int | None = None, out: Any = None, *, keepdims: bool = False) -> Tensor:
        _reject_numpy_options(name, out, {})
        return fn(a, axis, keepdims)

    adapter.__name__ = f"numpy_{name}"
    return adapter


@replayed_call  # computed on arrays: a compiled step replays the call
def _numpy_count_nonzero(a: Tensor, axis: Any = None, *, keepdims: bool = False) -> Tensor:
    axes = normalize_dims("count_nonzero", axis, a._data.ndim)
    return wrap(np.asarray(np.count_nonzero(a._data, axis=axes, keepdims=keepdims), dtype=np.int64))


def _numpy_norm(x: Tensor, ord: Any = None, axis: Any = None, keepdims: bool = False) -> Tensor:
    # vector norms only: NumPy's ord over two axes (or a 2-D input without axis) means a matrix norm
    matrix = (isinstance(axis, (tuple, list)) and len(axis) == 2) or (axis is None and x.ndim == 2)
    if matrix and ord not in (None, "fro"):
        raise ChainruleError(f"numpy.linalg.norm: matrix norm ord={ord!r} is not supported; chainrule "
                             "computes vector norms (ord=None, 'fro' or a number over one axis)")
    return norm(x, 2 if ord is None else ord, axis, keepdims)


TENSOR_METHODS = {
    "sum": sum, "mean": mean, "prod": prod, "var": var, "std": std, "max": max, "min": min,
    "amax": amax, "amin": amin, "argmax": argmax, "argmin": argmin, "logsumexp": logsumexp,
    "norm": norm, "cumsum": cumsum, "all": all, "any": any, "count_nonzero": count_nonzero,
}
NUMPY_FUNCTIONS = {
    np.sum: sum, np.mean: mean, np.prod: _numpy_prod, np.cumsum: _numpy_cumsum,
    np.max: _numpy_extreme(amax, "max"), np.amax: _numpy_extreme(amax, "amax"),
    np.min: _numpy_extreme(amin, "min"), np.amin: _numpy_extreme(amin, "amin"),
    np.all: _numpy_extreme(all, "all"), np.any: _numpy_extreme(any, "any"),
    np.var: _numpy_moment(var, "var"), np.std: _numpy_moment(std, "std"),
    np.argmax: _numpy_arg_extreme(argmax, "argmax"), np.argmin: _numpy_arg_extreme(argmin, "argmin"),
    np.count_nonzero: _numpy_count_nonzero, np.linalg.norm: _numpy_norm,
}
