"""Indexing primitives: ``x[key]``, its adjoint (adding values at an index) and ``put``.

Three primitives carry all the calculus here; every other function (gather, scatter, index_select,
index_add, masked_fill …) turns its arguments into a NumPy index and calls them:

* ``Getitem``   y = x[key]                    dx = zeros with g added at key
* ``IndexAdd``  y = x, then y[key] += v       dx = g, dv = g[key]
* ``IndexPut``  y = x, then y[key] = v        dx = g with zeros at key, dv = g[key]

The rules are written in terms of each other (the adjoint of a gather is a scatter-add, whose adjoint
is a gather), through functions that accept arrays and tensors alike, so recorded backward passes
(``create_graph=True``) are differentiable again. Repeated integer indices accumulate (NumPy's
``np.add.at``). Basic indexing (ints, slices, None, ``...``) returns a view sharing memory and
version counter with its input; advanced indexing (integer or bool arrays) returns a copy.
"""

from __future__ import annotations

import builtins
from typing import Any, Callable

import numpy as np

from chainrule.autograd.function import Primitive, run_primitive
from chainrule.errors import ChainruleError
from chainrule.recording import replayed_call
from chainrule.ops import elementwise as ew
from chainrule.ops import inplace
from chainrule.ops.shape import broadcast_to, reshape, share_memory_state
from chainrule.tensor import Tensor, _check_dim, wrap

Key = tuple[Any, ...]


class IndexingError(ChainruleError, IndexError):
    """A malformed or out-of-range index; also an ``IndexError``, which is what PyTorch raises."""


# ---------------------------------------------------------------------------- keys
_INTEGER_INDEX_DTYPES = (np.dtype(np.int64), np.dtype(np.int32))


def _key_item(op: str, item: Any) -> Any:
    """One element of an indexing key as a plain NumPy object (int, slice, None, ..., array)."""
    cls = item.__class__
    if cls is int or cls is slice or item is None or item is Ellipsis:
        return item
    if cls is builtins.bool or cls is np.bool_:
        return np.array(item)  # a 0-d mask: adds a dimension of size 1 (True) or 0 (False)
    if isinstance(item, Tensor):
        array = item._data
        if array.dtype.kind != "b" and array.dtype.char not in "lqi":  # int64 (l, q) or int32 (i)
            hint = ("use .bool() for a mask or .long() for indices" if array.dtype == np.uint8
                    else "convert with .long()")
            raise IndexingError(
                f"{op}: tensors used as indices must be int64, int32 or bool tensors, got dtype "
                f"{item.dtype}; {hint}")
    elif isinstance(item, (np.integer, int)):
        return int(item)
    elif isinstance(item, np.ndarray):
        array = item
    elif isinstance(item, (list, tuple)):
        array = np.asarray(item) if len(item) else np.empty(0, np.intp)
    else:
        raise IndexingError(
            f"{op}: only integers, slices (:), ellipsis (...), None and integer or bool tensors, arrays "
            f"or lists are valid indices (got {type(item).__name__})")
    if array.dtype.kind not in "biu":
        raise IndexingError(
            f"{op}: index arrays must hold integers or bools, got dtype {array.dtype}; convert with .long()")
    if array.ndim == 0 and array.dtype.kind != "b":
        return int(array)  # a 0-d integer index acts as an int (and keeps the result a view)
    return array


def _convert(key: Any, shape: tuple[int, ...], op: str) -> tuple[list[Any], builtins.bool]:
    """``key`` as a list of NumPy objects ending in ``...``, and whether it holds an array (no range
    checks: NumPy makes them while indexing, and :func:`_validate` explains a failure)."""
    if shape and (key.__class__ is slice or key.__class__ is int and -shape[0] <= key < shape[0]):
        return [key, Ellipsis], False  # the most frequent keys, x[i] and x[a:b], take a short cut
    items = []
    advanced = ellipsis = False
    for k in key if key.__class__ is tuple else (key,):
        c = _key_item(op, k)
        if c.__class__ is np.ndarray:
            advanced = True
        elif c is Ellipsis:
            ellipsis = True
        items.append(c)
    if not ellipsis:
        items.append(Ellipsis)  # also makes x[i] of a 1-d x a 0-d view rather than a NumPy scalar
    return items, advanced


