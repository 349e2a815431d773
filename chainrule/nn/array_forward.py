"""``Sequential`` under ``no_grad``: runs of plain layers computed on NumPy arrays, one tensor at the end.

Under ``no_grad`` a layer's work is its primitive's array forward; everything around it is Python:
the module call, the functional's checks, the primitive's dispatch and a new tensor for every
intermediate result, about 1.5–2.5 µs a layer. A layer class registers the array form of its forward
here (:func:`register_array_forward`), and :func:`run_sequential` runs the children of a
``Sequential`` that have one on arrays directly. Measured (``python -m benchmarks --clock cpu
inference``, one thread): a batch-1 forward of the MLP 784-256-128-10 (three ``Linear``, two ``ReLU``)
took 41 µs through the module calls, 30 µs this way; NumPy's own work in it is about 25 µs.

The array forward computes exactly what the layer's ``forward`` computes (it calls the same
primitive's array forward), so results are identical. A child runs the ordinary way — as
``module(input)`` — when its class is not registered (subclasses included: they may override
``forward``), when it has forward hooks or an instance-level ``forward``, when its array forward
declines (returns ``None``, e.g. an in-place activation), and when its array forward raises: the
ordinary call then raises the error with the layer's own message (the array forwards have no side
effects, so running the layer again is safe).
"""

from __future__ import annotations

from typing import Any, Callable, Iterable

import numpy as np

from chainrule.tensor import Tensor, wrap

__all__ = ["register_array_forward", "run_sequential", "plain_attributes"]

ArrayForward = Callable[[dict[str, Any], np.ndarray], "np.ndarray | None"]

# class → (its array forward, the class's ``forward`` that it stands for)
_ARRAY_FORWARDS: dict[type, tuple[ArrayForward, Callable[..., Any]]] = {}


def register_array_forward(cls: type, forward: ArrayForward) -> None:
    """Let ``Sequential`` run layers of exactly the class ``cls`` as ``forward(vars(layer), array)``
    under ``no_grad`` (as long as ``cls.forward`` is the one defined now). It receives the layer's
    attribute dictionary (its ``_parameters``, its settings: one lookup each, where attributes of a
    module cost more) and must return what ``layer(tensor)`` returns, as an array (a new one: never
    the input's), or ``None`` to have the layer called the ordinary way, and must not change
    anything."""
    _ARRAY_FORWARDS[cls] = (forward, cls.forward)


def plain_attributes(module: Any, layer_forward: Callable[..., Any]) -> dict[str, Any] | None:
    """``module``'s attribute dictionary when calling it means running ``layer_forward`` and nothing
    else (no forward hooks or pre-hooks, no instance-level ``forward``, its class's ``forward`` still
    ``layer_forward``), else ``None``."""
    attributes = module.__dict__  # one lookup; Module.__getattr__ makes each one slow
    if (attributes["_forward_pre_hooks"] or attributes["_forward_hooks"] or "forward" in attributes
            or type(module).forward is not layer_forward):
        return None
    return attributes


def run_sequential(modules: Iterable[Any], input: Any) -> Any:
    """``input`` through ``modules`` in order under ``no_grad``, registered layers on arrays (see the
    module docstring)."""
    data = None  # the output so far as an array, while registered layers run on arrays
    for module in modules:
        cls = type(module)
        registered = _ARRAY_FORWARDS.get(cls)
        if registered is not None and (data is not None or input.__class__ is Tensor):
            forward, layer_forward = registered
            attributes = plain_attributes(module, layer_forward)
            if attributes is not None:
                try:
                    out = forward(attributes, input._data if data is None else data)
                except Exception:  # noqa: BLE001 - the ordinary call below raises it with the layer's message
                    out = None
                if out is not None:
                    data = out
                    continue
        if data is not None:
            input, data = wrap(data), None
        input = module(input)
    return input if data is None else wrap(data)
