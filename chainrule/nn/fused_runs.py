"""``Sequential`` recording a graph: runs of adjacent layers that one fused primitive computes run as that one.

Each recorded operation costs a module call, a primitive's dispatch, a graph node and a tensor on the
way forward, and a step of the engine's walk on the way back: a few µs, which at small batches is as
much as the arithmetic. Where adjacent children of a ``Sequential`` are computed exactly by one fused
primitive (``nn.Linear`` layers, each optionally followed by an ``nn.ReLU``: ``F.LinearChain``),
:func:`run_sequential_recorded` runs that primitive instead of the calls. The results and gradients are
the same, bit for bit; the graph holds one node (``LinearChainBackward``) where the calls would record
one per layer.

A layer class registers the fused run that may start at one of its instances (:func:`register_fused_run`).
Only instances of exactly that class start one. The run must leave to the ordinary calls every layer
that has forward hooks or an instance-level ``forward``, or whose class's ``forward`` was replaced since
the run was registered (:func:`chainrule.nn.array_forward.plain_attributes` tells), and must change
nothing before it succeeds: when it declines (returns ``None``) or raises, the layer is called the
ordinary way (and raises its own error).
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

from chainrule.tensor import Tensor

__all__ = ["register_fused_run", "run_sequential_recorded"]

# run(children, start, input): the output of the fused run of children[start:end] on input, and end
FusedRun = Callable[[Sequence[Any], int, Tensor], "tuple[Tensor, int] | None"]

_FUSED_RUNS: dict[type, FusedRun] = {}  # the class of a run's first layer → the run


def register_fused_run(first: type, run: FusedRun) -> None:
    """Let ``Sequential`` call ``run(children, i, input)`` where ``children[i]`` is exactly of the class
    ``first``. It returns ``(output, j)``, where ``output`` is what ``children[i:j]`` called one after the
    other would return on ``input`` (with the same gradients), or ``None`` to have ``children[i]`` called
    the ordinary way; see the module docstring for what it must check."""
    _FUSED_RUNS[first] = run


def run_sequential_recorded(modules: Sequence[Any], input: Any) -> Any:
    """``input`` through ``modules`` in order, registered runs as one fused primitive (see the module
    docstring)."""
    count = len(modules)
    i = 0
    while i < count:
        module = modules[i]
        fused = _FUSED_RUNS.get(module.__class__) if input.__class__ is Tensor else None
        result = None
        if fused is not None:
            try:
                result = fused(modules, i, input)
            except Exception:  # noqa: BLE001 - the ordinary calls then raise it with the layer's message
                result = None
        if result is None:
            input = module(input)
            i += 1
        else:
            input, i = result
    return input
