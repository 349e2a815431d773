"""In-place operations: ``x += y``, ``x.add_(y)``, ``x.zero_()``, ``x[i] = v`` …

Two cases, as in PyTorch:

* Nothing to record (grad mode off, or no tensor involved requires grad) — what optimizers and
  hand-written updates do under ``no_grad``: the operation writes straight into the tensor's memory
  with NumPy's ``out=``, without temporaries.
* Recording: the operation is computed out of place on an alias of the old value, the result is
  copied into the tensor's memory, and the tensor takes over the new graph node. A leaf that
  requires grad cannot be changed this way (its old value is what the gradient is for).

Either way the tensor's version counter (shared with its views) goes up, so backward can refuse to
use a value that an operation saved before it was overwritten.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from chainrule import recording
from chainrule.autograd.grad_mode import state
from chainrule.errors import ChainruleError
from chainrule.ops import elementwise as ew
from chainrule.random import Generator, numpy_generator
from chainrule.tensor import Tensor, wrap

Direct = Callable[..., None]


def _arrays(args: tuple[Any, ...]) -> list[Any]:
    return [a._data if isinstance(a, Tensor) else a for a in args]


def _check_writable(op: str, target: Tensor) -> None:
    if not target._data.flags.writeable:
        extra = target._extra
        what = "an expanded (broadcast) view" if extra is not None and extra.view_of_expand else "read-only memory"
        raise ChainruleError(
            f"{op}: cannot write into {what} of shape {tuple(target._data.shape)}: several elements "
            "share one memory location; call .clone() first and modify the copy")


def _mark_saved_output_modified(target: Tensor) -> None:
    """If the node that produced ``target`` (or its base) saved that very memory for its backward
    (e.g. ``exp`` saves its output), the saved value is now stale: backward through it must fail."""
    for t in (target, target._extra.base if target._extra is not None else None):
        node = t._node if t is not None else None
        if node is not None and node.saved_tensors and any(
                isinstance(s, np.ndarray) and np.shares_memory(s, target._data) for s in node.saved_tensors):
            node.output_modified = True


def _recording(target: Tensor, args: tuple[Any, ...]) -> bool:
    if not state.enabled:
        return False
    return target.requires_grad or any(isinstance(a, Tensor) and a.requires_grad for a in args)


def apply_inplace(op_name: str, target: Tensor, op: Callable[..., Tensor], *args: Any,
                  direct: Direct | None = None) -> Tensor:
    """Set ``target`` to ``op(target, *args)`` in place and return ``target``.

    ``direct(target_array, *arg_arrays)``, when given, performs the same update with NumPy ``out=``
    and is used whenever nothing needs recording.
    """
    if recording.active is not None:
        recording.refuse(f"the in-place operation {op_name}", "use the out-of-place form (x = x.add(y) for "
                         "x.add_(y)), or run this step eagerly")
    _check_writable(op_name, target)
    if not _recording(target, args):
        if direct is not None:
            try:
                direct(target._data, *_arrays(args))
            except (ValueError, TypeError) as error:
                raise _write_error(op_name, target, args, error) from None
        else:
            previous = state.enabled
            state.enabled = False
            try:
                _write(op_name, target, op(target, *args)._data)
            finally:
                state.enabled = previous
        target._bump_version()
        _mark_saved_output_modified(target)
        return target
    _check_recordable(op_name, target)
    old = wrap(target._data, target.requires_grad, target._node)
    old._out = target._out
    old._vc = target._shared_version_counter()
    args = tuple(old if a is target else a for a in args)  # x.mul_(x): both operands are the old value
    new = op(old, *args)
    _keep_old_value(new, old, args)
    _write(op_name, target, new._data)
    target._bump_version()
    _mark_saved_output_modified(target)
    target._set_producer(new._node, new._out)
    target.requires_grad = new.requires_grad
    return target


def _keep_old_value(new: Tensor, old: Tensor, args: tuple[Any, ...]) -> None:
    """The nodes just recorded by the operation (those between ``old``/``args`` and ``new``) may have
    saved the old value for their backward, and it is about to be overwritten: give them a copy
    instead (PyTorch clones the original value for such in-place operations too)."""
    memory = old._data
    copy = None
    stack = [] if new._node is None or new._node is old._node else [new._node]
    seen = set()
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        saved = node.saved_tensors
        if saved and any(s is memory or s is old for s in saved):
            if copy is None:
                copy = memory.copy()
            node.saved_tensors = tuple(copy if s is memory else s for s in saved)
        for t in node.inputs:
            if isinstance(t, Tensor) and t._node is not None and t is not old and all(t is not a for a in args):
                stack.append(t._node)
    if copy is not None:
        old._data = copy
        old._vc = [old._vc[0]]  # the copy keeps this version whatever happens to the target later


def _check_recordable(op_name: str, target: Tensor) -> None:
    if target._node is None and target.requires_grad:
        raise ChainruleError(
            f"{op_name}: a leaf tensor that requires grad (shape {tuple(target._data.shape)}) cannot "
            "be modified in place while gradients are recorded: its old value is what its gradient "
            "refers to. Update parameters inside `with chainrule.no_grad():`, or use an "
            "out-of-place operation (x = x + y)")
    base = target._extra.base if target._extra is not None else None
    if base is not None:  # the base shares the new values but would miss their graph
        raise ChainruleError(
            f"{op_name}: in-place change of a view (shape {tuple(target._data.shape)}) of another "
            f"tensor (shape {tuple(base._data.shape)}) is not supported while gradients are recorded; "
            "use an out-of-place operation, or index the base directly (base[index] = value)")


def _write(op_name: str, target: Tensor, result: np.ndarray) -> None:
    if result.shape != target._data.shape:
        try:
            if np.broadcast_shapes(result.shape, target._data.shape) != target._data.shape:
                raise ValueError
        except ValueError:
            raise ChainruleError(
                f"{op_name}: the result has shape {tuple(result.shape)}, which cannot be written into "
                f"a tensor of shape {tuple(target._data.shape)} in place; use an out-of-place "
                "operation") from None
    if not np.can_cast(result.dtype, target._data.dtype, "same_kind"):
        raise ChainruleError(
            f"{op_name}: the result has dtype {result.dtype}, which cannot be stored in place in a "
            f"{target._data.dtype} tensor; convert the tensor first (e.g. x = x.float())")
    np.copyto(target._data, result, casting="same_kind")


def _write_error(op_name: str, target: Tensor, args: tuple[Any, ...], error: Exception) -> ChainruleError:
    shapes = [tuple(np.shape(a)) for a in _arrays(args)]
    dtypes = [np.result_type(a).name for a in _arrays(args)]
    return ChainruleError(
        f"{op_name}: cannot update a {target._data.dtype} tensor of shape {tuple(target._data.shape)} "
        f"in place with operands of shapes {shapes} and dtypes {dtypes}: the result must keep the "
        f"tensor's shape and a compatible dtype ({error})")


# ---------------------------------------------------------------------------- the in-place methods
def _ufunc_update(ufunc: np.ufunc) -> Direct:
    def direct(target: np.ndarray, other: Any) -> None:
        ufunc(target, other, out=target, casting="same_kind")

    return direct


def _binary(name: str, op: Callable[..., Tensor], ufunc: np.ufunc) -> Callable[..., Tensor]:
    direct = _ufunc_update(ufunc)

    def method(self: Tensor, other: Any) -> Tensor:
        return apply_inplace(name, self, op, other, direct=direct)

    method.__name__ = name
    method.__doc__ = f"In-place ``{op.__name__}``: ``x.{name}(y)`` sets ``x`` to ``{op.__name__}(x, y)``."
    return method


def add_(self: Tensor, other: Any, *, alpha: Any = 1) -> Tensor:
    """``self += alpha * other`` in place."""
    if alpha != 1:
        other = other * alpha
    return apply_inplace("add_", self, ew.add, other, direct=_ufunc_update(np.add))


def sub_(self: Tensor, other: Any, *, alpha: Any = 1) -> Tensor:
    """``self -= alpha * other`` in place."""
    if alpha != 1:
        other = other * alpha
    return apply_inplace("sub_", self, ew.sub, other, direct=_ufunc_update(np.subtract))


mul_ = _binary("mul_", ew.mul, np.multiply)
div_ = _binary("div_", ew.div, np.true_divide)
pow_ = _binary("pow_", ew.pow, np.power)


def _unary(name: str, op: Callable[..., Tensor], ufunc: np.ufunc | None) -> Callable[..., Tensor]:
    def direct(target: np.ndarray) -> None:
        ufunc(target, out=target)  # type: ignore[misc]

    def method(self: Tensor) -> Tensor:
        return apply_inplace(name, self, op, direct=direct if ufunc is not None else None)

    method.__name__ = name
    method.__doc__ = f"In-place ``{op.__name__}``."
    return method


neg_ = _unary("neg_", ew.neg, np.negative)
exp_ = _unary("exp_", ew.exp, np.exp)
log_ = _unary("log_", ew.log, np.log)
sqrt_ = _unary("sqrt_", ew.sqrt, np.sqrt)
abs_ = _unary("abs_", ew.abs, np.abs)
tanh_ = _unary("tanh_", ew.tanh, np.tanh)
sigmoid_ = _unary("sigmoid_", ew.sigmoid, None)
relu_ = _unary("relu_", ew.relu, None)


def clamp_(self: Tensor, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002
    """Limit every element to ``[min, max]`` in place."""
    return apply_inplace("clamp_", self, lambda x: ew.clamp(x, min, max))


def _replaced(x: Tensor, value: Any) -> Tensor:
    """``value`` (broadcast, in ``x``'s dtype) in place of ``x``'s values, keeping ``x`` in the graph:
    d/dx = 0, d/dvalue = 1 (summed over broadcasts). ``where`` rather than ``x * 0 + value``, which
    would turn an infinite or NaN old value into NaN."""
    value = value if isinstance(value, Tensor) else wrap(np.asarray(value))
    return ew.Where.apply(np.True_, value.to(x.dtype), x)


def fill_(self: Tensor, value: Any) -> Tensor:
    """Set every element to ``value`` (a number or a one-element tensor)."""
    if isinstance(value, Tensor):
        return copy_(self, value)
    return apply_inplace("fill_", self, lambda x: _replaced(x, value),
                         direct=lambda target: target.fill(value))


def zero_(self: Tensor) -> Tensor:
    """Set every element to 0."""
    return fill_(self, 0)


def copy_(self: Tensor, src: Any, non_blocking: bool = False) -> Tensor:
    """Copy ``src`` (broadcast to this tensor's shape, converted to its dtype) into this tensor."""

    def direct(target: np.ndarray, source: Any) -> None:
        np.copyto(target, source, casting="unsafe")

    return apply_inplace("copy_", self, _replaced, src, direct=direct)


def _random_fill(name: str, self: Tensor, draw: Callable[[np.random.Generator, tuple[int, ...]], np.ndarray],
                 generator: Generator | None) -> Tensor:
    def values(x: Tensor) -> Tensor:  # new random values: a constant, no gradient flows back
        return wrap(draw(numpy_generator(generator), x._data.shape).astype(x._data.dtype))

    def direct(target: np.ndarray) -> None:
        target[...] = draw(numpy_generator(generator), target.shape)

    return apply_inplace(name, self, values, direct=direct)


def uniform_(self: Tensor, a: float = 0.0, b: float = 1.0, *, generator: Generator | None = None) -> Tensor:
    """Fill with uniform random numbers in [a, b) from the seeded generator."""
    return _random_fill("uniform_", self, lambda rng, shape: rng.uniform(a, b, shape), generator)


def normal_(self: Tensor, mean: float = 0.0, std: float = 1.0, *, generator: Generator | None = None) -> Tensor:
    """Fill with normal random numbers from the seeded generator."""
    return _random_fill("normal_", self, lambda rng, shape: rng.normal(mean, std, shape), generator)


def setitem(self: Tensor, key: Any, value: Any) -> None:
    """``x[key] = value``: recorded as a differentiable ``index_put`` when gradients are involved."""
    from chainrule.ops.index import normalize_key, put, put_at

    array_key = normalize_key(key, self._data.shape, "setitem")
    apply_inplace("setitem", self, lambda x, v: put(x, array_key, v), value,
                  direct=lambda target, source: put_at(target, array_key, source))


TENSOR_METHODS: dict[str, Callable[..., Any]] = {
    "add_": add_, "sub_": sub_, "mul_": mul_, "div_": div_, "pow_": pow_, "neg_": neg_, "exp_": exp_,
    "log_": log_, "sqrt_": sqrt_, "abs_": abs_, "tanh_": tanh_, "sigmoid_": sigmoid_, "relu_": relu_,
    "clamp_": clamp_, "clip_": clamp_, "fill_": fill_, "zero_": zero_, "copy_": copy_,
    "uniform_": uniform_, "normal_": normal_, "__setitem__": setitem,
    "__iadd__": add_, "__isub__": sub_, "__imul__": mul_, "__itruediv__": div_, "__ipow__": pow_,
    "subtract_": sub_, "multiply_": mul_, "divide_": div_,
}