def _validate(items: list[Any], shape: tuple[int, ...], op: str) -> None:
    """Raise a clear error if ``items`` cannot index an array of ``shape``."""
    ndim = len(shape)
    consumed = sum(0 if c is Ellipsis or c is None else
                   (c.ndim if c.__class__ is np.ndarray and c.dtype.kind == "b" else 1) for c in items)
    if sum(1 for c in items if c is Ellipsis) > 1:
        raise IndexingError(f"{op}: an index can only have a single ellipsis (...)")
    if consumed > ndim:
        raise IndexingError(
            f"{op}: too many indices for a tensor of dimension {ndim} (shape {shape}): the index uses "
            f"{consumed} dimensions")
    dim = 0
    for c in items:
        if c is Ellipsis:
            dim += ndim - consumed
        elif c.__class__ is int:
            _check_bounds(op, c, c, dim, shape)
            dim += 1
        elif c.__class__ is np.ndarray:
            if c.dtype.kind == "b":
                if c.shape != shape[dim:dim + c.ndim]:
                    raise IndexingError(
                        f"{op}: the shape of the mask {c.shape} at dimension {dim} does not match the "
                        f"shape of the indexed tensor {shape}")
                dim += c.ndim
            else:
                if c.size:
                    _check_bounds(op, int(c.min()), int(c.max()), dim, shape)
                dim += 1
        elif c is not None:
            dim += 1
    _check_broadcast(op, items)


def _normalize(key: Any, shape: tuple[int, ...], op: str) -> tuple[Key, builtins.bool]:
    """``key`` converted and checked (see :func:`_convert`, :func:`_validate`)."""
    items, advanced = _convert(key, shape, op)
    _validate(items, shape, op)
    return tuple(items), advanced


def _check_bounds(op: str, low: int, high: int, dim: int, shape: tuple[int, ...],
                  negative: builtins.bool = True) -> None:
    size = shape[dim]
    for i in (low, high):
        if not (-size if negative else 0) <= i < size:
            raise IndexingError(
                f"{op}: index {i} is out of bounds for dimension {dim} with size {size} "
                f"(tensor of shape {shape})")


def _check_broadcast(op: str, items: list[Any]) -> None:
    arrays = [c for c in items if c.__class__ is np.ndarray and (c.ndim or c.dtype.kind != "b")]
    if len(arrays) < 2:
        return
    shapes = [c.shape if c.dtype.kind != "b" else (int(np.count_nonzero(c)),) for c in arrays]
    try:
        np.broadcast_shapes(*shapes)
    except ValueError:
        raise IndexingError(
            f"{op}: the index arrays cannot be broadcast together: shapes "
            f"{', '.join(str(s) for s in shapes)} (a mask counts as its number of True values)") from None


def normalize_key(key: Any, shape: tuple[int, ...], op: str = "index") -> Key:
    """Turn a Python indexing key (ints, slices, None, ..., lists, arrays, tensors) into a tuple of
    plain NumPy objects usable as ``array[key]`` for an array of ``shape``, checking it on the way:
    index tensors must be integer or bool, integers in range, masks of the indexed shape."""
    return _normalize(key, shape, op)[0]


def _has_integer_array(key: Key) -> builtins.bool:
    return any(k.__class__ is np.ndarray and k.dtype.kind != "b" for k in key)


def _indexed_shape(shape: tuple[int, ...], key: Key) -> tuple[int, ...]:
    """The shape of ``x[key]`` for ``x`` of ``shape``, without touching any data."""
    return np.broadcast_to(np.empty((), np.bool_), shape)[key].shape


