"""Shape primitives: views and rearrangements, each forward beside its vector-Jacobian product.

Operations that NumPy performs as views (reshape without a copy, transpose, expand) return tensors
that share their base's memory and version counter, so an in-place change through one is seen (and
checked) through the others.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from chainrule.autograd.function import Primitive
from chainrule.errors import ChainruleError
from chainrule.tensor import Tensor


def share_memory_state(out: Tensor, base: Tensor) -> Tensor:
    """Make ``out`` a view of ``base``: the same version counter, and ``_base`` for in-place checks."""
    if np.shares_memory(out._data, base._data) if out._data.size else False:
        out._vc = base._shared_version_counter()
        extra = out._extra_state()
        extra.base = base if base._extra is None or base._extra.base is None else base._extra.base
    return out


def _shape_arg(shape: Sequence[Any]) -> tuple[int, ...]:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = shape[0]
    return tuple(int(s) for s in shape)


class Reshape(Primitive):
    @staticmethod
    def forward(ctx, x, shape):
        ctx.shape = x.shape
        return x.reshape(shape)

    @staticmethod
    def backward(ctx, g):  # reshaping only moves values: reshape the gradient back
        return g.reshape(ctx.shape), None


class Permute(Primitive):
    @staticmethod
    def forward(ctx, x, axes):
        ctx.axes = axes
        return np.transpose(x, axes)

    @staticmethod
    def backward(ctx, g):  # undo the permutation
        return np.transpose(g, tuple(np.argsort(ctx.axes))), None


class Expand(Primitive):
    @staticmethod
    def forward(ctx, x, shape):
        ctx.shape = x.shape
        return np.broadcast_to(x, shape)

    @staticmethod
    def backward(ctx, g):  # each input element was copied: sum the copies' gradients
        from chainrule.autograd.engine import sum_to_shape

        return sum_to_shape(g, ctx.shape), None


def broadcast_to(input: Tensor, *shape: Any) -> Tensor:
    """``input`` repeated along size-1 (or new leading) dimensions to ``shape``: a read-only view."""
    target = _shape_arg(shape)
    source = input._data.shape
    lead = len(target) - len(source)
    if lead < 0:
        raise ChainruleError(f"expand: cannot expand shape {source} to {target}: the target has fewer dimensions")
    resolved = list(target)
    for i, s in enumerate(source):
        t = target[lead + i]
        if t == -1:
            resolved[lead + i] = s
        elif s != 1 and s != t:
            raise ChainruleError(
                f"expand: cannot expand shape {source} to {target}: dimension {lead + i} has size "
                f"{s}, which is not 1 and differs from {t}")
    out = Expand.apply(input, tuple(resolved))
    share_memory_state(out, input)
    if out._extra is not None:
        out._extra.view_of_expand = True
    return out


expand = broadcast_to


def reshape(input: Tensor, *shape: Any) -> Tensor:
    """The same elements in a new shape (one size may be -1); a view when no copy is needed."""
    target = _shape_arg(shape)
    size = input._data.size
    known = int(np.prod([s for s in target if s != -1])) if target else 1
    if target.count(-1) > 1 or (-1 in target and (known == 0 or size % known)) or (
            -1 not in target and known != size):
        raise ChainruleError(
            f"reshape: cannot reshape a tensor of shape {tuple(input._data.shape)} ({size} elements) "
            f"into shape {target}")
    return share_memory_state(Reshape.apply(input, target), input)


def permute(input: Tensor, *dims: Any) -> Tensor:
    """Reorder the dimensions (a view)."""
    axes = _shape_arg(dims)
    ndim = input._data.ndim
    if sorted(a % ndim if ndim else a for a in axes) != list(range(ndim)):
        raise ChainruleError(
            f"permute: {list(axes)} is not a permutation of the {ndim} dimensions of a tensor "
            f"of shape {tuple(input._data.shape)}")
    return share_memory_state(Permute.apply(input, tuple(a % ndim for a in axes)), input)


def transpose(input: Tensor, dim0: int, dim1: int) -> Tensor:
    """Swap two dimensions (a view)."""
    ndim = input._data.ndim
    if ndim < 2 and dim0 in (0, -1) and dim1 in (0, -1):
        return input
    axes = list(range(ndim))
    for d in (dim0, dim1):
        if not -ndim <= d < ndim:
            raise ChainruleError(
                f"transpose: dimension {d} is out of range for a tensor with {ndim} dimensions")
    axes[dim0], axes[dim1] = axes[dim1], axes[dim0]
    return permute(input, axes)


def _reshape_method(self: Tensor, *shape: Any) -> Tensor:
    return reshape(self, *shape)


def _numpy_transpose(a: Tensor, axes: Any = None) -> Tensor:
    return permute(a, tuple(reversed(range(a.ndim))) if axes is None else axes)


def _numpy_swapaxes(a: Tensor, axis1: int, axis2: int) -> Tensor:
    return transpose(a, axis1, axis2)


def _numpy_reshape(a: Tensor, shape: Any, **kwargs: Any) -> Tensor:
    return reshape(a, shape)


TENSOR_METHODS = {
    "reshape": _reshape_method, "view": _reshape_method, "permute": permute, "transpose": transpose,
    "swapaxes": transpose, "T": property(lambda self: _numpy_transpose(self)),
    "mT": property(lambda self: transpose(self, -2, -1)),
}
TENSOR_METHODS.update({"expand": expand, "broadcast_to": broadcast_to})
NUMPY_FUNCTIONS = {np.broadcast_to: broadcast_to, np.transpose: _numpy_transpose, np.swapaxes: _numpy_swapaxes, np.reshape: _numpy_reshape}
