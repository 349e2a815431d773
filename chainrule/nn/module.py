"""``Module``, ``Parameter`` and the containers ``Sequential``, ``ModuleList`` and ``ModuleDict``.

A module registers what is assigned to its attributes, as in PyTorch: a ``Parameter`` becomes one
of its parameters, a ``Module`` one of its children, and ``register_buffer`` adds a non-learnable
tensor (statistics, masks) that travels with ``state_dict`` and ``to(dtype)``::

    class MLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.hidden = nn.Linear(784, 128)   # a child: its weight and bias are found recursively
            self.out = nn.Linear(128, 10)

        def forward(self, x):
            return self.out(F.relu(self.hidden(x)))

``named_parameters()`` then yields ``hidden.weight``, ``hidden.bias``, ``out.weight``, ``out.bias``;
``state_dict()`` maps those names to the values and ``load_state_dict`` copies them back in place.
"""

from __future__ import annotations

import operator
from collections import OrderedDict, namedtuple
from itertools import islice
from typing import Any, Callable, Iterable, Iterator, Mapping

import numpy as np

from chainrule.dtype import from_numpy_dtype, get_default_dtype, to_numpy_dtype
from chainrule.autograd.engine import clear_grads
from chainrule.autograd import grad_mode
from chainrule.autograd.grad_mode import no_grad
from chainrule.errors import ChainruleError
from chainrule import recording
from chainrule.recording import replayed_call
from chainrule.nn.array_forward import run_sequential
from chainrule.nn.fused_runs import run_sequential_recorded
from chainrule.tensor import Tensor, _init, check_device, format_tensor, parse_to_arguments, wrap

__all__ = ["Parameter", "Module", "Sequential", "ModuleList", "ModuleDict"]

_new = object.__new__


# ---------------------------------------------------------------------------- Parameter
class Parameter(Tensor):
    """A leaf tensor that is a module's weight: assigning one to a ``Module`` attribute registers it,
    so that ``parameters()``, ``state_dict()`` and optimizers find it.

    ``Parameter(data)`` shares ``data``'s memory and version counter (as ``torch.nn.Parameter``) and
    requires grad by default. Operations on a parameter return plain tensors.
    """

    __slots__ = ()

    def __new__(cls, data: Tensor | np.ndarray | None = None, requires_grad: bool = True) -> Parameter:
        if data is None:
            data = wrap(np.empty(0, dtype=get_default_dtype().numpy))
        elif isinstance(data, np.ndarray):
            data = wrap(data)
        elif not isinstance(data, Tensor):
            raise ChainruleError(
                f"Parameter: expected a Tensor (or a NumPy array) as data, got {type(data).__name__}; "
                "make one first with chainrule.tensor(...)")
        p = _new(cls)
        _init(p, data._data, False, None)
        p._vc = data._shared_version_counter()
        if requires_grad:
            p.requires_grad_(True)
        return p

    def __init__(self, data: Tensor | np.ndarray | None = None, requires_grad: bool = True) -> None:
        pass  # all done in __new__ (Tensor.__init__ would copy the data)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + format_tensor(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> Parameter:
        if id(self) not in memo:
            copy = Parameter(self._data.copy(), self.requires_grad)
            if self.grad is not None:
                copy.grad = wrap(self.grad._data.copy())
            memo[id(self)] = copy
        return memo[id(self)]


# ---------------------------------------------------------------------------- Module
class _IncompatibleKeys(namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])):
    """What ``load_state_dict`` returns: the keys it did not find, and those it did not expect."""

    __slots__ = ()

    def __repr__(self) -> str:
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return super().__repr__()

    __str__ = __repr__


class RemovableHandle:
    """Returned by ``register_forward_hook`` and friends; ``remove()`` (or leaving a ``with`` block)
    unregisters the hook."""

    _next_id = 0

    def __init__(self, hooks: dict[int, Any]) -> None:
        self.hooks = hooks
        self.id = RemovableHandle._next_id
        RemovableHandle._next_id += 1

    def remove(self) -> None:
        """Unregister the hook (a no-op if it is gone already)."""
        self.hooks.pop(self.id, None)

    def __enter__(self) -> RemovableHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()