# ---------------------------------------------------------------------------- primitives
class Getitem(Primitive):
    @staticmethod
    def forward(ctx, x, key):
        ctx.shape = x.shape
        return x[key]

    @staticmethod
    def backward(ctx, g):  # y = x[key] picks elements: dx = zeros with g added where they were picked
        return add_at_zeros(g, ctx.inputs[1], ctx.shape), None


class IndexAdd(Primitive):
    @staticmethod
    def forward(ctx, x, key, v):
        out = x.copy()
        _add_at(out, key, v)
        return out

    @staticmethod
    def backward(ctx, g):  # y = x + v added at key (repeats add up): dx = g, dv = g[key]
        key = ctx.inputs[1]
        need_x, _, need_v = ctx.needs_input_grad
        return (g if need_x else None), None, (g[key] if need_v else None)


class IndexPut(Primitive):
    @staticmethod
    def forward(ctx, x, key, v):
        out = x.copy()
        put_at(out, key, v)
        return out

    @staticmethod
    def backward(ctx, g):
        # y = x with y[key] = v: dx = g with zeros at key, dv = g[key]. With repeated indices only the
        # last write survives, but every copy of v gets g at its position, as PyTorch's index_put does.
        key = ctx.inputs[1]
        need_x, _, need_v = ctx.needs_input_grad
        return (zero_at(g, key) if need_x else None), None, (g[key] if need_v else None)


def _add_at(out: np.ndarray, key: Key, v: Any) -> None:
    """``out[key] += v`` in place, where repeated integer indices add up."""
    if _has_integer_array(key):
        np.add.at(out, key, v)
    else:
        out[key] += v


def put_at(out: np.ndarray, key: Key, v: Any) -> None:
    """``out[key] = v`` in place, with a clear error when ``v`` does not fit the selection."""
    try:
        out[key] = v
    except ValueError:
        raise ChainruleError(
            f"setitem: cannot assign a value of shape {np.shape(v)} to a selection of shape "
            f"{_indexed_shape(out.shape, key)} of a tensor of shape {out.shape}: the value must "
            "broadcast to the selection") from None


def add_at_zeros(g: Any, key: Key, shape: tuple[int, ...]) -> Any:
    """Zeros of ``shape`` with ``g`` added at ``key`` (an array for an array, a tensor for a tensor):
    the adjoint of ``x[key]``."""
    if isinstance(g, Tensor):
        return IndexAdd.apply(wrap(np.zeros(shape, g._data.dtype)), key, g)
    out = np.zeros(shape, g.dtype)
    _add_at(out, key, g)
    return out


def zero_at(g: Any, key: Key) -> Any:
    """A copy of ``g`` (array or tensor) with zeros at ``key``."""
    return run_primitive(IndexPut, g, key, 0)


# ---------------------------------------------------------------------------- x[key], put
def getitem(input: Tensor, key: Any) -> Tensor:
    """``input[key]`` with NumPy's (and PyTorch's) rules: a view for ints, slices (any step), None and
    ``...``; a copy for integer/bool arrays, lists or tensors (repeated indices add up in backward)."""
    items, advanced = _convert(key, input._data.shape, "index")
    array_key = tuple(items)
    try:
        out = Getitem.apply(input, array_key)
    except (IndexError, ValueError):
        _validate(items, input._data.shape, "index")  # explains what NumPy refused
        raise
    return out if advanced else share_memory_state(out, input)


def put(input: Tensor, key: Any, value: Any) -> Tensor:
    """A copy of ``input`` with ``copy[key] = value``, differentiable in both.

    ``value`` (a tensor, array or number) is broadcast to ``input[key]``'s shape and converted to
    ``input``'s dtype; with repeated indices the last write wins, as in NumPy.
    """
    array_key = normalize_key(key, input._data.shape, "setitem")
    if isinstance(value, Tensor):
        if value._data.dtype != input._data.dtype:
            value = ew.cast(value, input._data.dtype)
        if value.requires_grad and value._data.ndim:
            value = _drop_leading_ones(value, _indexed_shape(input._data.shape, array_key))
    elif not isinstance(value, (int, float, builtins.bool)):
        value = np.asarray(value)
    return IndexPut.apply(input, array_key, value)


