"""``Sequential`` recording a graph: adjacent layers that one fused primitive computes run as that one.

Each recorded operation costs a module call, a primitive's dispatch, a graph node and a tensor on the
way forward, and a step of the engine's walk on the way back: a few µs, which at small batches is as
much as the arithmetic. Where two adjacent children of a ``Sequential`` are computed exactly by one
fused primitive (``nn.Linear`` followed by ``nn.ReLU``: ``F.LinearReLU``), :func:`run_sequential_recorded`
runs that primitive instead of the two calls. The results and gradients are the same, bit for bit;
the graph holds one node (``LinearReLUBackward``) where the two calls would record two.

A layer class pair registers its fused forward here (:func:`register_fused_pair`). Either layer runs
the ordinary way when its class is not exactly the registered one, when it has forward hooks or an
instance-level ``forward``, or when its class's ``forward`` was replaced; the pair runs the ordinary
way too when its fused forward declines (returns ``None``) or raises (the layers then raise their
own errors: a fused forward changes nothing before it succeeds).
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

from chainrule.nn.array_forward import plain_attributes
from chainrule.tensor import Tensor

__all__ = ["register_fused_pair", "run_sequential_recorded"]

FusedForward = Callable[[dict[str, Any], dict[str, Any], Tensor], "Tensor | None"]

# (first class, second class) → (the fused forward, the classes' ``forward`` methods it stands for)
_FUSED_PAIRS: dict[tuple[type, type], tuple[FusedForward, Callable[..., Any], Callable[..., Any]]] = {}


def register_fused_pair(first: type, second: type, forward: FusedForward) -> None:
    """Let ``Sequential`` run a layer of exactly the class ``first`` followed by one of exactly the class
    ``second`` as ``forward(vars(first_layer), vars(second_layer), input)`` (as long as both classes'
    ``forward`` are the ones defined now). It must return what ``second_layer(first_layer(input))``
    returns, with the same gradients, or ``None`` to have the layers called the ordinary way, and must
    not change anything before it returns."""
    _FUSED_PAIRS[first, second] = (forward, first.forward, second.forward)


def run_sequential_recorded(modules: Sequence[Any], input: Any) -> Any:
    """``input`` through ``modules`` in order, registered pairs as one fused primitive (see the module
    docstring)."""
    count = len(modules)
    i = 0
    while i < count:
        module = modules[i]
        out = None
        if i + 1 < count and input.__class__ is Tensor:
            fused = _FUSED_PAIRS.get((module.__class__, modules[i + 1].__class__))
            if fused is not None:
                out = _run_fused(fused, module, modules[i + 1], input)
        if out is None:
            input = module(input)
            i += 1
        else:
            input = out
            i += 2
    return input


def _run_fused(fused: tuple[FusedForward, Callable[..., Any], Callable[..., Any]], first_layer: Any,
               second_layer: Any, input: Tensor) -> Tensor | None:
    """The pair's fused forward on ``input``, or ``None`` where the layers must run the ordinary way."""
    forward, first_forward, second_forward = fused
    first = plain_attributes(first_layer, first_forward)
    second = plain_attributes(second_layer, second_forward)
    if first is None or second is None:
        return None
    try:
        return forward(first, second, input)
    except Exception:  # noqa: BLE001 - the ordinary calls then raise it with the layer's message
        return None
