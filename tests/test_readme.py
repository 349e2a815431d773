"""The README's example really runs and does what it says."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

README = Path(__file__).resolve().parents[1] / "README.md"


def _first_python_block() -> str:
    match = re.search(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    assert match is not None, "README.md has no ```python block"
    return match.group(1)


def test_readme_example_runs_and_fits(capsys) -> None:
    namespace: dict = {}
    exec(compile(_first_python_block(), str(README), "exec"), namespace)  # noqa: S102 - our own README
    assert namespace["loss"].item() < 1e-6
    np.testing.assert_allclose(namespace["w"].detach().numpy().ravel(), [2.0, -1.0, 0.5], atol=1e-3)
    np.testing.assert_allclose(namespace["b"].item(), 0.3, atol=1e-3)
    assert capsys.readouterr().out.startswith("loss ")


def test_readme_commands() -> None:
    text = README.read_text(encoding="utf-8")
    first_screen = "\n".join(text.splitlines()[:25])
    assert "pip install . && python -m chainrule" in first_screen
    assert "pip install '.[test,oracle]' && python -m pytest" in first_screen
    ci = (README.parent / ".ci" / "run").read_text(encoding="utf-8")
    assert "python -m pytest" in ci.splitlines(), "CI must run the README's test command as it is"