def _drop_leading_ones(value: Tensor, target: tuple[int, ...]) -> Tensor:
    """NumPy lets a (1, 3) value fill a (3,) selection; reshape it so its gradient fits too."""
    extra = value._data.ndim - len(target)
    if extra > 0 and all(s == 1 for s in value._data.shape[:extra]):
        return reshape(value, value._data.shape[extra:])
    return value


def index_put(input: Tensor, indices: Any, values: Any, accumulate: builtins.bool = False) -> Tensor:
    """A copy of ``input`` with ``copy[indices] = values`` (``+=`` with ``accumulate=True``, where
    repeated indices add up); ``indices`` is a tuple of index tensors, as in PyTorch."""
    key = normalize_key(tuple(indices), input._data.shape, "index_put")
    values = _same_dtype("index_put", input, values)
    return IndexAdd.apply(input, key, values) if accumulate else put(input, key, values)


def _same_dtype(op: str, input: Tensor, values: Any) -> Any:
    if not isinstance(values, Tensor):
        return np.asarray(values, dtype=input._data.dtype)
    if values._data.dtype != input._data.dtype:
        raise ChainruleError(
            f"{op}: the values have dtype {values.dtype} but the tensor has dtype {input.dtype}; "
            f"they must match: convert with .to({input.dtype})")
    return values


# ---------------------------------------------------------------------------- along one dimension
def _index_tensor(op: str, index: Any) -> np.ndarray:
    """The array of an index tensor, which must hold int64 or int32 values (as in PyTorch)."""
    array = index._data if isinstance(index, Tensor) else index
    if not isinstance(array, np.ndarray):
        raise ChainruleError(f"{op}: index must be an int64 tensor, got {type(index).__name__}")
    if array.dtype not in _INTEGER_INDEX_DTYPES:
        raise ChainruleError(
            f"{op}: index must be an int64 (or int32) tensor, got dtype {array.dtype}; convert with .long()")
    return array


def _along_dim_key(index: np.ndarray, dim: int) -> Key:
    """The advanced key for which ``x[key][p] = x[p with p[dim] replaced by index[p]]``."""
    ndim = index.ndim
    key = [np.arange(n).reshape((n,) + (1,) * (ndim - 1 - d)) for d, n in enumerate(index.shape)]
    key[dim] = index
    return tuple(key) + (Ellipsis,)


def _check_index_shape(op: str, index: np.ndarray, dim: int, input: Tensor, src: Any = None) -> None:
    """gather/scatter: ``index`` has ``input``'s dimensions, is no larger than ``input`` apart from
    ``dim`` (nor than ``src``), and its values lie in ``[0, input.shape[dim])``."""
    shape = input._data.shape
    src_shape = src._data.shape if isinstance(src, Tensor) else None
    if index.ndim != len(shape) or (src_shape is not None and len(src_shape) != index.ndim):
        raise ChainruleError(
            f"{op}: index (shape {index.shape}) must have as many dimensions as the input (shape {shape})"
            + ("" if src_shape is None else f" and src (shape {src_shape})"))
    if any(n > s for d, (n, s) in enumerate(zip(index.shape, shape)) if d != dim) or (
            src_shape is not None and any(n > s for n, s in zip(index.shape, src_shape))):
        raise ChainruleError(
            f"{op}: index of shape {index.shape} must be no larger than the input {shape} apart from "
            f"dimension {dim}" + ("" if src_shape is None else f", and no larger than src {src_shape}"))
    if index.size:
        _check_bounds(op, int(index.min()), int(index.max()), dim, shape, negative=False)


