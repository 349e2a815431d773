"""``chainrule.compile(step_fn)``: record one call of a step, replay the recording at the next calls.

The first call with given argument shapes runs ``step_fn`` eagerly and records, as it goes, every
primitive operation it runs (with the arrays' positions, not their values), the schedule of its
backward pass (which node's rule runs when, and where each gradient goes), and the calls that change
state outside operations (``optimizer.step()``, ``zero_grad()``, a scheduler's ``step()``, gradient
clipping). Later calls with the same shapes, dtypes and plain arguments replay that recording: each
operation's array ``forward`` and ``backward`` rule runs on the new arrays, in the recorded order,
without the Python around them (modules, functional wrappers, argument checks, graph nodes, the
backward walk). The numbers are the same as eager mode's, bit for bit: the same NumPy calls run on
the same values in the same order.

A step can be replayed when everything that depends on its tensors' values goes through chainrule's
operations (dropout's mask is drawn inside its operation: each replay draws a new one, as eager mode
would). The recording refuses, with an error naming the cause, what it could not replay faithfully:
reading a value in Python (``item()``, ``bool()``, ``print``), random draws outside an operation
(``randn`` in the step, an in-place dropout's mask), in-place operations, ``autograd.grad``, custom
``Function``\\ s, hooks, ``retain_graph``/``create_graph``, an operation argument computed outside the
operations (an array or object), a tensor derived from the step's values outside an operation
(``detach()``), and a ``.grad`` used as an operation's input. Other Python side effects of
``step_fn`` (printing, counting, switching ``train()``/``eval()``) happen while recording only.
Replayed calls return new tensors holding the results, outside any graph, and the tensors the step
used (its parameters, buffers and constants) are the ones it used when it was recorded: replacing a
parameter object needs a new ``compile``. Recording switches some of chainrule's methods for its
duration: record in one thread at a time.
"""

from __future__ import annotations

import builtins
import functools
from collections.abc import Iterator
from typing import Any, Callable

import numpy as np

from chainrule import recording
from chainrule.autograd import engine
from chainrule.autograd.function import NO_RECORD, Function, Node, Primitive
from chainrule.autograd.grad_mode import state
from chainrule.errors import ChainruleError
from chainrule.tensor import Tensor, wrap

__all__ = ["compile", "CompiledStep"]

# values an operation may receive besides tensors: they cannot depend on the step's data
_PLAIN = (type(None), bool, int, float, complex, str, bytes, np.dtype, np.generic, slice, type(Ellipsis), range,
          type)
# the Tensor methods that hand a value to Python, refused while recording
_VALUE_READS = ("item", "tolist", "numpy", "__array__", "__bool__", "__float__", "__int__", "__index__",
                "__repr__")


def _is_plain(value: Any) -> bool:
    if isinstance(value, _PLAIN):
        return True
    if isinstance(value, np.ndarray) and value.ndim == 0 and not value.flags.writeable:
        return True  # a Python number as a cached read-only 0-d array (the operators' scalars)
    return isinstance(value, (tuple, list, frozenset)) and all(_is_plain(v) for v in value)


def _root(array: Any) -> Any:
    """The array that owns the memory ``array`` views."""
    while isinstance(array, np.ndarray) and isinstance(array.base, np.ndarray):
        array = array.base
    return array