def _addindent(text: str, spaces: int) -> str:
    """Indent every line of ``text`` but the first (blank lines stay empty), as PyTorch's repr does."""
    first, *rest = text.split("\n")
    if not rest:
        return text
    return "\n".join([first] + [" " * spaces + line if line.strip() else "" for line in rest])


def _changed_options(module: Module, defaults: dict[str, Any]) -> str:
    """``", name=value"`` for each attribute of ``module`` named in ``defaults`` that is off its
    default, in that order, as PyTorch's reprs list them: an option whose default is None, True or
    False is off it unless it is that very object, any other unless it is equal to it."""
    shown = ""
    for name, default in defaults.items():
        value = getattr(module, name)
        if (value is not default) if default is None or isinstance(default, bool) else (value != default):
            shown += f", {name}={value}"
    return shown


def _check_name(kind: str, owner: Module, name: Any, existing: Mapping[str, Any]) -> None:
    """A new member's name must be a non-empty string without dots that no other attribute has."""
    if not isinstance(name, str):
        raise ChainruleError(f"{kind}: the name must be a string, got {type(name).__name__}")
    if not name or "." in name:
        raise ChainruleError(f'{kind}: the name must be non-empty and contain no ".", got {name!r}')
    if hasattr(owner, name) and name not in existing:
        raise ChainruleError(
            f"{kind}: {type(owner).__name__} already has an attribute {name!r}; choose another name "
            f"or delete the attribute first")