def _on_1d(op: str, fn: Callable[..., Tensor], input: Tensor, dim: int, index: np.ndarray, *rest: Any) -> Tensor:
    """Run ``fn`` on a 0-d input as on a 1-element vector (PyTorch accepts 0-d tensors here)."""
    if index.size != 1:
        raise ChainruleError(f"{op}: a 0-d input takes exactly one index, got {index.size}")
    lifted = [reshape(r, (1,)) if isinstance(r, Tensor) and r._data.ndim == 0 else r for r in rest]
    return reshape(fn(reshape(input, (1,)), dim, wrap(index.reshape(1)), *lifted), ())


def gather(input: Tensor, dim: int, index: Tensor, *, sparse_grad: builtins.bool = False) -> Tensor:
    """``out[i][j] = input[index[i][j]][j]`` (for ``dim=0``; likewise for other dims): picks one element
    along ``dim`` for every position of ``index``, which has ``input``'s number of dimensions."""
    array = _index_tensor("gather", index)
    d = _check_dim("gather", dim, input._data.ndim)
    if input._data.ndim == 0:
        return _on_1d("gather", gather, input, d, array)
    _check_index_shape("gather", array, d, input)
    return Getitem.apply(input, _along_dim_key(array, d))


def _scatter_source(op: str, input: Tensor, index: np.ndarray, src: Any) -> Any:
    """``src`` cut down to the index's shape (a tensor), or a number."""
    if not isinstance(src, Tensor):
        if isinstance(src, np.ndarray):
            raise ChainruleError(f"{op}: src must be a tensor or a number, got a NumPy array")
        return src
    if src._data.dtype != input._data.dtype:
        raise ChainruleError(
            f"{op}: src has dtype {src.dtype} but the input has dtype {input.dtype}; they must match")
    if src._data.shape != index.shape:
        src = getitem(src, tuple(slice(0, n) for n in index.shape))
    return src


def _scatter_args(op: str, input: Tensor, dim: int, index: Any, src: Any) -> tuple[Key, Any]:
    array = _index_tensor(op, index)
    d = _check_dim(op, dim, input._data.ndim)
    _check_index_shape(op, array, d, input, src)
    return _along_dim_key(array, d), _scatter_source(op, input, array, src)


def scatter_add(input: Tensor, dim: int, index: Tensor, src: Tensor) -> Tensor:
    """A copy of ``input`` with ``out[index[i][j]][j] += src[i][j]`` (for ``dim=0``); repeated
    indices add up. The gradient of ``src`` is ``gather(g, dim, index)``."""
    if input._data.ndim == 0:
        return _on_1d("scatter_add", scatter_add, input, dim, _index_tensor("scatter_add", index), src)
    key, source = _scatter_args("scatter_add", input, dim, index, src)
    return IndexAdd.apply(input, key, source)


def scatter(input: Tensor, dim: int, index: Tensor, src: Any = None, *, value: Any = None,
            reduce: str | None = None) -> Tensor:
    """A copy of ``input`` with ``out[index[i][j]][j] = src[i][j]`` (for ``dim=0``); ``src`` may be a
    number (or pass ``value=``). ``reduce='add'`` adds instead, as :func:`scatter_add`."""
    src = _scatter_value(src, value)
    if reduce is not None:
        if reduce != "add":
            raise ChainruleError(f"scatter: reduce must be None or 'add', got {reduce!r}")
        if not isinstance(src, Tensor):
            src = wrap(np.full(_index_tensor("scatter", index).shape, src, input._data.dtype))
        return scatter_add(input, dim, index, src)
    if input._data.ndim == 0:
        return _on_1d("scatter", scatter, input, dim, _index_tensor("scatter", index), src)
    key, source = _scatter_args("scatter", input, dim, index, src)
    return IndexPut.apply(input, key, source)


def _scatter_value(src: Any, value: Any) -> Any:
    if (src is None) == (value is None):
        raise ChainruleError("scatter: pass exactly one of src (a tensor or a number) and value")
    return src if value is None else value


