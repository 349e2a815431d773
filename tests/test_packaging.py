"""The package builds as a wheel, installs into a fresh environment and runs from there."""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def _run(args: list[str], cwd: Path, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result


def test_wheel_installs_and_runs_outside_the_source_tree(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(dist), str(ROOT)],
         cwd=tmp_path)
    wheels = list(dist.glob("chainrule-*.whl"))
    assert len(wheels) == 1, wheels

    env_dir = tmp_path / "venv"
    venv.create(env_dir, system_site_packages=True, with_pip=True)  # reuses numpy where the base has it
    python = env_dir / "bin" / "python"
    # numpy comes from the base environment where it has one; otherwise pip installs it
    # --force-reinstall: the base environment may hold an installed chainrule of the same version,
    # which pip would otherwise take as already satisfied; the second call adds missing dependencies
    _run([str(python), "-m", "pip", "install", "--quiet", "--force-reinstall", "--no-deps", str(wheels[0])],
         cwd=tmp_path)
    _run([str(python), "-m", "pip", "install", "--quiet", str(wheels[0])], cwd=tmp_path)

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    where = _run([str(python), "-c", "import chainrule, sys; print(chainrule.__file__); print(sys.prefix)"],
                 cwd=elsewhere).stdout.split()
    assert Path(where[0]).is_relative_to(env_dir), where
    assert "site-packages" in Path(where[0]).parts
    assert not Path(where[0]).is_relative_to(ROOT)

    # the console script, and the digits shipped as package data
    result = _run([str(env_dir / "bin" / "chainrule"), "train", "--epochs", "1", "--no-progress",
                   "--out", str(tmp_path / "run")], cwd=elsewhere)
    assert "test accuracy" in result.stdout
    assert (tmp_path / "run" / "checkpoint.safetensors").is_file()
    result = _run([str(python), "-m", "chainrule", "demo", "--steps", "20"], cwd=elsewhere)
    assert "final mean squared error" in result.stdout
