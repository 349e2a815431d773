"""``Optimizer``: parameter groups, per-parameter state, ``step``, ``zero_grad`` and state dicts.

Every optimizer follows PyTorch's model. ``param_groups`` is a list of dicts, each holding its
``params`` and its own copy of every hyperparameter (the constructor's values fill what a group
leaves out); ``state`` maps each parameter to a dict of its running statistics (chainrule tensors
and step counts). A subclass states its update rule in its docstring, checks its hyperparameters in
``_check_group`` and implements ``_update(p, grad, state, group)`` on NumPy arrays, in place with
``out=``; the base class walks the groups, skips parameters without a gradient and bumps each
updated parameter's version counter (so a graph that saved the old value refuses to backpropagate).
"""

from __future__ import annotations

import copy
import math
import numbers
import warnings
from collections import defaultdict
from typing import Any, Callable, Iterable

import numpy as np

from chainrule import recording
from chainrule.autograd.engine import clear_grads
from chainrule.autograd import grad_mode
from chainrule.autograd.grad_mode import enable_grad
from chainrule.errors import ChainruleError
from chainrule.recording import replayed_call
from chainrule.tensor import Tensor, wrap

ParamsT = Iterable[Tensor] | Iterable[dict[str, Any]] | Iterable[tuple[str, Tensor]]


def check_number(owner: str, name: str, value: Any, low: float = 0.0, high: float = math.inf,
                 high_open: bool = False) -> None:
    """Raise a clear error unless ``value`` is a real number in ``[low, high]`` (``[low, high)`` when
    ``high_open``)."""
    is_number = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if not is_number or not (low <= value < high if high_open else low <= value <= high):
        bounds = f"in [{low:g}, {high:g}{')' if high_open else ']'}" if high != math.inf else f">= {low:g}"
        raise ChainruleError(f"{owner}: invalid {name} {value!r}: expected a Python number {bounds}")


def check_flags(owner: str, differentiable: bool) -> None:
    """PyTorch's ``foreach``, ``fused`` and ``capturable`` choose an implementation and are accepted;
    ``differentiable=True`` (autograd through the update itself) is not supported."""
    if differentiable:
        raise ChainruleError(f"{owner}: differentiable=True (recording the optimizer step in the autograd "
                             "graph) is not supported; leave it False")


def state_array(state: dict[str, Any], name: str, like: np.ndarray, fill: float = 0.0) -> np.ndarray:
    """The array of ``state[name]``, created on first use as a tensor of ``fill`` shaped like ``like``."""
    if name not in state:
        state[name] = wrap(np.full_like(like, fill))
    return state[name]._data