def _check_vector_index(op: str, index: np.ndarray, dim: int, input: Tensor) -> np.ndarray:
    if index.ndim > 1:
        raise ChainruleError(f"{op}: index must be a vector (0-d or 1-d), got shape {index.shape}")
    index = index.reshape(-1)
    if index.size:
        _check_bounds(op, int(index.min()), int(index.max()), dim, input._data.shape, negative=False)
    return index


def _dim_key(dim: int, index: np.ndarray) -> Key:
    return (slice(None),) * dim + (index, Ellipsis)


def index_select(input: Tensor, dim: int, index: Tensor) -> Tensor:
    """The slices of ``input`` along ``dim`` at the positions in the vector ``index`` (repeats allowed)."""
    array = _index_tensor("index_select", index)
    d = _check_dim("index_select", dim, input._data.ndim)
    if input._data.ndim == 0:
        return _on_1d("index_select", index_select, input, d, array)
    array = _check_vector_index("index_select", array, d, input)
    return Getitem.apply(input, _dim_key(d, array))


def index_add(input: Tensor, dim: int, index: Tensor, source: Tensor, *, alpha: Any = 1) -> Tensor:
    """A copy of ``input`` with ``alpha * source[..., i, ...]`` added to the slice ``index[i]`` along
    ``dim``; repeated indices add up."""
    if input._data.ndim == 0:
        return _on_1d("index_add", lambda x, d, i, s: index_add(x, d, i, s, alpha=alpha), input, dim,
                      _index_tensor("index_add", index), source)
    key, source = _index_add_args("index_add", input, dim, index, source, alpha)
    return IndexAdd.apply(input, key, source)


def _index_add_args(op: str, input: Tensor, dim: int, index: Any, source: Any, alpha: Any) -> tuple[Key, Any]:
    """The key and the (scaled) source of ``index_add``, checked as PyTorch checks them."""
    d = _check_dim(op, dim, input._data.ndim)
    array = _check_vector_index(op, _index_tensor(op, index), d, input)
    if not isinstance(source, Tensor):
        raise ChainruleError(f"{op}: source must be a tensor, got {type(source).__name__}")
    _same_dtype(op, input, source)
    expected = input._data.shape[:d] + (array.size,) + input._data.shape[d + 1:]
    if source._data.shape != expected:
        raise ChainruleError(
            f"{op}: source has shape {source._data.shape}, expected {expected}: the input's shape "
            f"{input._data.shape} with dimension {d} replaced by the number of indices ({array.size})")
    return _dim_key(d, array), (source if alpha == 1 else ew.mul(source, alpha))


def take_along_dim(input: Tensor, indices: Tensor, dim: int | None = None) -> Tensor:
    """``gather`` with broadcasting: the elements of ``input`` at ``indices`` along ``dim`` (negative
    indices count from the end); with ``dim=None`` both are flattened first."""
    array = indices._data if isinstance(indices, Tensor) else indices
    if not isinstance(array, np.ndarray) or array.dtype != np.int64:
        raise ChainruleError(
            f"take_along_dim: indices must be an int64 tensor, got "
            f"{getattr(array, 'dtype', type(array).__name__)}; convert with .long()")
    if dim is None:
        input, array, d = reshape(input, (-1,)), array.reshape(-1), 0
    else:
        if input._data.ndim == 0:
            raise ChainruleError(f"take_along_dim: a 0-d input has no dimension {dim}; pass dim=None")
        d = _check_dim("take_along_dim", dim, input._data.ndim)
        input, array = _broadcast_except(input, array, d)
    size = input._data.shape[d]
    if array.size:
        _check_bounds("take_along_dim", int(array.min()), int(array.max()), d, input._data.shape)
        array = np.where(array < 0, array + size, array)
    return Getitem.apply(input, _along_dim_key(array, d))