class Module:
    """Base class of every layer and model: subclass it, assign layers and ``Parameter``s in
    ``__init__`` (after ``super().__init__()``) and define ``forward``; call the module to run it."""

    training: bool
    _parameters: dict[str, Parameter | None]
    _buffers: dict[str, Tensor | None]
    _non_persistent_buffers_set: set[str]
    _modules: dict[str, Module | None]
    _forward_pre_hooks: dict[int, tuple[Callable[..., Any], bool]]  # handle id → (hook, with_kwargs)
    _forward_hooks: dict[int, tuple[Callable[..., Any], bool]]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if args or kwargs:
            raise ChainruleError(
                f"Module.__init__: unexpected arguments (positional {list(args)}, keyword {sorted(kwargs)}); "
                "a subclass should consume its own arguments before calling super().__init__()")
        setattr_ = object.__setattr__
        setattr_(self, "training", True)
        setattr_(self, "_parameters", {})
        setattr_(self, "_buffers", {})
        setattr_(self, "_non_persistent_buffers_set", set())
        setattr_(self, "_modules", {})
        setattr_(self, "_forward_pre_hooks", {})
        setattr_(self, "_forward_hooks", {})

    def _forward_unimplemented(self, *input: Any) -> None:
        raise NotImplementedError(f'Module [{type(self).__name__}] is missing the required "forward" function')

    forward = _forward_unimplemented

    # ------------------------------------------------------------------ calling
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self._forward_pre_hooks or self._forward_hooks:
            return self._call_with_hooks(args, kwargs)
        return self.forward(*args, **kwargs)

    def _call_with_hooks(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        for hook, with_kwargs in list(self._forward_pre_hooks.values()):
            if with_kwargs:
                result = hook(self, args, kwargs)
                if result is not None:
                    args, kwargs = result
            else:
                result = hook(self, args)
                if result is not None:
                    args = result if isinstance(result, tuple) else (result,)
        output = self.forward(*args, **kwargs)
        for hook, with_kwargs in list(self._forward_hooks.values()):
            result = hook(self, args, kwargs, output) if with_kwargs else hook(self, args, output)
            if result is not None:
                output = result
        return output

    @staticmethod
    def _add_hook(hooks: dict[int, tuple[Callable[..., Any], bool]], hook: Callable[..., Any], prepend: bool,
                  with_kwargs: bool) -> RemovableHandle:
        handle = RemovableHandle(hooks)
        if prepend:
            others = list(hooks.items())
            hooks.clear()
            hooks.update([(handle.id, (hook, with_kwargs))] + others)
        else:
            hooks[handle.id] = (hook, with_kwargs)
        return handle

    def register_forward_pre_hook(self, hook: Callable[..., Any], *, prepend: bool = False,
                                  with_kwargs: bool = False) -> RemovableHandle:
        """Call ``hook(module, args)`` before each ``forward``; a returned value replaces ``args``
        (with ``with_kwargs=True``: ``hook(module, args, kwargs)`` returning ``(args, kwargs)``)."""
        return self._add_hook(self._forward_pre_hooks, hook, prepend, with_kwargs)

    def register_forward_hook(self, hook: Callable[..., Any], *, prepend: bool = False, with_kwargs: bool = False,
                              always_call: bool = False) -> RemovableHandle:
        """Call ``hook(module, args, output)`` after each ``forward``; a returned value replaces the
        output (with ``with_kwargs=True``: ``hook(module, args, kwargs, output)``)."""
        if always_call:
            raise ChainruleError("register_forward_hook: always_call=True is not supported")
        return self._add_hook(self._forward_hooks, hook, prepend, with_kwargs)

    # ------------------------------------------------------------------ registration
    def __setattr__(self, name: str, value: Any) -> None:
        d = self.__dict__
        params = d.get("_parameters")
        if isinstance(value, Parameter):
            if params is None:
                raise ChainruleError(
                    f"{type(self).__name__}: cannot assign parameter {name!r} before Module.__init__() is "
                    "called; call super().__init__() first in __init__")
            self._forget(name, params)
            self.register_parameter(name, value)
        elif params is not None and name in params:
            if value is not None:
                raise ChainruleError(
                    f"{type(self).__name__}: cannot assign a {type(value).__name__} as parameter {name!r} "
                    "(a Parameter or None is expected); wrap it: nn.Parameter(value)")
            self.register_parameter(name, value)
        else:
            modules = d.get("_modules")
            if isinstance(value, Module):
                if modules is None:
                    raise ChainruleError(
                        f"{type(self).__name__}: cannot assign module {name!r} before Module.__init__() is "
                        "called; call super().__init__() first in __init__")
                self._forget(name, modules)
                modules[name] = value
            elif modules is not None and name in modules:
                if value is not None:
                    raise ChainruleError(
                        f"{type(self).__name__}: cannot assign a {type(value).__name__} as child module "
                        f"{name!r} (a Module or None is expected)")
                modules[name] = value
            else:
                buffers = d.get("_buffers")
                if buffers is not None and name in buffers:
                    if value is not None and not isinstance(value, Tensor):
                        raise ChainruleError(
                            f"{type(self).__name__}: cannot assign a {type(value).__name__} as buffer "
                            f"{name!r} (a Tensor or None is expected)")
                    buffers[name] = value
                else:
                    object.__setattr__(self, name, value)

    def _forget(self, name: str, keep: dict[str, Any]) -> None:
        """Remove ``name`` from the registries other than ``keep`` (where it is about to be set, in
        place, so that the order of registration stays)."""
        self.__dict__.pop(name, None)
        for registry in (self._parameters, self._buffers, self._modules):
            if registry is not keep:
                registry.pop(name, None)
        self._non_persistent_buffers_set.discard(name)

    def __getattr__(self, name: str) -> Any:
        # Only called when ordinary lookup fails: parameters, buffers and children live in registries.
        d = self.__dict__
        for registry in ("_parameters", "_buffers", "_modules"):
            members = d.get(registry)
            if members is not None and name in members:
                return members[name]
        hint = "" if "_parameters" in d else " (Module.__init__() has not run: call super().__init__() first)"
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'{hint}")

    def __delattr__(self, name: str) -> None:
        for registry in (self._parameters, self._buffers, self._modules):
            if name in registry:
                del registry[name]
                self._non_persistent_buffers_set.discard(name)
                return
        object.__delattr__(self, name)

    def __dir__(self) -> list[str]:
        keys = [*dir(type(self)), *self.__dict__, *self._parameters, *self._modules, *self._buffers]
        return sorted(key for key in set(keys) if not key[0].isdigit())

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Add ``param`` (a ``Parameter``, or ``None`` for an absent one such as ``bias=False``)."""
        if "_parameters" not in self.__dict__:
            raise ChainruleError("register_parameter: call Module.__init__() before registering parameters")
        _check_name("register_parameter", self, name, self._parameters)
        if param is not None and not isinstance(param, Parameter):
            raise ChainruleError(
                f"register_parameter: cannot register a {type(param).__name__} as parameter {name!r} "
                "(a Parameter or None is expected); wrap it: nn.Parameter(value)")
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """Add a tensor that is state but not a parameter (e.g. running statistics): it moves with
        ``to(dtype)`` and, if ``persistent``, is part of ``state_dict``."""
        if "_buffers" not in self.__dict__:
            raise ChainruleError("register_buffer: call Module.__init__() before registering buffers")
        _check_name("register_buffer", self, name, self._buffers)
        if tensor is not None and not isinstance(tensor, Tensor):
            raise ChainruleError(
                f"register_buffer: cannot register a {type(tensor).__name__} as buffer {name!r} "
                "(a Tensor or None is expected)")
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers_set.discard(name)
        else:
            self._non_persistent_buffers_set.add(name)

    def add_module(self, name: str, module: Module | None) -> None:
        """Add a child module (as ``self.name = module`` does)."""
        if module is not None and not isinstance(module, Module):
            raise ChainruleError(f"add_module: {type(module).__name__} is not a Module")
        _check_name("add_module", self, name, self._modules)
        self._modules[name] = module

    register_module = add_module

    def get_submodule(self, target: str) -> Module:
        """The submodule at the dotted path ``target`` (``''`` is this module)."""
        module = self
        if target:
            for i, item in enumerate(target.split(".")):
                child = module._modules.get(item) if isinstance(module, Module) else None
                if child is None:
                    path = ".".join(["self", *target.split(".")[:i]])
                    raise AttributeError(f"get_submodule: {path} ({type(module).__name__}) has no submodule "
                                         f"{item!r}")
                module = child
        return module

    def get_parameter(self, target: str) -> Parameter:
        """The parameter at the dotted path ``target``, e.g. ``'0.weight'``."""
        path, _, name = target.rpartition(".")
        module = self.get_submodule(path)
        if name not in module._parameters or module._parameters[name] is None:
            raise AttributeError(f"get_parameter: {type(module).__name__} has no parameter {name!r}")
        return module._parameters[name]  # type: ignore[return-value]

    def get_buffer(self, target: str) -> Tensor:
        """The buffer at the dotted path ``target``."""
        path, _, name = target.rpartition(".")
        module = self.get_submodule(path)
        if name not in module._buffers or module._buffers[name] is None:
            raise AttributeError(f"get_buffer: {type(module).__name__} has no buffer {name!r}")
        return module._buffers[name]  # type: ignore[return-value]

    # ------------------------------------------------------------------ traversal
    def _named_members(self, get_members: Callable[[Module], Iterable[tuple[str, Any]]], prefix: str,
                       recurse: bool, remove_duplicate: bool) -> Iterator[tuple[str, Any]]:
        seen: set[int] = set()
        modules = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) if recurse \
            else [(prefix, self)]
        for module_prefix, module in modules:
            for name, value in get_members(module):
                if value is None or (remove_duplicate and id(value) in seen):
                    continue
                if remove_duplicate:
                    seen.add(id(value))
                yield (module_prefix + "." + name if module_prefix else name), value

    def named_parameters(self, prefix: str = "", recurse: bool = True,
                         remove_duplicate: bool = True) -> Iterator[tuple[str, Parameter]]:
        """``(name, parameter)`` pairs, children's included (``'0.weight'``), each parameter once."""
        return self._named_members(lambda m: m._parameters.items(), prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        """Every parameter (children's included), each once: what an optimizer is given."""
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True,
                      remove_duplicate: bool = True) -> Iterator[tuple[str, Tensor]]:
        """``(name, buffer)`` pairs, children's included."""
        return self._named_members(lambda m: m._buffers.items(), prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        """Every buffer (children's included)."""
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """``(name, module)`` for each direct child, each once."""
        seen: set[int] = set()
        for name, module in self._modules.items():
            if module is not None and id(module) not in seen:
                seen.add(id(module))
                yield name, module

    def children(self) -> Iterator[Module]:
        """The direct children."""
        for _, module in self.named_children():
            yield module

    def named_modules(self, memo: set[Module] | None = None, prefix: str = "",
                      remove_duplicate: bool = True) -> Iterator[tuple[str, Module]]:
        """``(name, module)`` for this module (name ``''``) and every descendant, depth first."""
        if memo is None:
            memo = set()
        if remove_duplicate:
            if self in memo:
                return
            memo.add(self)
        yield prefix, self
        for name, module in self._modules.items():
            if module is not None:
                yield from module.named_modules(memo, prefix + "." + name if prefix else name, remove_duplicate)

    def modules(self) -> Iterator[Module]:
        """This module and every descendant, each once."""
        for _, module in self.named_modules():
            yield module

    def apply(self, fn: Callable[[Module], Any]) -> Module:
        """Call ``fn`` on every descendant, then on this module (e.g. custom initialisation)."""
        for module in self.children():
            module.apply(fn)
        fn(self)
        return self

    # ------------------------------------------------------------------ modes and gradients
    def train(self, mode: bool = True) -> Module:
        """Set training mode (``mode=True``) or evaluation mode on this module and its descendants:
        it changes what layers such as ``Dropout`` do."""
        if not isinstance(mode, bool):
            raise ChainruleError(f"train: mode must be True or False, got {mode!r}")
        self.training = mode
        for module in self.children():
            module.train(mode)
        return self

    def eval(self) -> Module:
        """Set evaluation mode (``train(False)``)."""
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """Set ``requires_grad`` on every parameter (``False`` freezes the module)."""
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    @replayed_call
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear every parameter's gradient: drop it (``set_to_none=True``) or fill it with zeros."""
        clear_grads(self.parameters(), set_to_none)

    # ------------------------------------------------------------------ dtype and device
    def to(self, *args: Any, **kwargs: Any) -> Module:
        """Convert floating parameters and buffers in place: ``to(chainrule.float64)``, ``to(tensor)``
        (its dtype); ``'cpu'``, ``device='cpu'`` and ``non_blocking`` are accepted. Parameters stay the
        same objects, so an optimizer made before keeps working."""
        target = parse_to_arguments("Module.to", args, kwargs)
        if target is None:
            return self
        np_dtype = to_numpy_dtype(target)
        if np_dtype.kind != "f":
            raise ChainruleError(
                f"Module.to: only floating dtypes are supported, got {from_numpy_dtype(np_dtype)}; "
                "use e.g. chainrule.float32 or chainrule.float64")
        return self._cast_floating(np_dtype)

    def _cast_floating(self, np_dtype: np.dtype) -> Module:
        for module in self.modules():
            for p in module._parameters.values():
                if p is not None and p._data.dtype.kind == "f":
                    p._data = p._data.astype(np_dtype, copy=False)
                    if p.grad is not None:
                        p.grad._data = p.grad._data.astype(np_dtype, copy=False)
            for name, b in module._buffers.items():
                if b is not None and b._data.dtype.kind == "f":
                    module._buffers[name] = b.detach().to(np_dtype)
        return self

    def float(self) -> Module:
        """Convert floating parameters and buffers to float32."""
        return self._cast_floating(np.dtype(np.float32))

    def double(self) -> Module:
        """Convert floating parameters and buffers to float64."""
        return self._cast_floating(np.dtype(np.float64))

    def half(self) -> Module:
        """Convert floating parameters and buffers to float16."""
        return self._cast_floating(np.dtype(np.float16))

    def cpu(self) -> Module:
        """This module (everything is on the CPU already)."""
        return self

    def cuda(self, device: Any = None) -> Module:
        """Not available yet: raises a clear error (chainrule runs on the CPU for now)."""
        check_device("cuda" if device is None else device)
        return self

    # ------------------------------------------------------------------ state
    def state_dict(self, *args: Any, destination: dict[str, Any] | None = None, prefix: str = "",
                   keep_vars: bool = False) -> OrderedDict[str, Tensor]:
        """An ordered dict from names (``'0.weight'``) to the parameters and persistent buffers,
        detached (``keep_vars=False``) but sharing memory with the module."""
        if args:
            raise ChainruleError("state_dict: pass destination, prefix and keep_vars by keyword")
        if destination is None:
            destination = OrderedDict()
        for name, p in self._parameters.items():
            if p is not None:
                destination[prefix + name] = p if keep_vars else p.detach()
        for name, b in self._buffers.items():
            if b is not None and name not in self._non_persistent_buffers_set:
                destination[prefix + name] = b if keep_vars else b.detach()
        for name, module in self._modules.items():
            if module is not None:
                module.state_dict(destination=destination, prefix=prefix + name + ".", keep_vars=keep_vars)
        return destination  # type: ignore[return-value]

    def _state_slots(self) -> Iterator[tuple[str, Module, dict[str, Any], str]]:
        """``(key, module, registry, name)`` for every entry ``state_dict`` would have."""
        for prefix, module in self.named_modules(remove_duplicate=False):
            prefix = prefix + "." if prefix else ""
            for name, p in module._parameters.items():
                if p is not None:
                    yield prefix + name, module, module._parameters, name
            for name, b in module._buffers.items():
                if b is not None and name not in module._non_persistent_buffers_set:
                    yield prefix + name, module, module._buffers, name

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True,
                        assign: bool = False) -> _IncompatibleKeys:
        """Copy values from ``state_dict`` (name → Tensor or NumPy array, e.g. a torch state dict
        converted with ``.numpy()``) into this module's parameters and buffers, in place.

        With ``strict=True`` (the default) the keys must match exactly; otherwise the missing and
        unexpected keys are returned as ``(missing_keys, unexpected_keys)``. Shapes must always
        match. ``assign=True`` makes the given tensors the new parameters instead of copying.
        """
        if not isinstance(state_dict, Mapping):
            raise ChainruleError(f"load_state_dict: expected a dict of name → tensor, got {type(state_dict).__name__}")
        slots = list(self._state_slots())
        expected = {key for key, *_ in slots}
        missing = [key for key, *_ in slots if key not in state_dict]
        unexpected = [key for key in state_dict if key not in expected]
        errors = []
        if strict and missing:
            errors.append("Missing key(s) in state_dict: " + ", ".join(f'"{k}"' for k in missing) + ".")
        if strict and unexpected:
            errors.append("Unexpected key(s) in state_dict: " + ", ".join(f'"{k}"' for k in unexpected) + ".")
        values = {}
        for key, module, registry, name in slots:
            if key not in state_dict:
                continue
            value = state_dict[key]
            array = value._data if isinstance(value, Tensor) else value
            if not isinstance(array, (np.ndarray, np.generic)):
                errors.append(f'while copying "{key}": expected a Tensor or a NumPy array, got {type(value).__name__}.')
                continue
            current = registry[name]
            if array.shape != current._data.shape:
                errors.append(f"size mismatch for {key}: copying a value of shape {tuple(array.shape)} from the "
                              f"state dict, the shape in the current model is {tuple(current._data.shape)}.")
                continue
            values[key] = (registry, name, array)
        if errors:
            hint = " (pass strict=False to load the matching keys only)" if strict and (missing or unexpected) \
                else ""
            raise ChainruleError(f"load_state_dict: error(s) in loading state_dict for {type(self).__name__}{hint}:"
                                 "\n\t" + "\n\t".join(errors))
        with no_grad():
            for registry, name, array in values.values():
                current = registry[name]
                if assign:
                    new = wrap(np.asarray(array))
                    registry[name] = Parameter(new, current.requires_grad) if isinstance(current, Parameter) else new
                else:
                    current.copy_(wrap(np.asarray(array)))
        return _IncompatibleKeys(missing, unexpected)

    # ------------------------------------------------------------------ printing
    def extra_repr(self) -> str:
        """The text inside this module's parentheses in ``repr`` (override it in layers)."""
        return ""

    def _get_name(self) -> str:
        return type(self).__name__

    def __repr__(self) -> str:
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = [f"({key}): " + _addindent(repr(module), 2) for key, module in self._modules.items()]
        lines = extra_lines + child_lines
        text = self._get_name() + "("
        if lines:
            if len(extra_lines) == 1 and not child_lines:
                text += extra_lines[0]
            else:
                text += "\n  " + "\n  ".join(lines) + "\n"
        return text + ")"


# ---------------------------------------------------------------------------- containers
def _index(op: str, length: int, idx: Any) -> int:
    """A possibly negative position as an index into ``length`` items (IndexError if out of range)."""
    idx = operator.index(idx)
    if not -length <= idx < length:
        raise IndexError(f"{op}: index {idx} is out of range for {length} modules")
    return idx % length


class Sequential(Module):
    """Modules run one after another, each on the previous one's output::

        model = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
        model = nn.Sequential(OrderedDict([("hidden", nn.Linear(784, 128)), ("act", nn.ReLU())]))
    """

    def __init__(self, *args: Module | OrderedDict[str, Module]) -> None:
        super().__init__()
        if len(args) == 1 and isinstance(args[0], OrderedDict):
            for name, module in args[0].items():
                self.add_module(name, module)
        else:
            for i, module in enumerate(args):
                self.add_module(str(i), module)

    def forward(self, input: Any) -> Any:
        """Run every module in order (under ``no_grad``, plain layers on arrays: see
        :mod:`chainrule.nn.array_forward`; else runs of ``nn.Linear`` layers, each optionally followed by an
        ``nn.ReLU``, as one fused primitive: see :mod:`chainrule.nn.fused_runs`)."""
        if not grad_mode.state.enabled and recording.active is None:  # a recording needs the operations themselves
            return run_sequential(self._modules.values(), input)
        return run_sequential_recorded(list(self._modules.values()), input)

    def __getitem__(self, idx: int | slice) -> Module:
        if isinstance(idx, slice):
            return type(self)(OrderedDict(list(self._modules.items())[idx]))
        i = _index("Sequential", len(self._modules), idx)
        return next(islice(self._modules.values(), i, None))

    def __setitem__(self, idx: int, module: Module) -> None:
        i = _index("Sequential", len(self._modules), idx)
        setattr(self, list(self._modules)[i], module)

    def __delitem__(self, idx: int | slice) -> None:
        keys = list(self._modules)
        for key in (keys[idx] if isinstance(idx, slice) else [keys[_index("Sequential", len(keys), idx)]]):
            delattr(self, key)
        # renumber, as PyTorch does, so that indices stay 0 … n-1
        self._modules = OrderedDict((str(i), m) for i, m in enumerate(self._modules.values()))

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def __add__(self, other: Sequential) -> Sequential:
        if not isinstance(other, Sequential):
            raise ChainruleError(f"Sequential: cannot add a {type(other).__name__}; add another Sequential")
        return Sequential(*self, *other)

    def append(self, module: Module) -> Sequential:
        """Add ``module`` at the end."""
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules: Iterable[Module]) -> Sequential:
        """Add each of ``modules`` at the end."""
        for module in modules:
            self.append(module)
        return self

    def insert(self, index: int, module: Module) -> Sequential:
        """Insert ``module`` before position ``index``."""
        if not isinstance(module, Module):
            raise ChainruleError(f"Sequential.insert: {type(module).__name__} is not a Module")
        n = len(self._modules)
        if not -n <= index <= n:
            raise IndexError(f"Sequential.insert: index {index} is out of range for {n} modules")
        modules = list(self._modules.values())
        modules.insert(index + n if index < 0 else index, module)
        self._modules = OrderedDict((str(i), m) for i, m in enumerate(modules))
        return self

    def pop(self, key: int | slice) -> Module:
        """Remove and return the module at ``key``."""
        module = self[key]
        del self[key]
        return module


