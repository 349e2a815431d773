"""The hook points of :func:`chainrule.compile`'s recording of a step.

While ``chainrule.compile`` records a step, :data:`active` is its recorder; the rest of the time it is
None, and every hook below costs one global read. The recorder is told about what it must replay
(backward passes, optimizer and scheduler steps: the functions marked with :func:`replayed_call`) and
about what it cannot replay (in-place operations, ``autograd.grad``, random draws outside an
operation), for which it raises a clear error.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, TypeVar

__all__ = ["active", "replayed_call", "refuse"]

active: Any = None  # chainrule.compiled's recorder, while a step is being recorded

F = TypeVar("F", bound=Callable[..., Any])


def replayed_call(fn: F) -> F:
    """Mark a function (or method) that changes state outside the recorded operations, such as an
    optimizer's ``step``: a recording calls it and replays the call as a whole."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        recorder = active
        if recorder is None or recorder.depth:
            return fn(*args, **kwargs)
        return recorder.call(fn, args, kwargs)

    return wrapper  # type: ignore[return-value]


def refuse(what: str, fix: str) -> None:
    """Raise, when a step is being recorded (outside a recorded operation or call), that ``what``
    cannot be replayed; ``fix`` says what to do instead."""
    recorder = active
    if recorder is not None and not recorder.depth:
        recorder.refuse(what, fix)