class _Recorder:
    """Records one eager run of a step into a list of replay actions (see the module docstring)."""

    def __init__(self, inputs: list[Tensor]) -> None:
        self.actions: list[Callable[[], None]] = []
        self.depth = 0  # > 0 inside a recorded operation or call: what runs there is part of it
        self.kept: list[Tensor] = []  # the tensors the recording produced or received, kept alive for their ids
        self.known: set[int] = set()
        self.roots: set[int] = set()  # the memory of their arrays
        self.checked: set[int] = set()  # external tensors already checked
        self.nodes: set[Node] = set()
        for t in inputs:
            self._produced(t)

    # ------------------------------------------------------------------ refusals
    def refuse(self, what: str, fix: str) -> None:
        raise ChainruleError(f"compile: the step cannot be recorded for replay: it uses {what}; {fix}")

    def _produced(self, t: Tensor) -> None:
        self.kept.append(t)
        self.known.add(id(t))
        self.roots.add(id(_root(t._data)))

    def _check_tensor(self, t: Tensor, where: str) -> None:
        """Accept a tensor that the recording did not produce only if it cannot depend on the step's data."""
        if id(t) in self.known or id(t) in self.checked:
            return
        if t._node is not None:
            self.refuse(f"a tensor with a recorded history from before the step ({where})",
                        "compute it inside the step, or detach it first")
        if id(_root(t._data)) in self.roots:
            self.refuse(f"a tensor sharing memory with the step's values but made outside its operations "
                        f"({where}; e.g. by detach() or .data)", "use the tensor itself, or run this step eagerly")
        if any(t is seen.grad for seen in self.kept):  # (the parameters are among them)
            self.refuse(f"a gradient (.grad) as the input of {where}", "read gradients in an optimizer, or run "
                        "this step eagerly")
        self.checked.add(id(t))
        self.kept.append(t)

    # ------------------------------------------------------------------ operations
    def primitive(self, apply: Callable[..., Any], cls: type[Primitive], args: tuple[Any, ...]) -> Any:
        for a in args:
            if isinstance(a, Tensor):
                self._check_tensor(a, cls.__name__)
            elif not _is_plain(a):
                self.refuse(f"{cls.__name__} with an argument of type {type(a).__name__} computed outside the "
                            "recorded operations", "pass tensors and plain Python values only, or run this "
                            "step eagerly")
        self.depth += 1
        try:
            out = apply(cls, *args)
        finally:
            self.depth -= 1
        outs = out if type(out) is tuple else (out,)
        node = next((o._node for o in outs if o._node is not None), None)
        for o in outs:
            self._produced(o)
        if node is not None:
            self.nodes.add(node)
        self.actions.append(_replay_primitive(cls, args, node, outs))
        return out

    def call(self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        # an iterator (model.parameters()) would be used up by the first call: keep its items
        args = tuple(list(a) if isinstance(a, Iterator) else a for a in args)
        kwargs = {k: list(v) if isinstance(v, Iterator) else v for k, v in kwargs.items()}
        self.depth += 1
        try:
            result = fn(*args, **kwargs)
        finally:
            self.depth -= 1
        for t in _tensors_in(result):
            self._produced(t)
        self.actions.append(_replay_call(fn, args, kwargs, result))
        return result

    def backward(self, outputs: tuple[Tensor, ...], gradients: Any, retain_graph: bool, create_graph: bool,
                 inputs: Any) -> None:
        if self.depth:
            return
        if create_graph or retain_graph or inputs is not None:
            self.refuse("backward with create_graph, retain_graph or inputs", "call backward() on the loss alone")
        if state.anomaly:
            self.refuse("anomaly detection", "turn it off for the compiled step")
        gradients = (None,) * len(outputs) if gradients is None else tuple(gradients)
        for out, g in zip(outputs, gradients):
            if not isinstance(out, Tensor) or id(out) not in self.known or out._node is None:
                self.refuse("backward from a tensor that the step's operations did not compute",
                            "call backward on the loss computed in the step")
            if isinstance(g, Tensor):
                self._check_tensor(g, "backward's gradient")
            elif g is not None:
                self.refuse(f"backward with a gradient of type {type(g).__name__}", "pass it as a tensor")
        self.actions.append(self._schedule(outputs, gradients))

    def _schedule(self, outputs: tuple[Tensor, ...], gradients: tuple[Any, ...]) -> Callable[[], None]:
        """The backward pass from ``outputs`` as a fixed schedule: the engine's walk runs the reachable
        nodes from the newest down (see :func:`chainrule.autograd.engine._walk`), so their order and
        every gradient's destination are known before it runs."""
        found: set[Node] = set()
        stack = [out._node for out in outputs]
        while stack:
            node = stack.pop()
            if node in found:
                continue
            if node not in self.nodes:
                self.refuse("a backward pass through operations from before the step", "compute the loss "
                            "inside the step")
            if node.watchers is not None:
                self.refuse("a hook or retain_grad() on an intermediate tensor", "run this step eagerly")
            found.add(node)
            for i, t in enumerate(node.inputs):
                if node.needs_input_grad[i]:
                    parent, _ = engine.producer(t, node, i)
                    if parent is not None:
                        stack.append(parent)
        plan = []
        for node in sorted(found, key=lambda n: -n.seq):
            edges = []  # (input position, input tensor, its producer (None for a leaf), the producer's output)
            for i, t in enumerate(node.inputs):
                if not node.needs_input_grad[i]:
                    continue
                parent, out = engine.producer(t, node, i)
                if parent is None and t._extra is not None and t._extra.hooks:
                    self.refuse("a hook on a parameter", "run this step eagerly")
                edges.append((i, t, parent, out))
            plan.append((node, edges))
        return _replay_backward(plan, outputs, gradients)


def _replay_primitive(cls: type[Primitive], args: tuple[Any, ...], node: Node | None,
                      outs: tuple[Tensor, ...]) -> Callable[[], None]:
    """An operation's replay: its array ``forward`` on the current arrays of its tensor arguments,
    the result rebound into the tensors it produced when recorded."""
    forward = cls.forward
    is_tensor = [isinstance(a, Tensor) for a in args]
    only_tensors = all(is_tensor)
    ctx = NO_RECORD if node is None else node

    def run() -> None:
        if only_tensors:
            arrays = [a._data for a in args]
        else:
            arrays = [a._data if tensor else a for a, tensor in zip(args, is_tensor)]
        if node is not None:
            node.inputs = args
            node.saved_tensors = ()
        out = forward(ctx, *arrays)
        if node is not None:
            node.out_data = out
        if len(outs) == 1 and type(out) is not tuple:
            outs[0]._data = out if out.__class__ is np.ndarray else np.asarray(out)
        else:
            for t, o in zip(outs, out):
                t._data = np.asarray(o)

    return run


def _replay_call(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any],
                 recorded: Any) -> Callable[[], None]:
    recorded_tensors = _tensors_in(recorded)

    def run() -> None:
        result = fn(*args, **kwargs)
        if recorded_tensors:
            for t, new in zip(recorded_tensors, _tensors_in(result)):
                t._data = new._data

    return run