class ModuleList(Module):
    """A list of modules, registered as children (so their parameters are found); indexable like a
    list. Unlike ``Sequential`` it has no ``forward``: the owner decides how to use them."""

    def __init__(self, modules: Iterable[Module] | None = None) -> None:
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def __getitem__(self, idx: int | slice) -> Module | ModuleList:
        if isinstance(idx, slice):
            return type(self)(list(self._modules.values())[idx])
        return self._modules[str(_index("ModuleList", len(self._modules), idx))]  # type: ignore[return-value]

    def __setitem__(self, idx: int, module: Module) -> None:
        setattr(self, str(_index("ModuleList", len(self._modules), idx)), module)

    def __delitem__(self, idx: int | slice) -> None:
        keys = list(self._modules)
        for key in (keys[idx] if isinstance(idx, slice) else [keys[_index("ModuleList", len(keys), idx)]]):
            delattr(self, key)
        self._modules = OrderedDict((str(i), m) for i, m in enumerate(self._modules.values()))

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())  # type: ignore[arg-type]

    def __iadd__(self, modules: Iterable[Module]) -> ModuleList:
        return self.extend(modules)

    def __add__(self, other: Iterable[Module]) -> ModuleList:
        return ModuleList([*self, *other])

    def append(self, module: Module) -> ModuleList:
        """Add ``module`` at the end."""
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules: Iterable[Module]) -> ModuleList:
        """Add each of ``modules`` at the end."""
        if isinstance(modules, (Module, Tensor)) or not hasattr(modules, "__iter__"):
            raise ChainruleError(f"ModuleList.extend: expected an iterable of modules, got {type(modules).__name__}")
        for module in modules:
            self.append(module)
        return self

    def insert(self, index: int, module: Module) -> None:
        """Insert ``module`` before position ``index``."""
        modules = list(self._modules.values())
        modules.insert(index, module)
        self._modules = OrderedDict()
        self.extend(modules)  # type: ignore[arg-type]

    def pop(self, key: int | slice) -> Module:
        """Remove and return the module at ``key``."""
        module = self[key]
        del self[key]
        return module  # type: ignore[return-value]

    def __dir__(self) -> list[str]:
        return [key for key in super().__dir__() if not key.isdigit()]

    def __repr__(self) -> str:
        """Like PyTorch's: consecutive identical modules are shown once, as ``(0-2): 3 x ReLU()``."""
        reprs = [repr(module) for module in self]
        if not reprs:
            return self._get_name() + "()"
        blocks: list[list[Any]] = []  # [first index, last index, repr]
        for i, r in enumerate(reprs):
            if blocks and blocks[-1][2] == r:
                blocks[-1][1] = i
            else:
                blocks.append([i, i, r])
        lines = [_addindent(f"({a}): {r}" if a == b else f"({a}-{b}): {b - a + 1} x {r}", 2) for a, b, r in blocks]
        return self._get_name() + "(\n  " + "\n  ".join(lines) + "\n)"


