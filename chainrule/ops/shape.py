"""Shape primitives: views and rearrangements, each forward beside its vector-Jacobian product.

Operations that NumPy performs as views (reshape without a copy, transpose, expand, narrow, split,
unbind, squeeze …) return tensors that share their base's memory and version counter, so an
in-place change through one is seen (and checked) through the others. Operations that PyTorch
performs as copies (flip, roll, repeat, cat, pad …) copy here too.

The primitives come in adjoint pairs, so that each rule is the other's forward and second
derivatives come for free: reshape ↔ reshape, permute ↔ permute, expand ↔ sum, cat ↔ split,
stack ↔ unbind, flip ↔ flip, roll ↔ roll, constant pad ↔ crop (a pad with negative widths).
Everything else (squeeze, flatten, movedim, repeat, chunk, narrow, reflect padding …) is a
composition of these.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from chainrule import dtype as dtypes
from chainrule.autograd.function import Primitive, run_primitive
from chainrule.errors import ChainruleError
from chainrule.ops.reduce import normalize_dims
from chainrule.tensor import Tensor, _check_dim, wrap


def share_memory_state(out: Tensor, base: Tensor) -> Tensor:
    """Make ``out`` a view of ``base`` if it shares its memory: the same version counter, and
    ``_base`` for in-place checks.

    ``out`` is either a view of ``base`` or a fresh copy, so overlapping memory bounds (a cheap test)
    tell the two apart.
    """
    if out._data.size and np.may_share_memory(out._data, base._data):
        _mark_views((out,), base)
    return out


def _mark_views(outs: Sequence[Tensor], base: Tensor) -> None:
    """Make each of ``outs`` (known to be views of ``base``) share its version counter and base."""
    counter = base._shared_version_counter()
    root = base if base._extra is None or base._extra.base is None else base._extra.base
    for out in outs:
        out._vc = counter
        out._extra_state().base = root


def _as_view(out: Tensor, base: Tensor) -> Tensor:
    _mark_views((out,), base)
    return out


def _shape_arg(shape: Sequence[Any]) -> tuple[int, ...]:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = shape[0]
    return tuple(map(int, shape))


def _shape(t: Tensor) -> tuple[int, ...]:
    return tuple(t._data.shape)


# ---------------------------------------------------------------------------- primitives
class Reshape(Primitive):
    @staticmethod
    def forward(ctx, x, shape):
        ctx.shape = x.shape
        return x.reshape(shape)

    @staticmethod
    def backward(ctx, g):  # reshaping only moves values: reshape the gradient back
        return g.reshape(ctx.shape), None


class View(Reshape):
    """Reshape that never copies; :func:`view` turns NumPy's refusal into PyTorch's error."""

    @staticmethod
    def forward(ctx, x, shape):
        ctx.shape = x.shape
        out = x.reshape(shape)
        if out.size and not np.may_share_memory(out, x):
            raise ValueError("a copy would be needed")
        return out


class Permute(Primitive):
    @staticmethod
    def forward(ctx, x, axes):
        return x.transpose(axes)

    @staticmethod
    def backward(ctx, g):  # undo the permutation
        axes = ctx.inputs[1]
        return np.transpose(g, tuple(sorted(range(len(axes)), key=axes.__getitem__))), None


class Expand(Primitive):
    @staticmethod
    def forward(ctx, x, shape):
        ctx.shape = x.shape
        return np.broadcast_to(x, shape)

    @staticmethod
    def backward(ctx, g):  # each input element was copied: sum the copies' gradients
        from chainrule.autograd.engine import sum_to_shape

        return sum_to_shape(g, ctx.shape), None


class Copy(Primitive):
    @staticmethod
    def forward(ctx, x):
        return x.copy()

    @staticmethod
    def backward(ctx, g):  # d(copy x)/dx = I
        return (g,)


class Flip(Primitive):
    @staticmethod
    def forward(ctx, x, axes):
        return np.flip(x, axes).copy()

    @staticmethod
    def backward(ctx, g):  # flipping is its own inverse
        return np.flip(g, ctx.inputs[1]), None


class Roll(Primitive):
    @staticmethod
    def forward(ctx, x, shifts, axes):
        return np.roll(x, shifts, axes)

    @staticmethod
    def backward(ctx, g):  # roll back by the opposite shifts
        return np.roll(g, tuple(-s for s in ctx.inputs[1]), ctx.inputs[2]), None, None


class ConstantPad(Primitive):
    @staticmethod
    def forward(ctx, x, widths, value):
        # widths: (before, after) for every dimension; negative widths crop (a view), positive pad
        if any(b < 0 or a < 0 for b, a in widths):
            x = x[tuple(slice(max(-b, 0), s - max(-a, 0)) for (b, a), s in zip(widths, x.shape))]
        if not any(b > 0 or a > 0 for b, a in widths):
            return x
        shape = tuple(s + max(b, 0) + max(a, 0) for (b, a), s in zip(widths, x.shape))
        out = np.zeros(shape, x.dtype) if value == 0 else np.full(shape, value, x.dtype)
        out[tuple(slice(max(b, 0), max(b, 0) + s) for (b, _), s in zip(widths, x.shape))] = x
        return out

    @staticmethod
    def backward(ctx, g):  # padding places x inside a frame: crop the frame off (and zero-fill the crops)
        return run_primitive(ConstantPad, g, tuple((-b, -a) for b, a in ctx.inputs[1]), 0), None, None


class Cat(Primitive):
    @staticmethod
    def forward(ctx, axis, *xs):
        out = np.concatenate(xs, axis)
        ctx.axis = axis % out.ndim
        return out

    @staticmethod
    def backward(ctx, g):  # each input gets back its own slab of the gradient
        axis = ctx.axis
        return (None, *run_primitive(Split, g, tuple(x.shape[axis] for x in ctx.inputs[1:]), axis))


class Split(Primitive):
    @staticmethod
    def forward(ctx, x, sizes, axis):
        # consecutive slabs of ``sizes[i]`` entries along ``axis``, as views
        lead = (slice(None),) * axis
        pieces = []
        start = 0
        for size in sizes:
            pieces.append(x[lead + (slice(start, start + size),)])
            start += size
        return tuple(pieces)

    @staticmethod
    def backward(ctx, *gs):  # the slabs' gradients side by side again
        return np.concatenate(gs, axis=ctx.inputs[2]), None, None


class Stack(Primitive):
    @staticmethod
    def forward(ctx, axis, *xs):
        out = np.stack(xs, axis)
        ctx.axis = axis % out.ndim
        return out

    @staticmethod
    def backward(ctx, g):  # input i gets slice i of the gradient along the new axis
        return (None, *run_primitive(Unbind, g, ctx.axis))


class Unbind(Primitive):
    @staticmethod
    def forward(ctx, x, axis):
        lead = (slice(None),) * axis
        return tuple(x[lead + (i,)] for i in range(x.shape[axis]))

    @staticmethod
    def backward(ctx, *gs):  # the slices' gradients stacked along the removed axis
        return np.stack(gs, axis=ctx.inputs[1]), None


# ---------------------------------------------------------------------------- views
def _view(input: Tensor, shape: tuple[int, ...]) -> Tensor:
    """Reshape to a valid shape that needs no copy (size-1 dimensions added, removed, or one
    dimension split)."""
    return _as_view(Reshape.apply(input, shape), input)


def _resolve_shape(op: str, input: Tensor, target: tuple[int, ...]) -> tuple[int, ...]:
    size = input._data.size
    if -1 in target:
        known = math.prod(s for s in target if s != -1)
        valid = target.count(-1) == 1 and min(target) == -1 and known > 0 and size % known == 0
    else:
        valid = math.prod(target) == size and (not target or min(target) >= 0)
    if not valid:
        raise ChainruleError(
            f"{op}: cannot reshape a tensor of shape {_shape(input)} ({size} elements) into shape "
            f"{target}")
    return target


def reshape(input: Tensor, *args: Any, shape: Sequence[int] | None = None) -> Tensor:
    """The same elements in a new shape (one size may be -1); a view when no copy is needed."""
    target = _resolve_shape("reshape", input, _shape_arg(args if shape is None else (shape,)))
    return share_memory_state(Reshape.apply(input, target), input)


def view(input: Tensor, *shape: Any) -> Tensor:
    """The same memory seen with a new shape (one size may be -1), as ``Tensor.view``.

    Raises when the strides make that impossible without a copy (e.g. after a transpose); use
    :func:`reshape`, which copies in that case.
    """
    target = _resolve_shape("view", input, _shape_arg(shape))
    try:
        out = View.apply(input, target)
    except ValueError:  # NumPy would need a copy
        raise ChainruleError(
            f"view: view size is not compatible with input tensor's size and stride (shape "
            f"{_shape(input)}, strides {input._data.strides} bytes, target {target}): at least one "
            "dimension spans across two contiguous subspaces. Use .reshape(...) instead") from None
    return _as_view(out, input)


def flatten(input: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge dimensions ``start_dim`` … ``end_dim`` into one (a 0-d tensor becomes 1-d)."""
    shape = input._data.shape
    if not shape:
        return _view(input, (1,))
    start = _check_dim("flatten", start_dim, len(shape))
    end = _check_dim("flatten", end_dim, len(shape))
    if start > end:
        raise ChainruleError(
            f"flatten: start_dim ({start_dim}) cannot come after end_dim ({end_dim}) for a tensor of "
            f"shape {tuple(shape)}")
    if start == end:
        return input
    merged = shape[:start] + (math.prod(shape[start:end + 1]),) + shape[end + 1:]
    return share_memory_state(Reshape.apply(input, merged), input)