def _tensors_in(result: Any) -> list[Tensor]:
    """The tensors a call returned: itself, or those in a returned tuple."""
    if isinstance(result, Tensor):
        return [result]
    return [r for r in result if isinstance(r, Tensor)] if isinstance(result, tuple) else []


Plan = list[tuple[Node, list[tuple[int, Tensor, "Node | None", int]]]]  # see _Recorder._schedule


def _replay_backward(plan: Plan, outputs: tuple[Tensor, ...], gradients: tuple[Any, ...]) -> Callable[[], None]:
    """The backward pass of a schedule: what :func:`chainrule.autograd.engine.backward` does for it,
    in the same order (so the same sums in the same order), without finding the order."""

    def run() -> None:
        previous = state.enabled
        state.enabled = False
        try:
            targets = list(_walk(plan, outputs, gradients).items())
            while targets:  # the gradient arrays are adopted, not copied, when nothing else holds them
                t, g = targets.pop()
                if t.requires_grad:
                    engine._accumulate_grad(t, g, False)
        finally:
            state.enabled = previous

    return run


def _walk(plan: Plan, outputs: tuple[Tensor, ...], gradients: tuple[Any, ...]) -> dict[Tensor, Any]:
    """Run the schedule's backward rules; return the summed gradient of each leaf."""
    grads: dict[Node, Any] = {}
    for out, g in zip(outputs, engine._root_gradients(outputs, gradients, False)):
        _add(grads, out._node, out._out, g)
    leaf_grads: dict[Tensor, Any] = {}
    for node, edges in plan:
        g = grads.pop(node, None)
        if g is None:
            continue  # no gradient reached it (a rule returned None): the engine never runs it
        in_grads = node.fn.backward(node, g) if node.n_out == 1 else engine._call_backward(node, g, False)
        for i, t, parent, out in edges:
            gi = in_grads[i]
            if gi is None:
                continue
            tdata = t._data
            if gi.shape != tdata.shape:
                gi = engine.sum_to_shape(gi, tdata.shape)
            if gi.dtype is not tdata.dtype and gi.dtype != tdata.dtype:
                gi = gi.astype(tdata.dtype)
            if parent is None:
                old = leaf_grads.get(t)
                leaf_grads[t] = gi if old is None else old + gi
            else:
                _add(grads, parent, out, gi)
        node.saved_tensors = None  # frees what forward saved, as the engine does
        node.inputs = ()
        node.out_data = None
    return leaf_grads


