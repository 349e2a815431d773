"""The ``Tensor``: an n-dimensional NumPy array with a place in the autograd graph.

A tensor holds its values in ``_data`` (a NumPy array, shared with ``numpy()`` and ``from_numpy``),
whether it takes part in differentiation (``requires_grad``), the graph node that produced it
(``grad_fn``, ``None`` for leaves) and, after ``backward``, its gradient (``grad``, leaves only unless
``retain_grad()`` was called). Operators and methods are thin calls into :mod:`chainrule.ops`; the
method table at the bottom of this file lists them all.
"""

from __future__ import annotations

import builtins
import itertools
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from chainrule import dtype as dtypes
from chainrule.errors import ChainruleError

__all__ = ["Tensor", "Size", "device"]

# The graph's clock. Nodes are numbered from it as they are recorded (``Node.seq``), and every in-place
# change of a tensor stamps ``last_inplace[0]`` with a number from it. A node whose number is above
# the stamp was recorded after the last in-place change anywhere, so none of its inputs can have
# changed since: the engine checks versions only for the other nodes (most backward passes have none).
next_seq = itertools.count().__next__
last_inplace = [-1]


class Size(tuple):
    """A tensor's shape: a tuple of ints with ``numel()``, like ``torch.Size``."""

    def numel(self) -> int:
        """The number of elements of a tensor of this shape."""
        n = 1
        for s in self:
            n *= s
        return n

    def __repr__(self) -> str:
        return f"chainrule.Size({list(self)})"


class device:  # noqa: N801 - PyTorch's spelling
    """A compute device. Only the CPU exists until the GPU backend lands."""

    __slots__ = ("type", "index")

    def __init__(self, spec: "str | device" = "cpu", index: int | None = None) -> None:
        if isinstance(spec, device):
            spec, index = spec.type, spec.index
        check_device(spec)
        self.type = "cpu"
        self.index = index

    def __repr__(self) -> str:
        return "device(type='cpu')"

    def __str__(self) -> str:
        return "cpu"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, (device, str)) and str(other).split(":")[0] == "cpu"

    def __hash__(self) -> int:
        return hash("cpu")