def unflatten(input: Tensor, dim: int, sizes: Sequence[int]) -> Tensor:
    """Split dimension ``dim`` into ``sizes`` (one may be -1), the inverse of :func:`flatten`."""
    shape = input._data.shape
    if not shape:
        raise ChainruleError("unflatten: cannot unflatten a zero-dimensional tensor")
    d = _check_dim("unflatten", dim, len(shape))
    sizes = tuple(int(s) for s in sizes)
    known = math.prod(s for s in sizes if s != -1)
    n = shape[d]
    if not sizes or sizes.count(-1) > 1 or (-1 in sizes and (known == 0 or n % known)) or (
            -1 not in sizes and known != n):
        raise ChainruleError(
            f"unflatten: sizes {list(sizes)} do not multiply to the size {n} of dimension {dim} of a "
            f"tensor of shape {tuple(shape)}")
    if -1 in sizes:
        sizes = tuple(n // known if s == -1 else s for s in sizes)
    return _view(input, shape[:d] + sizes + shape[d + 1:])


def squeeze(input: Tensor, dim: int | Sequence[int] | None = None) -> Tensor:
    """Remove dimensions of size 1 (all of them, or those in ``dim``; other sizes are left alone)."""
    shape = input._data.shape
    dims = normalize_dims("squeeze", dim, len(shape))
    if dims is None:
        new = tuple(s for s in shape if s != 1)
    else:
        new = tuple(s for i, s in enumerate(shape) if s != 1 or i not in dims)
    return _view(input, new)


def unsqueeze(input: Tensor, dim: int) -> Tensor:
    """Insert a dimension of size 1 at position ``dim`` (negative counts from the new end)."""
    shape = input._data.shape
    d = _check_dim("unsqueeze", dim, len(shape) + 1)
    return _view(input, shape[:d] + (1,) + shape[d:])


def view_as(input: Tensor, other: Tensor) -> Tensor:
    """``input.view(other.shape)``."""
    return view(input, _shape(other))


def reshape_as(input: Tensor, other: Tensor) -> Tensor:
    """``input.reshape(other.shape)``."""
    return reshape(input, _shape(other))


def permute(input: Tensor, *args: Any, dims: Sequence[int] | None = None) -> Tensor:
    """Reorder the dimensions (a view)."""
    axes = _shape_arg(args if dims is None else (dims,))
    ndim = input._data.ndim
    normalized = tuple(a + ndim if a < 0 else a for a in axes)
    if sorted(normalized) != list(range(ndim)):
        raise ChainruleError(
            f"permute: {list(axes)} is not a permutation of the {ndim} dimensions of a tensor "
            f"of shape {_shape(input)}")
    return _as_view(Permute.apply(input, normalized), input)


def transpose(input: Tensor, dim0: int, dim1: int) -> Tensor:
    """Swap two dimensions (a view)."""
    ndim = input._data.ndim
    d0, d1 = _check_dim("transpose", dim0, ndim), _check_dim("transpose", dim1, ndim)
    if ndim < 2:
        return input
    axes = list(range(ndim))
    axes[d0], axes[d1] = axes[d1], axes[d0]
    return _as_view(Permute.apply(input, tuple(axes)), input)


swapaxes = swapdims = transpose


def t(input: Tensor) -> Tensor:
    """Transpose a matrix; tensors with fewer than 2 dimensions are returned as they are."""
    if input._data.ndim > 2:
        raise ChainruleError(
            f"t: expects a tensor with at most 2 dimensions, got shape {_shape(input)}; use "
            ".transpose(dim0, dim1) or .mT")
    return transpose(input, 0, -1) if input._data.ndim == 2 else input


def movedim(input: Tensor, source: int | Sequence[int], destination: int | Sequence[int]) -> Tensor:
    """Move dimension(s) ``source`` to position(s) ``destination``, keeping the others in order."""
    ndim = input._data.ndim
    src = (source,) if isinstance(source, (int, np.integer)) else tuple(source)
    dst = (destination,) if isinstance(destination, (int, np.integer)) else tuple(destination)
    if len(src) != len(dst):
        raise ChainruleError(
            f"movedim: source {list(src)} and destination {list(dst)} must have the same length")
    src = tuple(_check_dim("movedim", d, ndim) for d in src)
    dst = tuple(_check_dim("movedim", d, ndim) for d in dst)
    if len(set(src)) != len(src) or len(set(dst)) != len(dst):
        raise ChainruleError(f"movedim: repeated dimension in source {list(src)} or destination {list(dst)}")
    order = [d for d in range(ndim) if d not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return permute(input, order) if ndim else input


moveaxis = movedim


def broadcast_to(input: Tensor, *shape: Any) -> Tensor:
    """``input`` repeated along size-1 (or new leading) dimensions to ``shape``: a read-only view.

    A size of -1 keeps that dimension's size.
    """
    target = _shape_arg(shape)
    source = input._data.shape
    lead = len(target) - len(source)
    if lead < 0:
        raise ChainruleError(
            f"expand: cannot expand shape {tuple(source)} to {target}: the target has fewer dimensions")
    resolved = list(target)
    for i, size in enumerate(target):
        s = source[i - lead] if i >= lead else None
        if size == -1 and s is not None:
            resolved[i] = s
        elif size < 0 or (s is not None and s != 1 and s != size):
            where = "a new leading dimension" if s is None else f"size {s}, which is not 1"
            raise ChainruleError(
                f"expand: cannot expand shape {tuple(source)} to {target}: dimension {i} has {where}, "
                f"and the target size there is {size}")
    out = _as_view(Expand.apply(input, tuple(resolved)), input)
    out._extra.view_of_expand = True
    return out


expand = broadcast_to


def expand_as(input: Tensor, other: Tensor) -> Tensor:
    """``input.expand(other.shape)``."""
    return broadcast_to(input, _shape(other))


def narrow(input: Tensor, dim: int, start: int | Tensor, length: int) -> Tensor:
    """Entries ``start`` … ``start + length - 1`` of dimension ``dim`` (a view).

    A crop is a constant pad with negative widths, so narrow shares :class:`ConstantPad` (whose VJP
    zero-pads the gradient back to the input's shape).
    """
    shape = input._data.shape
    if not shape:
        raise ChainruleError("narrow: cannot be applied to a zero-dimensional tensor")
    d = _check_dim("narrow", dim, len(shape))
    n = shape[d]
    begin = int(start) + n if int(start) < 0 else int(start)
    if not (0 <= begin <= n and 0 <= length <= n - begin):
        raise ChainruleError(
            f"narrow: start {start} and length {length} are out of range for dimension {dim} of size "
            f"{n} (shape {tuple(shape)}); need 0 <= start and start + length <= {n}")
    widths = tuple((-begin, begin + length - n) if i == d else (0, 0) for i in range(len(shape)))
    return _as_view(ConstantPad.apply(input, widths, 0), input)


# ---------------------------------------------------------------------------- copies
def clone(input: Tensor, *, memory_format: Any = None) -> Tensor:
    """A differentiable copy with its own memory."""
    return Copy.apply(input)


def contiguous(input: Tensor, memory_format: Any = None) -> Tensor:
    """``input`` itself when its memory is C-contiguous, else a differentiable C-contiguous copy."""
    return input if input._data.flags.c_contiguous else Copy.apply(input)


def is_contiguous(input: Tensor, memory_format: Any = None) -> bool:
    """Whether the memory is laid out in C (row-major) order without gaps."""
    return bool(input._data.flags.c_contiguous)


def flip(input: Tensor, *args: Any, dims: int | Sequence[int] | None = None) -> Tensor:
    """Reverse the order of entries along ``dims`` (ints, or one tuple of ints); a copy."""
    if dims is not None:
        args = (dims,) if isinstance(dims, (int, np.integer)) else tuple(dims)
    axes = normalize_dims("flip", _shape_arg(args), input._data.ndim)
    return Flip.apply(input, axes) if axes else clone(input)


def roll(input: Tensor, shifts: int | Sequence[int], dims: int | Sequence[int] | None = None) -> Tensor:
    """Shift entries cyclically by ``shifts`` along ``dims`` (all entries, flattened, if None)."""
    shift = (shifts,) if isinstance(shifts, (int, np.integer)) else tuple(shifts)
    if dims is None:
        if len(shift) != 1:
            raise ChainruleError(f"roll: without dims, shifts must be a single int, got {list(shift)}")
        return _view(roll(flatten(input), shift, 0), _shape(input))
    axes = (dims,) if isinstance(dims, (int, np.integer)) else tuple(dims)
    if len(shift) != len(axes):
        raise ChainruleError(
            f"roll: shifts {list(shift)} and dims {list(axes)} must have the same length")
    ndim = input._data.ndim
    return Roll.apply(input, tuple(int(s) for s in shift), tuple(_check_dim("roll", d, ndim) for d in axes))


def repeat(input: Tensor, *sizes: Any) -> Tensor:
    """Tile ``input`` ``sizes[i]`` times along each dimension (``numpy.tile``), as ``Tensor.repeat``.

    There must be at least as many sizes as dimensions; extra sizes add leading dimensions. Built as
    reshape → expand → reshape, so the VJP sums the copies.
    """
    reps = _shape_arg(sizes)
    shape = input._data.shape
    if len(reps) < len(shape) or any(r < 0 for r in reps):
        raise ChainruleError(
            f"repeat: got {len(reps)} repeat sizes {list(reps)} for a tensor of shape {tuple(shape)}; "
            "give one non-negative size per dimension (more add leading dimensions)")
    shape = (1,) * (len(reps) - len(shape)) + tuple(shape)
    if all(r == 1 for r in reps):
        return Copy.apply(Reshape.apply(input, shape))
    pairs = tuple(p for s in shape for p in (1, s))
    tiled = Expand.apply(Reshape.apply(input, pairs), tuple(p for r, s in zip(reps, shape) for p in (r, s)))
    return Reshape.apply(tiled, tuple(r * s for r, s in zip(reps, shape)))


def tile(input: Tensor, *dims: Any) -> Tensor:
    """``numpy.tile``: like :func:`repeat`, but fewer sizes than dimensions are padded with 1s."""
    reps = _shape_arg(dims)
    return repeat(input, (1,) * (input._data.ndim - len(reps)) + reps)


# ---------------------------------------------------------------------------- several tensors
def _tensor_list(op: str, tensors: Sequence[Any]) -> tuple[Tensor, ...]:
    """The inputs as tensors of one dtype (promoted as PyTorch does)."""
    if isinstance(tensors, Tensor):
        raise ChainruleError(f"{op}: expected a sequence of tensors, got a single tensor; wrap it in a list")
    ts = tuple(t if isinstance(t, Tensor) else wrap(np.asarray(t)) for t in tensors)
    if not ts:
        raise ChainruleError(f"{op}: expected a non-empty sequence of tensors")
    first = ts[0]._data.dtype
    if any(t._data.dtype != first for t in ts):
        common = dtypes.from_numpy_dtype(first)
        for t in ts[1:]:
            common = dtypes.promote_types(common, t.dtype)
        ts = tuple(t.to(common) for t in ts)
    return ts


def cat(tensors: Sequence[Tensor], dim: int = 0, *, axis: int | None = None) -> Tensor:
    """Join tensors along an existing dimension; all other sizes must match.

    As in PyTorch, 1-D empty tensors (shape ``(0,)``) are skipped when the others have other shapes.
    """
    ts = _tensor_list("cat", tensors)
    dim = dim if axis is None else axis
    try:
        return Cat.apply(dim, *ts)
    except ValueError:
        pass
    kept = tuple(t for t in ts if t._data.shape != (0,))
    if kept and len(kept) < len(ts):
        return cat(kept, dim)
    raise _join_error("cat", ts, dim, new_dim=False)


concat = concatenate = cat


def stack(tensors: Sequence[Tensor], dim: int = 0, *, axis: int | None = None) -> Tensor:
    """Join tensors of equal shape along a new dimension ``dim``."""
    ts = _tensor_list("stack", tensors)
    dim = dim if axis is None else axis
    try:
        return Stack.apply(dim, *ts)
    except ValueError:
        raise _join_error("stack", ts, dim, new_dim=True) from None


def _join_error(op: str, ts: tuple[Tensor, ...], dim: int, new_dim: bool) -> ChainruleError:
    """Say why ``ts`` cannot be joined along ``dim`` (called only once NumPy has refused)."""
    first = _shape(ts[0])
    ndim = len(first) + new_dim
    if not new_dim and not first:
        return ChainruleError(f"{op}: zero-dimensional tensors cannot be concatenated; use stack, or reshape(1) first")
    if not -ndim <= dim < ndim:
        return ChainruleError(
            f"{op}: dimension {dim} is out of range for tensors of shape {first} (expected a value in "
            f"[{-ndim}, {ndim - 1}])")
    for t in ts[1:]:
        shape = _shape(t)
        if new_dim and shape != first:
            return ChainruleError(f"{op}: expects each tensor to be equal size; got {first} and {shape}")
        if len(shape) != len(first):
            return ChainruleError(
                f"{op}: tensors must have the same number of dimensions; got {first} and {shape}")
        d = dim % ndim
        if shape[:d] + shape[d + 1:] != first[:d] + first[d + 1:]:
            return ChainruleError(
                f"{op}: tensors must have the same shape except in dimension {dim}; got {first} and {shape}")
    return ChainruleError(f"{op}: cannot join tensors of shapes {[_shape(t) for t in ts]} along dimension {dim}")


def split(tensor: Tensor, split_size_or_sections: int | Sequence[int], dim: int = 0) -> tuple[Tensor, ...]:
    """Cut ``tensor`` along ``dim`` into pieces of ``split_size`` entries (the last may be smaller),
    or of the given list of sizes; the pieces are views."""
    shape = tensor._data.shape
    if not shape:
        raise ChainruleError("split: cannot split a zero-dimensional tensor")
    d = _check_dim("split", dim, len(shape))
    n = shape[d]
    if isinstance(split_size_or_sections, (int, np.integer)):
        size = int(split_size_or_sections)
        if size < 0 or (size == 0 and n):
            raise ChainruleError(
                f"split: split_size must be positive (0 only for an empty dimension), got {size} for "
                f"dimension {dim} of size {n}")
        sizes = (size,) * (n // size) + ((n % size,) if n % size else ()) if n else (0,)
    else:
        sizes = tuple(int(s) for s in split_size_or_sections)
        if sum(sizes) != n or any(s < 0 for s in sizes):
            raise ChainruleError(
                f"split: sections {list(sizes)} must be non-negative and sum to the size {n} of "
                f"dimension {dim} (shape {tuple(shape)})")
    pieces = Split.apply(tensor, sizes, d)
    _mark_views(pieces, tensor)
    return pieces


def chunk(input: Tensor, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
    """Cut ``input`` into ``chunks`` pieces of ``ceil(size / chunks)`` entries along ``dim`` (fewer
    pieces when the size runs out); the pieces are views."""
    shape = input._data.shape
    if chunks <= 0 or not shape:
        raise ChainruleError(
            f"chunk: needs a positive number of chunks and a tensor with dimensions, got {chunks} chunks "
            f"of a tensor of shape {tuple(shape)}")
    n = shape[_check_dim("chunk", dim, len(shape))]
    if n == 0:
        return split(input, (0,) * chunks, dim)
    return split(input, -(-n // chunks), dim)


def unbind(input: Tensor, dim: int = 0) -> tuple[Tensor, ...]:
    """The slices of ``input`` along ``dim`` (removing it), as views."""
    shape = input._data.shape
    if not shape:
        raise ChainruleError("unbind: cannot unbind a zero-dimensional tensor")
    d = _check_dim("unbind", dim, len(shape))
    slices = Unbind.apply(input, d)
    _mark_views(slices, input)
    return slices


# ---------------------------------------------------------------------------- padding
_PAD_MODES = ("constant", "reflect", "replicate", "circular")


def pad(input: Tensor, pad: Sequence[int], mode: str = "constant", value: float | None = None) -> Tensor:
    """Pad (or, with negative sizes, crop) the last dimensions, as ``torch.nn.functional.pad``.

    ``pad`` lists ``(before, after)`` sizes from the last dimension backwards:
    ``(left, right, top, bottom, …)``. Modes: ``'constant'`` (fill with ``value``, default 0),
    ``'reflect'`` (mirror without repeating the edge), ``'replicate'`` (repeat the edge) and
    ``'circular'`` (wrap around).
    """
    sizes = tuple(int(p) for p in pad)
    shape = input._data.shape
    if len(sizes) % 2 or len(sizes) // 2 > len(shape):
        raise ChainruleError(
            f"pad: the padding {list(sizes)} must have an even length of at most 2 × {len(shape)} "
            f"(two sizes per padded dimension) for a tensor of shape {tuple(shape)}")
    if mode not in _PAD_MODES:
        raise ChainruleError(f"pad: mode must be one of {', '.join(_PAD_MODES)}; got {mode!r}")
    k = len(sizes) // 2
    widths = ((0, 0),) * (len(shape) - k) + tuple((sizes[2 * i], sizes[2 * i + 1]) for i in reversed(range(k)))
    if any(s + b + a < 0 for s, (b, a) in zip(shape, widths)):
        raise ChainruleError(
            f"pad: the padding {list(sizes)} crops more than a tensor of shape {tuple(shape)} holds")
    if mode == "constant":
        out = ConstantPad.apply(input, widths, 0 if value is None else value)
    elif value is not None:
        raise ChainruleError(f"pad: mode {mode!r} does not take a value; pass value only with mode='constant'")
    else:
        cropped = tuple((min(b, 0), min(a, 0)) for b, a in widths)
        out = ConstantPad.apply(input, cropped, 0) if any(b or a for b, a in cropped) else input
        for d, (b, a) in enumerate(widths):
            if b > 0 or a > 0:
                out = _pad_edges(out, d, max(b, 0), max(a, 0), mode)
    # as in PyTorch the result has its own memory, also when nothing was added (a pure crop)
    return out if any(b > 0 or a > 0 for b, a in widths) else Copy.apply(out)


def _pad_edges(x: Tensor, d: int, before: int, after: int, mode: str) -> Tensor:
    """Pad dimension ``d`` by copying entries of ``x`` itself: narrow, flip, expand and cat."""
    n = x._data.shape[d]
    need = 1 if mode == "replicate" else max(before, after) + (mode == "reflect")
    if n < need:
        raise ChainruleError(
            f"pad: {mode} padding of ({before}, {after}) needs at least {need} entries in dimension "
            f"{d}, but the (cropped) tensor has shape {_shape(x)}")
    if mode == "reflect":
        parts = [flip(narrow(x, d, 1, before), d), x, flip(narrow(x, d, n - 1 - after, after), d)]
    elif mode == "replicate":
        shape = x._data.shape
        parts = [expand(narrow(x, d, 0, 1), shape[:d] + (before,) + shape[d + 1:]), x,
                 expand(narrow(x, d, n - 1, 1), shape[:d] + (after,) + shape[d + 1:])]
    else:
        parts = [narrow(x, d, n - before, before), x, narrow(x, d, 0, after)]
    return cat(parts, d)


# ---------------------------------------------------------------------------- Tensor methods, NumPy
def _numpy_transpose(a: Tensor, axes: Any = None) -> Tensor:
    return permute(a, tuple(reversed(range(a.ndim))) if axes is None else axes)


def _numpy_reshape(a: Tensor, shape: Any = None, order: str = "C", **kwargs: Any) -> Tensor:
    return reshape(a, kwargs.get("newshape", shape))


def _numpy_concatenate(arrays: Sequence[Any], axis: int | None = 0, **kwargs: Any) -> Tensor:
    if axis is None:
        return cat([flatten(t if isinstance(t, Tensor) else wrap(np.asarray(t))) for t in arrays])
    return cat(arrays, axis)


def _numpy_stack(arrays: Sequence[Any], axis: int = 0, **kwargs: Any) -> Tensor:
    return stack(arrays, axis)


def _numpy_expand_dims(a: Tensor, axis: int | Sequence[int]) -> Tensor:
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    shape = list(a.shape)
    for d in normalize_dims("expand_dims", axes, a.ndim + len(axes)) or ():
        shape.insert(d, 1)
    return _view(a, tuple(shape))


def _numpy_flip(m: Tensor, axis: int | Sequence[int] | None = None) -> Tensor:
    return flip(m, tuple(range(m.ndim)) if axis is None else axis)


def _numpy_split(ary: Tensor, indices_or_sections: int | Sequence[int], axis: int = 0) -> list[Tensor]:
    n = ary.shape[axis]
    if isinstance(indices_or_sections, (int, np.integer)):
        if n % indices_or_sections:
            raise ChainruleError(
                f"numpy.split: {indices_or_sections} sections do not divide dimension {axis} of size {n}")
        return list(split(ary, n // indices_or_sections if n else 0, axis))
    bounds = [0] + [min(max(int(i), 0), n) for i in indices_or_sections] + [n]
    return list(split(ary, [max(b - a, 0) for a, b in zip(bounds, bounds[1:])], axis))


def _numpy_pad(array: Tensor, pad_width: Any, mode: str = "constant", constant_values: float = 0) -> Tensor:
    widths = np.broadcast_to(np.asarray(pad_width, dtype=int), (array.ndim, 2))
    torch_mode = {"constant": "constant", "reflect": "reflect", "edge": "replicate", "wrap": "circular"}.get(mode)
    if torch_mode is None:
        raise ChainruleError(f"numpy.pad: mode {mode!r} has no differentiable chainrule counterpart; "
                             "use constant, reflect, edge or wrap")
    sizes = [int(w) for b, a in reversed(widths.tolist()) for w in (b, a)]
    return pad(array, sizes, torch_mode, constant_values if torch_mode == "constant" else None)


def _numpy_ravel(a: Tensor, order: str = "C") -> Tensor:
    return flatten(a)


def _numpy_squeeze(a: Tensor, axis: int | Sequence[int] | None = None) -> Tensor:
    return squeeze(a, axis)


def _numpy_roll(a: Tensor, shift: int | Sequence[int], axis: int | Sequence[int] | None = None) -> Tensor:
    return roll(a, shift, axis)


def _numpy_swapaxes(a: Tensor, axis1: int, axis2: int) -> Tensor:
    return transpose(a, axis1, axis2)


def _numpy_unstack(x: Tensor, *, axis: int = 0) -> tuple[Tensor, ...]:
    return unbind(x, axis)


def _numpy_copy(a: Tensor, order: str = "K", subok: bool = False) -> Tensor:
    return clone(a)


TENSOR_METHODS = {
    "reshape": reshape, "view": view, "view_as": view_as, "reshape_as": reshape_as,
    "flatten": flatten, "ravel": flatten, "unflatten": unflatten, "squeeze": squeeze,
    "unsqueeze": unsqueeze, "permute": permute, "transpose": transpose, "swapaxes": transpose,
    "swapdims": transpose, "t": t, "movedim": movedim, "moveaxis": movedim,
    "T": property(lambda self: _numpy_transpose(self)), "mT": property(lambda self: transpose(self, -2, -1)),
    "expand": expand, "broadcast_to": broadcast_to, "expand_as": expand_as, "narrow": narrow,
    "clone": clone, "contiguous": contiguous, "is_contiguous": is_contiguous, "flip": flip, "roll": roll,
    "repeat": repeat, "tile": tile, "split": split, "chunk": chunk, "unbind": unbind,
}
NUMPY_FUNCTIONS = {
    np.broadcast_to: broadcast_to, np.transpose: _numpy_transpose, np.swapaxes: _numpy_swapaxes,
    np.reshape: _numpy_reshape, np.concatenate: _numpy_concatenate, np.concat: _numpy_concatenate,
    np.stack: _numpy_stack, np.expand_dims: _numpy_expand_dims, np.squeeze: _numpy_squeeze,
    np.flip: _numpy_flip, np.roll: _numpy_roll, np.tile: tile, np.moveaxis: movedim, np.pad: _numpy_pad,
    np.split: _numpy_split, np.ravel: _numpy_ravel, np.copy: _numpy_copy,
}
if hasattr(np, "unstack"):  # NumPy >= 2.1
    NUMPY_FUNCTIONS[np.unstack] = _numpy_unstack
