"""chainrule.recording: the hook points of a compiled step's recording cost nothing and do nothing
outside one, record only the outermost marked call inside one, and refuse through the recorder."""

from __future__ import annotations

from typing import Any, Callable

import pytest

from chainrule import recording


class _Recorder:
    def __init__(self) -> None:
        self.depth = 0
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    def call(self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        self.calls.append((fn.__name__, args))
        self.depth += 1
        try:
            return fn(*args, **kwargs)
        finally:
            self.depth -= 1

    def refuse(self, what: str, fix: str) -> None:
        raise RuntimeError(f"{what}: {fix}")


@recording.replayed_call
def outer(x: int) -> int:
    """Doubles, through inner."""
    return inner(x) * 2


@recording.replayed_call
def inner(x: int) -> int:
    return x + 1


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> _Recorder:
    active = _Recorder()
    monkeypatch.setattr(recording, "active", active)
    return active


def test_outside_a_recording_marked_calls_run_as_they_are() -> None:
    assert recording.active is None
    assert outer(3) == 8 and outer.__name__ == "outer" and outer.__doc__ == "Doubles, through inner."
    recording.refuse("anything", "nothing to do")  # no recording: nothing to refuse


def test_a_recording_gets_the_outermost_marked_call_only(recorder: _Recorder) -> None:
    assert outer(3) == 8
    assert recorder.calls == [("outer", (3,))]


def test_refuse_goes_to_the_recorder_outside_recorded_work_only(recorder: _Recorder) -> None:
    with pytest.raises(RuntimeError, match="a read: do it later"):
        recording.refuse("a read", "do it later")
    recorder.depth = 1  # inside a recorded operation or call: its own work is replayed with it
    recording.refuse("a read", "do it later")
