"""``chainrule demo``: the sine-fitting demo really trains, in-process and as a command."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

import chainrule as cr
from chainrule import demo

ROOT = Path(__file__).resolve().parents[1]


def test_training_fits_sine() -> None:
    lines: list[str] = []
    losses = demo.train(400, seed=0, log=lines.append)
    assert len(losses) == 400
    assert all(math.isfinite(v) for v in losses)
    assert losses[-1] < losses[0] / 20, f"the loss fell only from {losses[0]:.4f} to {losses[-1]:.4f}"
    final = float(lines[-1].split()[4])
    assert lines[-1].startswith("final mean squared error")
    assert final < 0.01
    assert lines[0].startswith("step     1") and any(line.startswith("step   250") for line in lines)


def test_training_is_reproducible_and_seed_dependent() -> None:
    first = demo.train(20, seed=3, hidden=8, log=None)
    assert demo.train(20, seed=3, hidden=8, log=None) == first
    assert demo.train(20, seed=4, hidden=8, log=None) != first


def test_parameters_are_updated_in_place() -> None:
    params = demo.init_params(4)
    x = cr.linspace(-1.0, 1.0, 8).reshape(8, 1)
    before = [p.detach().numpy().copy() for p in params]
    (demo.forward(params, x) ** 2).mean().backward()
    with cr.no_grad():
        for p in params:
            p -= 0.1 * p.grad
    assert all(p.requires_grad and p.is_leaf for p in params)
    assert any((p.detach().numpy() != b).any() for p, b in zip(params, before))


def test_main_options(capsys: pytest.CaptureFixture[str]) -> None:
    assert demo.main(["--steps", "30", "--seed", "1", "--lr", "0.01", "--hidden", "6"]) == 0
    out = capsys.readouterr().out
    assert "step     1" in out and "final mean squared error" in out and "after 30 steps" in out


def test_main_rejects_bad_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        demo.main(["--steps", "0"])
    assert exit_info.value.code == 2
    assert "--steps" in capsys.readouterr().err


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # NumPy's overflow warnings on the way to NaN
def test_main_reports_divergence(capsys: pytest.CaptureFixture[str]) -> None:
    assert demo.main(["--steps", "100", "--lr", "50"]) == 1
    assert "diverged" in capsys.readouterr().err


def test_python_dash_m_chainrule() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-m", "chainrule", "demo", "--steps", "50"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "final mean squared error" in result.stdout
