"""``Function``: an operation with a forward and a backward (vector-Jacobian product) rule.

Every differentiable operation in chainrule is a ``Function`` subclass, the built-in primitives as
much as the custom operations users write in PyTorch's style::

    class Exp(cr.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            y = x.exp()
            ctx.save_for_backward(y)
            return y

        @staticmethod
        def backward(ctx, grad):
            (y,) = ctx.saved_tensors
            return grad * y          # d/dx exp x = exp x

    y = Exp.apply(x)

The context ``ctx`` is the graph node itself (:class:`Node`). Built-in primitives subclass
:class:`Primitive`, whose ``forward`` and ``backward`` receive NumPy arrays instead of tensors, so
that an ordinary backward pass runs on raw arrays with no per-operation tensor overhead. Their
backward rules are written with operators and ``np.*`` functions only; when a backward pass is
recorded (``create_graph=True``) the engine hands them tensors instead, NumPy dispatches the ``np.*``
calls to chainrule's own operations (``Tensor.__array_function__``), and the same rule builds a
differentiable graph.
"""

from __future__ import annotations

import traceback
from typing import Any

import numpy as np

from chainrule.autograd.grad_mode import state
from chainrule.errors import ChainruleError
from chainrule.tensor import Tensor, next_seq, wrap

__all__ = ["Function", "Primitive", "Node", "FunctionCtx", "NO_RECORD", "run_primitive"]

_new = object.__new__
# Nodes are numbered in the order they are recorded (``next_seq``, the graph's clock in tensor.py). A
# node's inputs were all produced before it, so running nodes from the highest number down visits
# every consumer before its producers: the engine's topological order, with no pass to count
# dependencies.


class Node:
    """A recorded operation: the graph node behind ``grad_fn``, and the ``ctx`` of its Function.

    Holds the Function class, its arguments (tensors or other values, by position), which inputs
    need a gradient, and what forward saved for backward. Rarely used fields are class-level
    defaults, overridden per node only when needed (recording a node is on every operation's path).
    """

    # n_out and watchers are read for every node of every backward pass, so they are slots, set when
    # the node is recorded: Python 3.11 reads a class-level default through the generic attribute
    # lookup, about ten times the cost of reading a slot
    __slots__ = ("fn", "inputs", "needs_input_grad", "saved_tensors", "seq", "out_data", "n_out", "watchers",
                 "__dict__", "__weakref__")

    saved_versions: list[Any] | None = None  # input versions at record time, if any had changed
    n_out: int  # the number of outputs
    out_meta: tuple[Any, ...] = ()
    watchers: list[Any] | None  # weak references to outputs with hooks or retain_grad
    trace: Any = None  # where the node was created (anomaly mode)
    non_differentiable: tuple[Any, ...] = ()
    materialize_grads = True
    output_modified = False  # an output that backward needs was changed in place

    def save_for_backward(self, *items: Any) -> None:
        """Keep values (inputs, outputs or intermediates) for ``backward``."""
        self.saved_tensors = items

    def mark_non_differentiable(self, *outputs: Any) -> None:
        """Declare outputs (e.g. indices) that carry no gradient."""
        self.non_differentiable = tuple(o._data if isinstance(o, Tensor) else o for o in outputs)

    def set_materialize_grads(self, value: bool) -> None:
        """Whether missing output gradients reach ``backward`` as zeros (default) or as ``None``."""
        self.materialize_grads = value

    def name(self) -> str:
        """The node's name in PyTorch's style: ``MulBackward0`` for built-ins, ``MyFnBackward`` for
        custom Functions."""
        return f"{self.fn.__name__}Backward{'0' if self.fn.backward_on_arrays else ''}"

    @property
    def next_functions(self) -> tuple[tuple[Any, int], ...]:
        """The nodes that produced this node's inputs (``None`` for leaves and constants)."""
        return tuple((t._node, t._out) if isinstance(t, Tensor) else (None, 0)
                     for t in self.inputs)

    def watch(self, t: Tensor) -> None:
        """Let the engine call ``t``'s hooks and keep its ``.grad`` when this node's grad is ready."""
        import weakref

        if self.watchers is None:
            self.watchers = []
        if not any(ref() is t for ref in self.watchers):
            self.watchers.append(weakref.ref(t))

    def __repr__(self) -> str:
        return f"<{self.name()}>"

    def __call__(self, *grads: Any) -> Any:
        """Apply this node's backward rule to output gradients (for inspection and tests)."""
        return self.fn.backward(self, *grads)


FunctionCtx = Node


class _NoRecord:
    """The ``ctx`` passed to ``forward`` when nothing is recorded: saving is a no-op."""

    def save_for_backward(self, *items: Any) -> None:
        pass

    def mark_non_differentiable(self, *outputs: Any) -> None:
        pass

    def set_materialize_grads(self, value: bool) -> None:
        pass

    needs_input_grad = (False,) * 16


NO_RECORD = _NoRecord()  # the ctx of an array forward run on its own (nothing recorded)


def _new_node(cls: type, args: tuple, needs: Any) -> Node:
    node = _new(Node)
    node.fn = cls
    node.inputs = args
    node.needs_input_grad = needs
    node.saved_tensors = ()
    node.seq = next_seq()
    node.out_data = None
    node.n_out = 1
    node.watchers = None
    if state.anomaly:
        node.trace = traceback.extract_stack()
    return node


def input_versions(args: tuple) -> list[int | None]:
    """The version of each tensor argument (None for other arguments). A list: a comprehension
    costs 0.4 µs where ``tuple(generator)`` costs 0.6 µs on the three arguments of a layer."""
    return [(0 if a._vc is None else a._vc[0]) if isinstance(a, Tensor) else None for a in args]


