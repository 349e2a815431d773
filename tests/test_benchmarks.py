"""The benchmark harness runs, and its loss check really fails when frameworks disagree.

No timing is asserted anywhere: timings depend on the machine. What matters is that every framework
computes the same loss and gradients, which ``python -m benchmarks --quick`` checks.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(code_or_args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *code_or_args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)


@pytest.fixture
def harness(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.syspath_prepend(str(ROOT))
    from benchmarks import harness

    return harness


def test_quick_engine_run_agrees_on_every_loss_and_writes_nothing() -> None:
    markdown = ROOT / "BENCHMARKS.md"
    before = markdown.read_text() if markdown.exists() else None
    result = _run(["-m", "benchmarks", "--quick", "engine"])
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    assert result.stdout.count("agrees") == 3, result.stdout
    assert (markdown.read_text() if markdown.exists() else None) == before


def test_quick_lstm_run_agrees_and_writes_nothing() -> None:
    """LSTM(32, 128) forward + backward: chainrule, torch and the NumPy reference agree on loss and gradients."""
    markdown = ROOT / "BENCHMARKS.md"
    before = markdown.read_text() if markdown.exists() else None
    result = _run(["-m", "benchmarks", "--quick", "lstm"])
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    assert result.stdout.count("agrees") == 1, result.stdout
    assert (markdown.read_text() if markdown.exists() else None) == before


def test_a_loss_mismatch_fails_the_run_loudly() -> None:
    code = textwrap.dedent("""
        import sys, types
        from benchmarks import __main__ as cli, harness

        def setup(loss):
            return lambda data: harness.Prepared(lambda: loss, lambda: [])

        bad = types.ModuleType("bad_benchmark")
        bad.TITLE = "bad"
        bad.WORKLOADS = [harness.Workload("w", "disagrees", dict,
                                          {"numpy": setup(1.0), "chainrule": setup(1.01)})]
        sys.modules["bad_benchmark"] = bad
        cli.BENCHMARKS["bad"] = "bad_benchmark"
        sys.exit(cli.main(["--quick", "bad"]))
    """)
    result = _run(["-c", code])
    assert result.returncode == 1, f"{result.stdout}\n{result.stderr}"
    assert "FAILED" in result.stderr and "losses differ" in result.stderr


def test_a_gradient_mismatch_is_caught(harness) -> None:
    grads = {"numpy": [np.ones(3, np.float32)], "chainrule": [np.array([1, 1, 1.01], np.float32)]}
    with pytest.raises(harness.CheckFailed, match="chainrule gradient 0"):
        harness.check_gradients("w", grads)
    harness.check_gradients("w", {"numpy": grads["numpy"], "chainrule": [np.ones(3) * (1 + 1e-6)]})


def test_write_section_replaces_its_own_section_and_keeps_the_others(harness, tmp_path: Path) -> None:
    path = tmp_path / "BENCHMARKS.md"
    harness.write_section("one", "## one\nfirst", path)
    harness.write_section("two", "## two\nsecond", path)
    harness.write_section("one", "## one\nrewritten", path)
    text = path.read_text()
    assert text.startswith(harness.HEADER.splitlines()[0])
    assert "rewritten" in text and "first" not in text and "second" in text
    assert text.index("## one") < text.index("## two")


def test_chainrule_imports_neither_torch_nor_the_benchmarks() -> None:
    result = _run(["-c", "import sys, chainrule; print(sorted({'torch', 'benchmarks'} & set(sys.modules)))"])
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def _require_debian_fashion_mnist() -> None:
    from chainrule.datasets.mnist import debian_fashion_mnist_folder

    if debian_fashion_mnist_folder() is None:
        pytest.skip("Debian's dataset-fashion-mnist is not installed: sudo apt-get install dataset-fashion-mnist")


def test_quick_train_mlp_run_agrees_and_writes_nothing() -> None:
    """One epoch on a Fashion-MNIST subset in every framework, test accuracy and fresh-process memory."""
    _require_debian_fashion_mnist()
    markdown = ROOT / "BENCHMARKS.md"
    before = markdown.read_text() if markdown.exists() else None
    result = _run(["-m", "benchmarks", "--quick", "train_mlp"])
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    assert result.stdout.count("agrees") == 2, result.stdout  # mlp-epoch, mlp-epoch-dataloader
    assert "test accuracy after 1 epoch(s): chainrule" in result.stdout
    assert "training memory (median MiB): chainrule" in result.stdout
    assert (markdown.read_text() if markdown.exists() else None) == before


def test_quick_train_cnn_run_agrees_on_loss_and_weights() -> None:
    """One pass of the LeNet-like CNN over 1,024 images in chainrule and torch: same loss, same weights."""
    _require_debian_fashion_mnist()
    result = _run(["-m", "benchmarks", "--quick", "train_cnn"])
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    assert "cnn" in result.stdout and result.stdout.count("agrees") == 1, result.stdout


def test_memory_child_reports_its_training_memory(tmp_path: Path) -> None:
    """The fresh-process runner on tiny data: a positive peak above its post-import baseline."""
    rng = np.random.default_rng(0)
    sizes = (784, 256, 128, 10)
    arrays = {"x": rng.random((256, 784), np.float32), "y": rng.integers(0, 10, 256),
              "perm": rng.permutation(256)}
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:]), start=1):
        arrays[f"W{i}"] = rng.uniform(-0.05, 0.05, (fan_out, fan_in)).astype(np.float32)
        arrays[f"b{i}"] = np.zeros(fan_out, np.float32)
    for name, array in arrays.items():
        np.save(tmp_path / f"{name}.npy", array)
    result = _run(["-m", "benchmarks.train_mlp", "--memory-child", "chainrule", "--data", str(tmp_path)])
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.splitlines()[-1])
    assert report["peak_kib"] >= report["built_kib"] >= report["baseline_kib"] > 0
    assert 0 < report["loss"] < 10  # the mean cross-entropy of 10 classes starts near log 10 ≈ 2.3
