"""The README's examples really run and do what they say; its set-up commands are the real ones."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


def _python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)


def test_raw_tensor_example_runs_and_fits(capsys) -> None:
    namespace: dict = {}
    exec(compile(_python_blocks()[0], str(README), "exec"), namespace)  # noqa: S102 - our own README
    assert namespace["loss"].item() < 1e-6
    np.testing.assert_allclose(namespace["w"].detach().numpy().ravel(), [2.0, -1.0, 0.5], atol=1e-3)
    np.testing.assert_allclose(namespace["b"].item(), 0.3, atol=1e-3)
    assert capsys.readouterr().out.startswith("loss ")


def test_pytorch_style_loop_example_trains_and_saves(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(_python_blocks()[1], str(README), "exec"), namespace)  # noqa: S102
    losses = [float(v) for v in re.findall(r"mean loss ([0-9.]+)", capsys.readouterr().out)]
    assert len(losses) == 5 and losses[-1] < losses[0] / 4 and losses[-1] < 0.15
    import chainrule as cr

    state = cr.load("digits.safetensors")
    assert set(state) == {"model", "optimizer"} and "0.weight" in state["model"]


def test_compiled_step_example_continues_the_loop(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for block in _python_blocks()[1:3]:  # the loop, then its compiled step
        exec(compile(block, str(README), "exec"), namespace)  # noqa: S102
    out = capsys.readouterr().out
    eager = [float(v) for v in re.findall(r"epoch \d+: mean loss ([0-9.]+)", out)]
    (compiled,) = [float(v) for v in re.findall(r"compiled epoch: mean loss ([0-9.]+)", out)]
    assert compiled < eager[-1] * 1.2 and compiled < 0.15


def test_readme_commands() -> None:
    text = README.read_text(encoding="utf-8")
    first_screen = "\n".join(text.splitlines()[:25])
    assert "pip install '.[plot]' && chainrule train" in first_screen
    assert "pip install '.[test,oracle,plot]' && python -m pytest" in first_screen
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "python -m pytest" in ci.splitlines(), "CI must run the README's test command as it is"
    assert "'.[test,oracle,bench,plot]'" in ci, "CI installs at least what the README's test command does"