class ModuleDict(Module):
    """A dict of named modules, registered as children; ordered by insertion, like ``dict``."""

    def __init__(self, modules: Mapping[str, Module] | Iterable[tuple[str, Module]] | None = None) -> None:
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key: str) -> Module:
        return self._modules[key]  # type: ignore[return-value]

    def __setitem__(self, key: str, module: Module) -> None:
        self.add_module(key, module)

    def __delitem__(self, key: str) -> None:
        del self._modules[key]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[str]:
        return iter(self._modules)

    def __contains__(self, key: object) -> bool:
        return key in self._modules

    def clear(self) -> None:
        """Remove every module."""
        self._modules.clear()

    def pop(self, key: str) -> Module:
        """Remove and return the module named ``key``."""
        module = self[key]
        del self[key]
        return module

    def keys(self) -> Iterable[str]:
        """The names."""
        return self._modules.keys()

    def items(self) -> Iterable[tuple[str, Module]]:
        """``(name, module)`` pairs."""
        return self._modules.items()  # type: ignore[return-value]

    def values(self) -> Iterable[Module]:
        """The modules."""
        return self._modules.values()  # type: ignore[return-value]

    def update(self, modules: Mapping[str, Module] | Iterable[tuple[str, Module]]) -> None:
        """Add (or replace) modules from a mapping or from ``(name, module)`` pairs."""
        items = modules.items() if isinstance(modules, Mapping) else modules
        for entry in items:
            if not isinstance(entry, (tuple, list)) or len(entry) != 2:
                raise ChainruleError(f"ModuleDict.update: expected (name, module) pairs, got {entry!r}")
            self[entry[0]] = entry[1]