def _broadcast_except(input: Tensor, index: np.ndarray, dim: int) -> tuple[Tensor, np.ndarray]:
    """Broadcast ``input`` and ``index`` against each other in every dimension but ``dim``."""
    shape = input._data.shape
    if index.ndim != len(shape):
        raise ChainruleError(
            f"take_along_dim: input (shape {shape}) and indices (shape {index.shape}) must have the "
            "same number of dimensions")
    try:
        common = list(np.broadcast_shapes(shape[:dim] + (1,) + shape[dim + 1:],
                                          index.shape[:dim] + (1,) + index.shape[dim + 1:]))
    except ValueError:
        raise ChainruleError(
            f"take_along_dim: input (shape {shape}) and indices (shape {index.shape}) do not broadcast "
            f"apart from dimension {dim}") from None
    input_shape = tuple(common[:dim] + [shape[dim]] + common[dim + 1:])
    index_shape = tuple(common[:dim] + [index.shape[dim]] + common[dim + 1:])
    return (input if input_shape == shape else broadcast_to(input, input_shape),
            np.broadcast_to(index, index_shape))


# ---------------------------------------------------------------------------- masks
def _mask_array(op: str, mask: Any) -> np.ndarray:
    array = mask._data if isinstance(mask, Tensor) else np.asarray(mask)
    if array.dtype != np.bool_:
        raise ChainruleError(f"{op}: mask must be a bool tensor, got dtype {array.dtype}; use e.g. x > 0")
    return array


def masked_fill(input: Tensor, mask: Tensor, value: Any) -> Tensor:
    """``value`` where ``mask`` (a bool tensor broadcast with ``input``) is True, else ``input``;
    ``value`` is a number or a 0-d tensor (then differentiable too), converted to ``input``'s dtype."""
    cond = _mask_array("masked_fill", mask)
    value = _fill_value("masked_fill", input, value)
    try:
        np.broadcast_shapes(cond.shape, input._data.shape)
    except ValueError:
        raise ChainruleError(
            f"masked_fill: the mask of shape {cond.shape} does not broadcast with the input of shape "
            f"{input._data.shape}") from None
    return ew.Where.apply(cond, value, input)


def _fill_value(op: str, input: Tensor, value: Any) -> Tensor:
    """``value`` (a number, or a 0-d tensor that may require grad) as a 0-d tensor of ``input``'s dtype."""
    if not isinstance(value, Tensor):
        value = wrap(np.asarray(value, dtype=input._data.dtype))
    if value._data.ndim:
        raise ChainruleError(f"{op}: value must be a number or a 0-d tensor, got shape {value._data.shape}")
    return value if value._data.dtype == input._data.dtype else ew.cast(value, input._data.dtype)


def masked_select(input: Tensor, mask: Tensor) -> Tensor:
    """The elements of ``input`` where ``mask`` is True, as a 1-d tensor (both are broadcast first)."""
    cond = _mask_array("masked_select", mask)
    try:
        shape = np.broadcast_shapes(cond.shape, input._data.shape)
    except ValueError:
        raise ChainruleError(
            f"masked_select: the mask of shape {cond.shape} does not broadcast with the input of shape "
            f"{input._data.shape}") from None
    if input._data.shape != shape:
        input = broadcast_to(input, shape)
    return Getitem.apply(input, (np.broadcast_to(cond, shape), Ellipsis))


# ---------------------------------------------------------------------------- positions (no gradient)
@replayed_call  # computed on arrays: a compiled step replays the call
def nonzero(input: Any, *, as_tuple: builtins.bool = False) -> Any:
    """The indices of the non-zero elements: an int64 tensor of shape ``(n, input.ndim)``, or with
    ``as_tuple=True`` one 1-d int64 tensor per dimension (usable as an index)."""
    array = input._data if isinstance(input, Tensor) else np.asarray(input)
    if as_tuple:
        return tuple(wrap(i.astype(np.int64, copy=False)) for i in np.nonzero(np.atleast_1d(array)))
    return wrap(np.argwhere(array).astype(np.int64, copy=False))