def parse_to_arguments(op: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """The dtype asked for by ``.to(...)``'s arguments (None if none), as PyTorch spells them:
    ``to(dtype)``, ``to(tensor)``, ``to('cpu')``, ``to(device, dtype)``, ``dtype=``, ``device=``,
    ``non_blocking=``; any device but the CPU is refused."""
    target = kwargs.pop("dtype", None)
    check_device(kwargs.pop("device", None))
    kwargs.pop("non_blocking", None)
    if kwargs:
        raise ChainruleError(f"{op}: unexpected arguments {sorted(kwargs)}")
    for arg in args:
        if isinstance(arg, Tensor):
            target = arg.dtype
        elif isinstance(arg, (str, device)):
            check_device(arg)
        elif not isinstance(arg, builtins.bool):  # non_blocking, positionally
            target = arg
    return target


def check_device(spec: object) -> None:
    """Accept ``None``, ``'cpu'`` (or ``'cpu:0'``) and ``device('cpu')``; reject anything else clearly."""
    if spec is None or isinstance(spec, device):
        return
    if isinstance(spec, str) and spec.split(":")[0] == "cpu":
        return
    raise ChainruleError(
        f"device: {spec!r} is not available; chainrule runs on the CPU only for now "
        f"(the GPU backend is planned): pass device='cpu' or leave it out")


class _Extra:
    """Rarely used per-tensor state, allocated on first use so that ordinary tensors stay small."""

    __slots__ = ("hooks", "retains_grad", "base", "view_of_expand", "producers")

    def __init__(self) -> None:
        self.hooks: list[Callable[[Tensor], Tensor | None]] = []
        self.retains_grad = False
        self.base: Tensor | None = None
        self.view_of_expand = False
        # After in-place changes recorded in the graph: (first version, node, output index) for each
        # node that has produced this tensor, so that operations recorded before a change still
        # backpropagate into the node that produced the value they used.
        self.producers: list[tuple[int, Any, int]] | None = None


_new = object.__new__


class Tensor:
    """An n-dimensional array that records the operations applied to it for backpropagation.

    ``Tensor(data)`` copies ``data`` (a nested list, a NumPy array or a tensor) into a new float32
    tensor, as ``torch.Tensor``; prefer :func:`chainrule.tensor`, which keeps integer and bool data.
    """

    # Six slots are set on every new tensor (by _init and the engine's constructors): the three that
    # every operation reads (_vc when recording, _out and _extra in the backward walk) are slots too,
    # since Python 3.11 reads a class-level default through the generic attribute lookup, about ten
    # times the cost of a slot. The rare ones are class-level defaults that an instance overrides in
    # its __dict__ only when it needs to (a leaf's grad …).
    __slots__ = ("_data", "requires_grad", "_node", "_out", "_vc", "_extra", "__dict__", "__weakref__")

    _data: np.ndarray
    requires_grad: bool
    grad: Tensor | None = None
    _out: int  # which output of its node this tensor is
    _vc: list[int] | None  # version counter, shared with views; None means version 0
    _extra: _Extra | None  # hooks, retain_grad, views' bases …, made on first use

    def __init__(self, data: Any = (), *, requires_grad: bool = False) -> None:
        array = np.array(data._data if isinstance(data, Tensor) else data,
                         dtype=dtypes.get_default_dtype().numpy)
        _init(self, array, False, None)
        if requires_grad:
            self.requires_grad_(True)

    # ------------------------------------------------------------------ metadata
    @property
    def data(self) -> Tensor:
        """The values as a tensor outside the graph, sharing memory with this one."""
        return wrap(self._data)

    @data.setter
    def data(self, value: Any) -> None:
        array = value._data if isinstance(value, Tensor) else np.asarray(value)
        self._data = array

    @property
    def shape(self) -> Size:
        """The size of each dimension."""
        return Size(self._data.shape)

    def size(self, dim: int | None = None) -> Size | int:
        """The shape, or the size of dimension ``dim``."""
        if dim is None:
            return Size(self._data.shape)
        return self._data.shape[_check_dim("size", dim, self._data.ndim)]

    @property
    def dtype(self) -> dtypes.dtype:
        """The element type, e.g. ``chainrule.float32``."""
        return dtypes.from_numpy_dtype(self._data.dtype)

    @property
    def ndim(self) -> int:
        """The number of dimensions."""
        return self._data.ndim

    def dim(self) -> int:
        """The number of dimensions."""
        return self._data.ndim

    def numel(self) -> int:
        """The number of elements."""
        return self._data.size

    def element_size(self) -> int:
        """Bytes per element."""
        return self._data.itemsize

    def is_floating_point(self) -> bool:
        """Whether the dtype is a floating type."""
        return self._data.dtype.kind == "f"

    @property
    def device(self) -> device:
        """Where the data lives: always the CPU for now."""
        return device("cpu")

    @property
    def is_leaf(self) -> bool:
        """True for tensors made by the user (not by a recorded operation)."""
        return self._node is None

    @property
    def grad_fn(self) -> Any:
        """The graph node that produced this tensor, or ``None`` for a leaf."""
        return self._node

    @property
    def _version(self) -> int:
        """How many in-place changes this tensor's memory has seen (shared with its views)."""
        return 0 if self._vc is None else self._vc[0]

    # ------------------------------------------------------------------ autograd
    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Mark this leaf as needing a gradient (in place); only floating tensors can."""
        if not requires_grad and self._node is not None:
            raise ChainruleError(
                "requires_grad_: this tensor is produced by an operation "
                f"({self._node.name()}); call .detach() to get a tensor outside the graph")
        if requires_grad and self._data.dtype.kind != "f":
            raise ChainruleError(
                f"requires_grad_: only floating point tensors can require gradients, got dtype "
                f"{self.dtype}; convert first with .float()")
        self.requires_grad = builtins.bool(requires_grad)
        return self

    def backward(self, gradient: Any = None, retain_graph: bool | None = None,
                 create_graph: bool = False, inputs: Sequence[Tensor] | None = None) -> None:
        """Backpropagate from this tensor: add d(self)/d(leaf) · gradient into every leaf's ``.grad``.

        ``gradient`` is required unless this tensor has one element. The graph is freed afterwards
        unless ``retain_graph=True``; ``create_graph=True`` records the backward pass itself, for
        higher-order derivatives.
        """
        _engine_backward((self,), None if gradient is None else (gradient,),
                         create_graph if retain_graph is None else retain_graph, create_graph, inputs)

    def detach(self) -> Tensor:
        """A tensor sharing this one's memory (and version counter) but outside the graph."""
        out = wrap(self._data)
        out._vc = self._shared_version_counter()
        return out

    def detach_(self) -> Tensor:
        """Cut this tensor out of the graph in place, making it a leaf."""
        self._node = None
        self.requires_grad = False
        return self

    def retain_grad(self) -> None:
        """Keep ``.grad`` for this non-leaf tensor after ``backward``."""
        if self._node is None:
            if not self.requires_grad:
                raise ChainruleError("retain_grad: this tensor does not require grad, so it never gets one")
            return
        self._extra_state().retains_grad = True
        self._node.watch(self)

    @property
    def retains_grad(self) -> bool:
        """Whether ``retain_grad()`` was called on this non-leaf tensor."""
        return self._extra is not None and self._extra.retains_grad

    def register_hook(self, hook: Callable[[Tensor], Tensor | None]) -> Any:
        """Call ``hook(grad)`` when this tensor's gradient is computed; a returned tensor replaces it.

        Returns a handle whose ``remove()`` unregisters the hook.
        """
        if not self.requires_grad:
            raise ChainruleError("register_hook: cannot register a hook on a tensor that does not require grad")
        hooks = self._extra_state().hooks
        hooks.append(hook)
        if self._node is not None:
            self._node.watch(self)
        return _HookHandle(hooks, hook)

    def _extra_state(self) -> _Extra:
        if self._extra is None:
            self._extra = _Extra()
        return self._extra

    def _shared_version_counter(self) -> list[int]:
        if self._vc is None:
            self._vc = [0]
        return self._vc

    def _set_producer(self, node: Any, out: int) -> None:
        """Make ``node`` (output ``out``) this tensor's producer from its current version on."""
        extra = self._extra_state()
        if extra.producers is None:
            extra.producers = [(-1, self._node, self._out)]
        extra.producers.append((self._version, node, out))
        self._node = node
        self._out = out

    def _bump_version(self) -> None:
        last_inplace[0] = next_seq()
        if self._vc is None:
            self._vc = [1]
        else:
            self._vc[0] += 1

    # ------------------------------------------------------------------ conversion
    def numpy(self, *, force: bool = False) -> np.ndarray:
        """The values as a NumPy array sharing memory (a copy with ``force=True``)."""
        if self.requires_grad and not force:
            raise ChainruleError(
                "numpy: this tensor requires grad; call .detach().numpy() to read its values")
        return self._data.copy() if force else self._data

    def __array__(self, dtype: Any = None, copy: builtins.bool | None = None) -> np.ndarray:
        if self.requires_grad:
            raise ChainruleError(
                "numpy: this tensor requires grad, so converting it to a NumPy array would silently "
                "drop it from the graph; call .detach() first (np.asarray(t.detach()))")
        array = self._data if dtype is None else self._data.astype(dtype, copy=False)
        return array.copy() if copy else array

    def item(self) -> builtins.float | builtins.int | builtins.bool:
        """The value of a one-element tensor as a Python number."""
        if self._data.size != 1:
            raise ChainruleError(
                f"item: only one-element tensors can be converted to a Python number, "
                f"got shape {self._data.shape}")
        return self._data.item()

    def tolist(self) -> Any:
        """The values as (nested) Python lists."""
        return self._data.tolist()

    def to(self, *args: Any, **kwargs: Any) -> Tensor:
        """Convert the dtype (``to(cr.float64)``); ``'cpu'`` and ``device='cpu'`` are accepted."""
        copy = kwargs.pop("copy", False)
        target = parse_to_arguments("to", args, kwargs)
        if target is None:
            return self.clone() if copy else self
        from chainrule.ops.elementwise import cast

        np_dtype = dtypes.to_numpy_dtype(target)
        if np_dtype == self._data.dtype:
            return self.clone() if copy else self
        return cast(self, np_dtype)

    def cpu(self) -> Tensor:
        """This tensor (it is on the CPU already)."""
        return self

    def type_as(self, other: Tensor) -> Tensor:
        """This tensor converted to ``other``'s dtype."""
        return self.to(other.dtype)

    def float(self) -> Tensor:
        """Convert to float32."""
        return self.to(dtypes.float32)

    def double(self) -> Tensor:
        """Convert to float64."""
        return self.to(dtypes.float64)

    def half(self) -> Tensor:
        """Convert to float16."""
        return self.to(dtypes.float16)

    def long(self) -> Tensor:
        """Convert to int64."""
        return self.to(dtypes.int64)

    def int(self) -> Tensor:
        """Convert to int32."""
        return self.to(dtypes.int32)

    def bool(self) -> Tensor:
        """Convert to bool."""
        return self.to(dtypes.bool)

    # ------------------------------------------------------------------ Python protocols
    def __len__(self) -> int:
        if self._data.ndim == 0:
            raise ChainruleError("len: a zero-dimensional tensor has no length")
        return len(self._data)

    def __iter__(self) -> Iterator[Tensor]:
        if self._data.ndim == 0:
            raise ChainruleError("iter: cannot iterate over a zero-dimensional tensor")
        return (self[i] for i in range(len(self._data)))

    def __bool__(self) -> builtins.bool:
        if self._data.size != 1:
            raise ChainruleError(
                f"bool: the truth value of a tensor with {self._data.size} elements is ambiguous; "
                "use .any() or .all()")
        return builtins.bool(self._data)

    def __float__(self) -> builtins.float:
        return builtins.float(self.item())

    def __int__(self) -> builtins.int:
        return builtins.int(self.item())

    def __index__(self) -> builtins.int:
        if self._data.size != 1 or self._data.dtype.kind not in "iub":
            raise ChainruleError("index: only one-element integer tensors can be used as an index")
        return builtins.int(self._data)

    __hash__ = object.__hash__

    def __repr__(self) -> str:
        return format_tensor(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> Tensor:
        if self._node is not None:
            raise ChainruleError(
                "deepcopy: only tensors created by the user (graph leaves) can be deep-copied; "
                "call .detach() first")
        out = type(self).__new__(type(self))
        memo[id(self)] = out
        _init(out, self._data.copy(), self.requires_grad, None)
        if self.grad is not None:
            out.grad = self.grad.__deepcopy__(memo)
        return out

    def __reduce__(self) -> Any:
        raise ChainruleError("pickle: tensors are saved with chainrule.save (safetensors), not pickle")


def _init(t: Tensor, data: np.ndarray, requires_grad: builtins.bool, node: Any) -> None:
    t._data = data
    t.requires_grad = requires_grad
    t._node = node
    t._out = 0
    t._vc = None
    t._extra = None


def wrap(data: np.ndarray, requires_grad: builtins.bool = False, node: Any = None) -> Tensor:
    """Make a tensor around ``data`` without copying or checks (the engine's fast constructor)."""
    t = _new(Tensor)
    t._data = data
    t.requires_grad = requires_grad
    t._node = node
    t._out = 0
    t._vc = None
    t._extra = None
    return t


class _HookHandle:
    """Returned by ``register_hook``; ``remove()`` unregisters the hook."""

    def __init__(self, hooks: list[Any], hook: Any) -> None:
        self._hooks, self._hook = hooks, hook

    def remove(self) -> None:
        if self._hook in self._hooks:
            self._hooks.remove(self._hook)


def _check_dim(op: str, dim: int, ndim: int) -> int:
    """Normalise a possibly negative dimension index, with a clear error when out of range."""
    n = ndim if ndim > 0 else 1
    if not -n <= dim < n:
        raise ChainruleError(
            f"{op}: dimension {dim} is out of range for a tensor with {ndim} dimensions "
            f"(expected a value in [{-n}, {n - 1}])")
    return dim % n


# ---------------------------------------------------------------------------- printing
# PyTorch's print options (torch._tensor_str.PRINT_OPTS defaults): digits after the point, the element
# count above which a tensor is summarised with "...", the items kept at each end, the line width.
_PRECISION, _THRESHOLD, _EDGEITEMS, _LINEWIDTH = 4, 1000, 3, 80


def _summarized(data: np.ndarray) -> np.ndarray:
    """The elements a summarised print shows: ``_EDGEITEMS`` at each end of every dimension."""
    if data.ndim == 0:
        return data.reshape(-1)
    rows = data if len(data) <= 2 * _EDGEITEMS else np.concatenate([data[:_EDGEITEMS], data[-_EDGEITEMS:]])
    return rows.reshape(-1) if data.ndim == 1 else np.concatenate([_summarized(r) for r in rows])


def _element_formatter(values: np.ndarray) -> tuple[Callable[[Any], str], builtins.int]:
    """One function that formats every element alike, and the width it pads to (PyTorch's rules:
    integral floats print as ``1.``, else 4 decimals, scientific when the magnitudes span more than
    1000 or leave [1e-4, 1e8])."""
    if values.dtype.kind != "f":
        width = max((len(str(v)) for v in values.tolist()), default=1)
        return (lambda v: str(v).rjust(width)), width
    finite = values[np.isfinite(values) & (values != 0)].astype(np.float64)
    spec, point, width = ".0f", ".", 1  # integral floats, and tensors with no nonzero finite value
    if finite.size:
        magnitude = np.abs(finite)
        low, high = magnitude.min(), magnitude.max()
        if high / low > 1000.0 or high > 1.0e8 or low < 1.0e-4:
            spec, point = f".{_PRECISION}e", ""
        elif not np.all(finite == np.ceil(finite)):
            spec, point = f".{_PRECISION}f", ""
        width = max(width, max(len(format(v, spec) + point) for v in finite.tolist()))

    def format_float(v: builtins.float) -> str:
        text = format(v, spec)
        return (text if not point or not np.isfinite(v) else text + point).rjust(width)

    return format_float, width


def _format_block(data: np.ndarray, fmt: Callable[[Any], str], width: builtins.int, indent: builtins.int,
                  summarize: builtins.bool) -> str:
    """The bracketed text of ``data``, rows wrapped at the line width and aligned under ``indent``."""
    if data.ndim == 0:
        return fmt(data.item())
    if data.ndim == 1:
        def row(part: np.ndarray) -> list[str]:
            return [fmt(v) for v in part.tolist()]
    else:
        def row(part: np.ndarray) -> list[str]:
            return [_format_block(r, fmt, width, indent + 1, summarize) for r in part]
    if summarize and len(data) > 2 * _EDGEITEMS:
        items = row(data[:_EDGEITEMS]) + [" ..." if data.ndim == 1 else "..."] + row(data[-_EDGEITEMS:])
    else:
        items = row(data)
    if data.ndim > 1:
        return "[" + ("," + "\n" * (data.ndim - 1) + " " * (indent + 1)).join(items) + "]"
    per_line = max(1, (_LINEWIDTH - indent) // (width + 2))
    lines = [", ".join(items[i:i + per_line]) for i in range(0, len(items), per_line)]
    return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"


def format_tensor(t: Tensor) -> str:
    """``repr`` exactly as PyTorch prints: ``tensor([1.5000, 2.0000], requires_grad=True)``."""
    data = t._data
    prefix = "tensor("
    suffixes = []
    default_float = dtypes.get_default_dtype().numpy
    if data.size == 0:
        body = "[]"
        if data.ndim != 1:
            suffixes.append(f"size={tuple(data.shape)}")
        if data.dtype != default_float:
            suffixes.append(f"dtype=chainrule.{data.dtype.name}")
    else:
        summarize = data.size > _THRESHOLD
        fmt, width = _element_formatter(_summarized(data) if summarize else data.reshape(-1))
        body = _format_block(data, fmt, width, len(prefix), summarize)
        if data.dtype not in (default_float, np.int64, np.bool_):
            suffixes.append(f"dtype=chainrule.{data.dtype.name}")
    if t._node is not None:
        suffixes.append(f"grad_fn=<{t._node.name()}>")
    elif t.requires_grad:
        suffixes.append("requires_grad=True")
    text = prefix + body
    line = len(text) - text.rfind("\n") + 1  # (PyTorch's count, +1 included)
    for suffix in suffixes:
        if line + len(suffix) + 2 > _LINEWIDTH:
            text += ",\n" + " " * len(prefix) + suffix
            line = len(prefix) + len(suffix)
        else:
            text += ", " + suffix
            line += len(suffix) + 2
    return text + ")"


# ---------------------------------------------------------------------------- NumPy interoperability
def _to_arrays(value: Any) -> Any:
    if isinstance(value, Tensor):
        return value._data
    if isinstance(value, (list, tuple)):
        return type(value)(_to_arrays(v) for v in value)
    return value


def _requires_grad_anywhere(value: Any) -> builtins.bool:
    if isinstance(value, Tensor):
        return value.requires_grad
    if isinstance(value, (list, tuple)):
        return any(_requires_grad_anywhere(v) for v in value)
    return False


def _numpy_fallback(name: str, call: Callable[[], Any], args: Any) -> Any:
    """Run a NumPy function that has no chainrule counterpart on plain arrays (no gradient)."""
    from chainrule.autograd.grad_mode import state

    if state.enabled and _requires_grad_anywhere(args):
        raise ChainruleError(
            f"numpy.{name}: this NumPy function has no differentiable chainrule counterpart and an "
            "argument requires grad; use chainrule's operations, or .detach() the tensor first")
    return call()


def _array_ufunc(self: Tensor, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
    fn = NUMPY_UFUNCS.get(ufunc) if method == "__call__" and not kwargs else None
    if fn is not None:
        return fn(*inputs)
    return _numpy_fallback(ufunc.__name__, lambda: getattr(ufunc, method)(
        *_to_arrays(inputs), **{k: _to_arrays(v) for k, v in kwargs.items()}), (inputs, kwargs))


def _array_function(self: Tensor, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
    fn = NUMPY_FUNCTIONS.get(func)
    if fn is not None:
        return fn(*args, **kwargs)
    return _numpy_fallback(func.__name__, lambda: func(
        *_to_arrays(args), **{k: _to_arrays(v) for k, v in kwargs.items()}), (args, kwargs))


Tensor.__array_ufunc__ = _array_ufunc  # type: ignore[attr-defined]
Tensor.__array_function__ = _array_function  # type: ignore[attr-defined]

# ---------------------------------------------------------------------------- the method table
# Every ops module declares the Tensor methods it provides (TENSOR_METHODS) and the NumPy functions
# it stands in for when NumPy meets a Tensor (NUMPY_FUNCTIONS, NUMPY_UFUNCS); they are bound here.
NUMPY_UFUNCS: dict[np.ufunc, Callable[..., Any]] = {}
NUMPY_FUNCTIONS: dict[Any, Callable[..., Any]] = {}


def _bind_ops() -> None:
    from chainrule.ops import OPS_MODULES

    for module in OPS_MODULES:
        for name, method in getattr(module, "TENSOR_METHODS", {}).items():
            setattr(Tensor, name, method)
        NUMPY_UFUNCS.update(getattr(module, "NUMPY_UFUNCS", {}))
        NUMPY_FUNCTIONS.update(getattr(module, "NUMPY_FUNCTIONS", {}))


_bind_ops()

# The engine imports this module, so it is bound here, once both exist (an import inside
# Tensor.backward cost 1 µs per call)
from chainrule.autograd.engine import backward as _engine_backward  # noqa: E402
