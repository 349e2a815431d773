"""Anomaly detection: find the operation whose backward produced a NaN or an infinity.

Inside ``with cr.autograd.detect_anomaly():`` every recorded operation remembers where in the user's
code it was created, and every backward rule's result is checked; the first non-finite gradient
raises an error naming the operation and that place.
"""

from __future__ import annotations

import os
import traceback
from typing import Any, Callable

import numpy as np

from chainrule.autograd.grad_mode import state
from chainrule.errors import ChainruleError

__all__ = ["detect_anomaly", "set_detect_anomaly", "is_anomaly_enabled", "checked_backward"]

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class detect_anomaly:  # noqa: N801 - PyTorch's spelling
    """Context manager (and decorator) that turns anomaly detection on."""

    def __init__(self, check_nan: bool = True) -> None:
        self.check_nan = check_nan

    def __enter__(self) -> None:
        self._previous = state.anomaly
        state.anomaly = self.check_nan

    def __exit__(self, *exc: object) -> None:
        state.anomaly = self._previous

    def __call__(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self:
                return fn(*args, **kwargs)

        return wrapper


class set_detect_anomaly(detect_anomaly):  # noqa: N801
    """Set anomaly detection on or off (a context manager, like PyTorch's)."""

    def __init__(self, mode: bool) -> None:
        super().__init__(mode)


def is_anomaly_enabled() -> bool:
    """Whether anomaly detection is on."""
    return state.anomaly


def creation_site(node: Any) -> str:
    """Where in the user's code ``node`` was recorded (the innermost frame outside chainrule)."""
    frames = node.trace or []
    user = [f for f in frames if not os.path.abspath(f.filename).startswith(_PACKAGE_DIR)]
    if not user:
        return "an unknown place (the operation was recorded outside detect_anomaly)"
    frame = user[-1]
    return f'File "{frame.filename}", line {frame.lineno}, in {frame.name}\n    {frame.line}'


def checked_backward(node: Any, g: Any, create_graph: bool,
                     call: Callable[[Any, Any, bool], tuple[Any, ...]]) -> tuple[Any, ...]:
    """Run ``node``'s backward and raise if any gradient it returns holds a NaN or an infinity."""
    result = call(node, g, create_graph)
    for i, gi in enumerate(result):
        if gi is None:
            continue
        data = gi._data if hasattr(gi, "_data") else np.asarray(gi)
        if data.dtype.kind == "f" and not np.all(np.isfinite(data)):
            kind = "NaN" if np.isnan(data).any() else "an infinite value"
            raise ChainruleError(
                f"detect_anomaly: {node.name()} returned {kind} in its gradient for input {i} "
                f"(shape {tuple(data.shape)}). The operation was created at:\n{creation_site(node)}")
    return result


def format_trace(node: Any) -> str:
    """The full creation traceback of ``node`` (anomaly mode), for printing."""
    return "".join(traceback.format_list(node.trace or []))