def _add(grads: dict[Node, Any], node: Node, out: int, g: Any) -> None:
    """Add ``g`` to the gradient of ``node``'s output ``out``, as the engine adds it."""
    if node.n_out == 1:
        old = grads.get(node)
        grads[node] = g if old is None else old + g
    else:
        engine._accumulate_multi(grads, node, out, g)


# ---------------------------------------------------------------------------- the recording's switches
def _refusing_read(name: str, original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def read(self: Tensor, *args: Any, **kwargs: Any) -> Any:
        recording.refuse(f"a tensor's value in Python (Tensor.{name})", "return the tensor from the step and "
                         "read it after the call")
        return original(self, *args, **kwargs)

    return read


def _run_recording(recorder: _Recorder, fn: Callable[..., Any], args: tuple[Any, ...],
                   kwargs: dict[str, Any]) -> Any:
    """Call ``fn`` with the recorder listening: operations are recorded, Python reads of values refused."""
    primitive_apply = Primitive.__dict__["apply"]
    function_apply = Function.__dict__["apply"]
    reads = {name: Tensor.__dict__[name] for name in _VALUE_READS}

    def recorded_apply(cls: type[Primitive], *call_args: Any) -> Any:
        if recorder.depth:
            return primitive_apply.__func__(cls, *call_args)
        return recorder.primitive(primitive_apply.__func__, cls, call_args)

    def refused_apply(cls: type[Function], *call_args: Any) -> Any:
        recording.refuse(f"the custom Function {cls.__name__}", "run this step eagerly")
        return function_apply.__func__(cls, *call_args)

    recording.active = recorder
    Primitive.apply = classmethod(recorded_apply)  # type: ignore[method-assign, assignment]
    Function.apply = classmethod(refused_apply)  # type: ignore[method-assign, assignment]
    for name, original in reads.items():
        setattr(Tensor, name, _refusing_read(name, original))
    try:
        return fn(*args, **kwargs)
    finally:
        recording.active = None
        Primitive.apply = primitive_apply  # type: ignore[method-assign]
        Function.apply = function_apply  # type: ignore[method-assign]
        for name, original in reads.items():
            setattr(Tensor, name, original)


# ---------------------------------------------------------------------------- results and arguments
def _signature(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    """What a recording is valid for: each tensor argument's shape and dtype, every other argument's
    type and value, and the grad mode."""
    key = []
    for a in args:
        if a.__class__ is Tensor and not a.requires_grad:  # the common case, first
            key.append((a._data.shape, a._data.dtype))
        else:
            key.append(_describe(a))
    if kwargs:
        key.append(tuple((k, _describe(v)) for k, v in sorted(kwargs.items())))
    key.append(state.enabled)
    return tuple(key)


def _describe(value: Any) -> Any:
    if isinstance(value, Tensor):
        if value.requires_grad:
            raise ChainruleError(f"compile: a tensor argument of shape {tuple(value.shape)} requires grad; "
                                 "pass inputs that do not (the parameters the step uses are found by it)")
        return ("tensor", value._data.shape, value._data.dtype)
    if isinstance(value, (tuple, list, dict)) and any(isinstance(v, Tensor) for v in
                                                      (value.values() if isinstance(value, dict) else value)):
        raise ChainruleError(f"compile: tensors inside a {type(value).__name__} argument are not supported; "
                             "pass each tensor as an argument of its own")
    try:
        hash(value)
    except TypeError:
        raise ChainruleError(f"compile: an argument of type {type(value).__name__} cannot be told apart from "
                             "the next call's; pass tensors and hashable values") from None
    return (type(value), value)


def _result_template(result: Any, recorder: _Recorder) -> Callable[[], Any]:
    """A function building a replay's result shaped like the recorded ``result``: the step's own tensors
    as new tensors holding the replay's values, everything else as it was."""
    if isinstance(result, Tensor):
        if id(result) in recorder.known:
            return lambda: wrap(result._data)
        return lambda: result
    if isinstance(result, (tuple, list)):
        parts = [_result_template(r, recorder) for r in result]
        kind = type(result)
        if kind is tuple or kind is list:
            return lambda: kind(p() for p in parts)
        return lambda: kind(*(p() for p in parts))  # a named tuple
    if isinstance(result, dict):
        items = [(k, _result_template(v, recorder)) for k, v in result.items()]
        return lambda: {k: p() for k, p in items}
    return lambda: result


class _Recording:
    """One recorded step: the stand-ins of its tensor arguments, its actions, and its result's shape."""

    def __init__(self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        # stand-ins share the arguments' arrays; a replay points them at the new arguments' arrays
        args = tuple(wrap(a._data) if isinstance(a, Tensor) else a for a in args)
        kwargs = {k: wrap(v._data) if isinstance(v, Tensor) else v for k, v in kwargs.items()}
        self.stand_ins = [a for a in _in_order(args, kwargs) if isinstance(a, Tensor)]
        recorder = _Recorder(self.stand_ins)
        self.result = _run_recording(recorder, fn, args, kwargs)
        self.actions = recorder.actions
        self.build_result = _result_template(self.result, recorder)

    def replay(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        tensors = [a for a in _in_order(args, kwargs) if isinstance(a, Tensor)]
        for stand_in, t in zip(self.stand_ins, tensors):
            stand_in._data = t._data
        for action in self.actions:
            action()
        return self.build_result()


def _in_order(args: tuple[Any, ...], kwargs: dict[str, Any]) -> list[Any]:
    """The arguments, keyword arguments sorted by name (as in :func:`_signature`)."""
    return [*args, *(v for _, v in sorted(kwargs.items()))]


class CompiledStep:
    """``step_fn`` recorded at its first call for each argument signature and replayed afterwards
    (see :func:`compile`)."""

    def __init__(self, step_fn: Callable[..., Any]) -> None:
        self.step_fn = step_fn
        self._recordings: dict[tuple[Any, ...], _Recording] = {}
        functools.update_wrapper(self, step_fn)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if recording.active is not None:
            raise ChainruleError("compile: a compiled step called while another step is being recorded; "
                                 "compile the outer step only")
        key = _signature(args, kwargs)
        recorded = self._recordings.get(key)
        if recorded is None:
            recorded = _Recording(self.step_fn, args, kwargs)
            self._recordings[key] = recorded
            return recorded.result
        return recorded.replay(args, kwargs)

    def reset(self) -> None:
        """Forget the recordings: the next call records again (after changing the model, say)."""
        self._recordings.clear()


def compile(step_fn: Callable[..., Any]) -> CompiledStep:
    """An opt-in compiled version of ``step_fn`` (a training step, or an inference function).

    The first call with given tensor shapes and dtypes (and plain arguments, and grad mode) runs
    ``step_fn`` eagerly and records it; later such calls replay the recording, which skips the Python
    around every operation and gives the same numbers as eager mode. ``step_fn`` takes tensors (that
    do not require grad) and hashable values, and returns tensors (new ones at each replay, outside any
    graph), containers of them, or anything else, returned as recorded. What cannot be replayed is
    refused while recording, with an error saying why; see :mod:`chainrule.compiled` for the rules::

        step = chainrule.compile(lambda x, y: train_step(model, optimizer, x, y))
        for x, y in loader:
            loss = step(x, y)
    """
    if not builtins.callable(step_fn):
        raise ChainruleError(f"compile: expected a function, got {type(step_fn).__name__}")
    return CompiledStep(step_fn)