class Optimizer:
    """The base of all optimizers: ``Optimizer(params, defaults)``.

    ``params`` is an iterable of tensors, of ``(name, tensor)`` pairs (``model.named_parameters()``)
    or of dicts ``{'params': [...], 'lr': ...}`` (parameter groups with their own hyperparameters).
    """

    def __init__(self, params: ParamsT, defaults: dict[str, Any]) -> None:
        owner = type(self).__name__
        if isinstance(params, Tensor):
            raise ChainruleError(f"{owner}: params must be an iterable of tensors or dicts, got a single "
                                 "Tensor; pass [tensor] or model.parameters()")
        if isinstance(params, set):
            raise ChainruleError(f"{owner}: parameters must be in an ordered collection (a list), not a set, "
                                 "so that their order (and state_dict indices) is the same every run")
        self.defaults = defaults
        self._check_group(defaults)
        self.state: defaultdict[Tensor, dict[str, Any]] = defaultdict(dict)
        self.param_groups: list[dict[str, Any]] = []
        self._scratch: dict[tuple[np.dtype, int], np.ndarray] = {}
        groups = list(params)
        if not groups:
            raise ChainruleError(f"{owner}: got an empty parameter list; pass model.parameters() of a "
                                 "model that has parameters")
        for group in groups if isinstance(groups[0], dict) else [{"params": groups}]:
            self.add_param_group(group)

    # ------------------------------------------------------------------ subclass interface
    def _check_group(self, group: dict[str, Any]) -> None:
        """Raise a clear error for an invalid hyperparameter of ``group`` (or of the defaults)."""

    def _update(self, p: Tensor, grad: np.ndarray, state: dict[str, Any], group: dict[str, Any]) -> None:
        """Update ``p._data`` in place from ``grad`` (an array), ``state`` and ``group``'s hyperparameters."""
        raise NotImplementedError

    # ------------------------------------------------------------------ the step
    @replayed_call
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that has a gradient; ``closure`` (re-evaluating the loss with grad
        enabled) is called first and its value returned."""
        loss = None
        if closure is not None:
            recording.refuse("Optimizer.step with a closure", "call the closure's work in the step itself")
            with enable_grad():
                loss = closure()
        previous = grad_mode.state.enabled
        grad_mode.state.enabled = False  # no_grad(), without making a context object at each step
        try:
            states = self.state
            for group in self.param_groups:
                for p in group["params"]:
                    grad = p.grad
                    if grad is not None:
                        self._update(p, grad._data, states[p], group)
                        p._bump_version()
        finally:
            grad_mode.state.enabled = previous
        return loss

    @replayed_call
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Drop every parameter's gradient (``set_to_none=True``) or fill it with zeros in place."""
        clear_grads((p for group in self.param_groups for p in group["params"]), set_to_none)

    def _buffer(self, like: np.ndarray, slot: int = 0) -> np.ndarray:
        """Scratch memory shaped like ``like``, shared by all parameters and steps (never stored in
        ``state``), so that updates allocate nothing."""
        flat = self._scratch.get((like.dtype, slot))
        if flat is None or flat.size < like.size:
            flat = self._scratch[(like.dtype, slot)] = np.empty(like.size, like.dtype)
        return flat[:like.size].reshape(like.shape)

    def _grad(self, p: Tensor, grad: np.ndarray, weight_decay: float, maximize: bool) -> np.ndarray:
        """The gradient an update uses, ``±grad + weight_decay · p`` (−grad when maximizing), computed
        in scratch memory: ``p.grad`` itself is never changed."""
        if weight_decay == 0:
            return np.negative(grad, out=self._buffer(grad, 1)) if maximize else grad
        out = np.multiply(p._data, weight_decay, out=self._buffer(p._data, 1))
        return np.subtract(out, grad, out=out) if maximize else np.add(out, grad, out=out)

    # ------------------------------------------------------------------ groups
    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters with its own hyperparameters (the defaults fill the rest)."""
        owner = f"{type(self).__name__}.add_param_group"
        if not isinstance(param_group, dict) or "params" not in param_group:
            raise ChainruleError(f"{owner}: a parameter group must be a dict with a 'params' entry, "
                                 f"got {type(param_group).__name__}")
        params = param_group["params"]
        if isinstance(params, set):
            raise ChainruleError(f"{owner}: parameters must be in an ordered collection (a list), not a "
                                 "set, so that the order (and state_dict indices) is the same every run")
        params = [params] if isinstance(params, Tensor) else list(params)
        named = [isinstance(p, tuple) for p in params]
        if any(named) and not all(named):
            raise ChainruleError(f"{owner}: give all parameters with names ((name, tensor) pairs) or none")
        group = {**self.defaults, **param_group}
        if any(named):
            group["param_names"] = [name for name, _ in params]
            params = [p for _, p in params]
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise ChainruleError(f"{owner}: can only optimize Tensors, but parameter {i} is a "
                                     f"{type(p).__name__}")
            if not (p.is_leaf or p.retains_grad):
                raise ChainruleError(f"{owner}: parameter {i} (shape {tuple(p.shape)}) is not a leaf "
                                     "tensor (it is the result of an operation); optimize the tensors "
                                     "you created with requires_grad=True")
        ids = {id(p) for p in params}
        if len(ids) != len(params):
            warnings.warn(f"{owner}: a parameter group contains the same parameter more than once; it "
                          "will be updated once per occurrence", stacklevel=2)
        if any(id(p) in ids for g in self.param_groups for p in g["params"]):
            raise ChainruleError(f"{owner}: some parameters appear in more than one parameter group")
        if self.param_groups and ("param_names" in group) != ("param_names" in self.param_groups[0]):
            raise ChainruleError(f"{owner}: all parameter groups must be given with names or all without")
        group["params"] = params
        self._check_group(group)
        self.param_groups.append(group)

    # ------------------------------------------------------------------ state dicts
    def state_dict(self) -> dict[str, Any]:
        """``{'state': {index: {...}}, 'param_groups': [{..., 'params': [indices]}]}``, as PyTorch:
        parameters are numbered in group order; tensors in it are the optimizer's own (not copies)."""
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            for p in group["params"]:
                index.setdefault(id(p), len(index))
            groups.append({**{k: v for k, v in group.items() if k != "params"},
                           "params": [index[id(p)] for p in group["params"]]})
        state = {index[id(p)]: dict(s) for p, s in self.state.items() if s}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore hyperparameters and state from ``state_dict()`` (of an optimizer over parameters of
        the same shapes, in the same order); tensors are copied and cast to each parameter's dtype.
        Index keys may be strings (as after a JSON round trip)."""
        owner = f"{type(self).__name__}.load_state_dict"
        if not isinstance(state_dict, dict) or not {"state", "param_groups"} <= state_dict.keys():
            raise ChainruleError(f"{owner}: expected a dict with 'state' and 'param_groups' (from "
                                 "Optimizer.state_dict()), got " + (f"keys {sorted(state_dict)}"
                                 if isinstance(state_dict, dict) else type(state_dict).__name__))
        saved = state_dict["param_groups"]
        sizes = [len(g["params"]) for g in self.param_groups]
        saved_sizes = [len(g["params"]) for g in saved]
        if sizes != saved_sizes:
            raise ChainruleError(f"{owner}: the saved state has parameter groups of sizes {saved_sizes}, "
                                 f"this optimizer has {sizes}; load it into an optimizer built the same way")
        params = {int(i): p for g, s in zip(self.param_groups, saved) for i, p in zip(s["params"], g["params"])}
        state: defaultdict[Tensor, dict[str, Any]] = defaultdict(dict)
        for key, values in state_dict["state"].items():
            if int(key) not in params:
                raise ChainruleError(f"{owner}: the saved state has an entry for parameter {key}, which is "
                                     f"in none of the saved parameter groups")
            p = params[int(key)]
            state[p] = {name: _restore(owner, name, value, p, key) for name, value in values.items()}
        groups = []
        for group, saved_group in zip(self.param_groups, saved):
            new = {**self.defaults, **copy.deepcopy({k: v for k, v in saved_group.items() if k != "params"})}
            if "param_names" in group:
                new.setdefault("param_names", group["param_names"])
            new["params"] = group["params"]
            self._check_group(new)
            groups.append(new)
        self.state, self.param_groups = state, groups

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {key}: {group[key]}" for key in sorted(group) if key != "params"]
        return "\n".join(lines) + "\n)"


def _restore(owner: str, name: str, value: Any, p: Tensor, index: Any) -> Any:
    """A saved state value for parameter ``p``: arrays and tensors copied (floating ones cast to the
    parameter's dtype) after checking the shape; a 0-d ``step`` tensor becomes a number."""
    if isinstance(value, Tensor):
        value = value._data
    if not isinstance(value, np.ndarray):
        return value
    if name == "step" and value.ndim == 0:
        return int(value) if float(value).is_integer() else float(value)
    if value.shape != p._data.shape:
        raise ChainruleError(f"{owner}: state {name!r} of parameter {index} has shape {value.shape}, but "
                             f"the parameter has shape {p._data.shape}; the checkpoint belongs to another model")
    dtype = p._data.dtype if value.dtype.kind == "f" else value.dtype
    return wrap(np.array(value, dtype=dtype))