def argwhere(input: Tensor) -> Tensor:
    """The indices of the non-zero elements, shape ``(n, input.ndim)`` (as ``nonzero``)."""
    return nonzero(input)


# ---------------------------------------------------------------------------- in place
def _scatter_add_(self: Tensor, dim: int, index: Tensor, src: Tensor) -> Tensor:
    """In-place :func:`scatter_add`."""
    key, source = _scatter_args("scatter_add_", self, dim, index, src)
    return inplace.apply_inplace("scatter_add_", self, lambda x, s: IndexAdd.apply(x, key, s), source,
                                 direct=lambda target, s: _add_at(target, key, s))


def _scatter_(self: Tensor, dim: int, index: Tensor, src: Any = None, *, value: Any = None,
              reduce: str | None = None) -> Tensor:
    """In-place :func:`scatter`."""
    src = _scatter_value(src, value)
    if reduce is not None:
        if reduce != "add":
            raise ChainruleError(f"scatter_: reduce must be None or 'add', got {reduce!r}")
        return inplace.apply_inplace("scatter_", self, lambda x, s: scatter(x, dim, index, s, reduce=reduce), src)
    key, source = _scatter_args("scatter_", self, dim, index, src)
    return inplace.apply_inplace("scatter_", self, lambda x, s: IndexPut.apply(x, key, s), source,
                                 direct=lambda target, s: put_at(target, key, s))


def _index_add_(self: Tensor, dim: int, index: Tensor, source: Tensor, *, alpha: Any = 1) -> Tensor:
    """In-place :func:`index_add`."""
    key, source = _index_add_args("index_add_", self, dim, index, source, alpha)
    return inplace.apply_inplace("index_add_", self, lambda x, s: IndexAdd.apply(x, key, s), source,
                                 direct=lambda target, s: _add_at(target, key, s))


def _index_put_(self: Tensor, indices: Any, values: Any, accumulate: builtins.bool = False) -> Tensor:
    """In-place :func:`index_put`."""
    key = normalize_key(tuple(indices), self._data.shape, "index_put_")
    write = _add_at if accumulate else put_at
    return inplace.apply_inplace("index_put_", self, lambda x, v: index_put(x, key, v, accumulate),
                                 _same_dtype("index_put_", self, values),
                                 direct=lambda target, v: write(target, key, v))


def _masked_fill_(self: Tensor, mask: Tensor, value: Any) -> Tensor:
    """In-place :func:`masked_fill`."""
    cond = _mask_array("masked_fill_", mask)
    return inplace.apply_inplace("masked_fill_", self, lambda x, v: masked_fill(x, cond, v),
                                 _fill_value("masked_fill_", self, value),
                                 direct=lambda target, v: np.copyto(target, v, where=cond))


def _take_along_axis(arr: Tensor, indices: Any, axis: int | None = -1) -> Tensor:
    if not isinstance(indices, Tensor):
        indices = wrap(np.asarray(indices, np.int64))
    return take_along_dim(arr, indices, axis)


def _numpy_nonzero(a: Tensor) -> tuple[Tensor, ...]:
    return nonzero(a, as_tuple=True)


TENSOR_METHODS: dict[str, Any] = {
    "__getitem__": getitem, "gather": gather, "scatter": scatter, "scatter_add": scatter_add,
    "index_select": index_select, "index_add": index_add, "index_put": index_put,
    "masked_fill": masked_fill, "masked_select": masked_select, "take_along_dim": take_along_dim,
    "nonzero": nonzero, "argwhere": argwhere, "scatter_": _scatter_, "scatter_add_": _scatter_add_,
    "index_add_": _index_add_, "index_put_": _index_put_, "masked_fill_": _masked_fill_,
}
NUMPY_FUNCTIONS: dict[Any, Callable[..., Any]] = {
    np.take_along_axis: _take_along_axis, np.nonzero: _numpy_nonzero, np.argwhere: argwhere,
}