def _wrap_outputs(node: Node, out: Any) -> Any:
    """Wrap forward's array output(s) in tensors that point back at ``node``."""
    if type(out) is tuple:
        node.n_out = len(out)
        node.out_meta = tuple((o.shape, o.dtype) for o in out)
        results = []
        for i, o in enumerate(out):
            o = np.asarray(o)
            if o.dtype.kind == "f" and not any(o is nd for nd in node.non_differentiable):
                t = wrap(o, True, node)
                t._out = i
            else:
                t = wrap(o)
            results.append(t)
        return tuple(results)
    if out.__class__ is not np.ndarray:
        out = np.asarray(out)
    if out.dtype.kind != "f" or node.non_differentiable:
        return wrap(out)
    return wrap(out, True, node)


def _wrap_plain(out: Any) -> Any:
    if type(out) is tuple:
        return tuple(wrap(np.asarray(o)) for o in out)
    if out.__class__ is not np.ndarray:
        out = np.asarray(out)
    return wrap(out)


class Function:
    """Base class of differentiable operations; subclass it and call ``YourFunction.apply(...)``.

    ``forward(ctx, *args)`` computes the result from tensors (and other arguments) and may call
    ``ctx.save_for_backward``; ``backward(ctx, *grad_outputs)`` returns one gradient per argument of
    ``forward`` (``None`` for arguments that are not tensors or need none). ``ctx.needs_input_grad``
    tells which inputs need one. A backward written with differentiable tensor operations supports
    higher-order gradients automatically.
    """

    backward_on_arrays = False  # True for primitives: backward takes and returns NumPy arrays

    @staticmethod
    def forward(ctx: Node, *args: Any) -> Any:
        """Compute the output; override in subclasses."""
        raise NotImplementedError("Function subclasses must implement forward(ctx, *args)")

    @staticmethod
    def backward(ctx: Node, *grad_outputs: Any) -> Any:
        """Return the gradient for each forward argument; override in subclasses."""
        raise NotImplementedError("Function subclasses must implement backward(ctx, *grad_outputs)")

    @classmethod
    def apply(cls, *args: Any) -> Any:
        """Run ``forward`` on tensors and record the operation when a gradient is needed."""
        needs = tuple([isinstance(a, Tensor) and a.requires_grad for a in args])
        record = state.enabled and any(needs)
        node = _new_node(cls, args, needs) if record else None
        previous = state.enabled
        state.enabled = False
        try:
            out = cls.forward(node if record else _new_node(cls, args, needs), *args)
        finally:
            state.enabled = previous
        arrays_out = tuple(o._data for o in out) if type(out) is tuple else _data_of(out, cls)
        if not record:
            return _wrap_plain(arrays_out)
        assert node is not None
        node.saved_versions = input_versions(args)
        node.out_data = arrays_out
        return _wrap_outputs(node, arrays_out)


def _data_of(out: Any, cls: type) -> np.ndarray:
    if not isinstance(out, Tensor):
        raise ChainruleError(f"{cls.__name__}.forward must return a Tensor or a tuple of Tensors, "
                             f"got {type(out).__name__}")
    return out._data


class Primitive(Function):
    """A built-in operation whose ``forward``/``backward`` work on NumPy arrays (see module doc)."""

    backward_on_arrays = True

    @classmethod
    def apply(cls, *args: Any) -> Any:
        """Unwrap tensors, run the array forward, and record a node if some input needs a gradient."""
        arrays = []
        if not state.enabled:  # no_grad (inference): only unwrap
            for a in args:
                arrays.append(a._data if isinstance(a, Tensor) else a)
            record = False
        else:
            needs = []
            record = versioned = False
            for a in args:
                if isinstance(a, Tensor):
                    arrays.append(a._data)
                    if a.requires_grad:
                        record = True
                        needs.append(True)
                    else:
                        needs.append(False)
                    if a._vc is not None:
                        versioned = True
                else:
                    arrays.append(a)
                    needs.append(False)
        if record:
            # _new_node, written out: this runs on every recorded operation, and a call costs
            node = _new(Node)
            node.fn = cls
            node.inputs = args
            node.needs_input_grad = needs
            node.saved_tensors = ()
            node.seq = next_seq()
            node.n_out = 1
            node.watchers = None
            if versioned:
                node.saved_versions = input_versions(args)
            if state.anomaly:
                node.trace = traceback.extract_stack()[:-2]
            node.out_data = out = cls.forward(node, *arrays)  # (a recorded backward re-attaches it)
            if out.__class__ is np.ndarray and out.dtype.kind == "f":  # wrap(), written out (1% of a chain)
                t = _new(Tensor)
                t._data = out
                t.requires_grad = True
                t._node = node
                t._out = 0
                t._vc = t._extra = None
                return t
            return _wrap_outputs(node, out)
        out = cls.forward(NO_RECORD, *arrays)
        return wrap(out) if out.__class__ is np.ndarray else _wrap_plain(out)


def run_primitive(primitive: type[Primitive], *args: Any) -> Any:
    """Apply ``primitive`` recorded when some argument is a tensor, else run its array forward directly.

    Backward rules that are themselves primitives call this: in an ordinary backward (arrays) it costs
    nothing over the forward, and in a recorded one (``create_graph=True``, tensors) it builds a
    differentiable graph.
    """
    for a in args:
        if isinstance(a, Tensor):
            return primitive.apply(*args)
    return primitive.forward(NO_RECORD, *args)
