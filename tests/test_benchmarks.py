"""The benchmark harness runs, and its loss check really fails when frameworks disagree.

No timing is asserted anywhere: timings depend on the machine. What matters is that every framework
computes the same loss and gradients, which ``python -m benchmarks --quick`` checks.
"""

from __future__ import annotations

import json
import re
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


def _quick_run(*names: str) -> subprocess.CompletedProcess[str]:
    """``python -m benchmarks --quick names…``, which must succeed and leave BENCHMARKS.md as it was."""
    markdown = ROOT / "BENCHMARKS.md"
    before = markdown.read_text() if markdown.exists() else None
    result = _run(["-m", "benchmarks", "--quick", *names])
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    assert (markdown.read_text() if markdown.exists() else None) == before
    return result


@pytest.fixture
def harness(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.syspath_prepend(str(ROOT))
    from benchmarks import harness

    return harness


def test_quick_engine_run_agrees_on_every_loss_and_writes_nothing() -> None:
    result = _quick_run("engine")
    assert result.stdout.count("agrees") == 3, result.stdout


def test_quick_lstm_run_agrees_and_writes_nothing() -> None:
    """LSTM(32, 128) forward + backward: chainrule, torch, chainrule's kernel on arrays and the NumPy
    reference agree on loss and gradients."""
    result = _quick_run("lstm")
    assert result.stdout.count("agrees") == 1, result.stdout


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
    result = _quick_run("train_mlp")
    assert result.stdout.count("agrees") == 2, result.stdout  # mlp-epoch, mlp-epoch-dataloader
    assert "test accuracy after 1 epoch(s): chainrule" in result.stdout
    assert "training memory (median MiB): chainrule" in result.stdout


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


# ---------------------------------------------------------------------------- the summary and the new workloads
def test_quick_mlp_small_and_inference_runs_agree_and_print_the_summary() -> None:
    """mlp-small (training steps with the matmul limit) and both inference rows agree in every framework."""
    result = _quick_run("mlp_small", "inference")
    assert result.stdout.count("agrees") == 3, result.stdout  # mlp-small, inference-mlp, inference-cnn
    assert "numpy matmuls" in result.stdout and "matmul limit" in result.stdout
    rows = [line for line in result.stdout.splitlines() if line.startswith("| ") and "workload" not in line]
    assert [row.split(" | ")[0] for row in rows] == ["| mlp-small", "| inference-mlp", "| inference-cnn"]
    # every row has chainrule.compile's ratio too, and the compiled mode's loss agreed with the others
    assert all("≤ 0.5" in row and re.search(r"\| \d\.\d\d \|$", row) for row in rows), rows
    assert len(re.findall(r"chainrule\.compile [\d,.]+ µs", result.stdout)) == 3, result.stdout


def test_the_summary_renders_targets_and_verdicts_from_given_numbers(harness) -> None:
    rows = [harness.SummaryRow("fast", 0.4, 0.45, 0.38, 0.52, 0.5, limit_share=0.834),
            harness.SummaryRow("slow", 1.2, 1.25, 1.1, 1.3, 1.0, compiled=0.93),
            harness.SummaryRow("untargeted", 0.7, 0.7, 0.7, 0.7, None)]
    text = harness.render_summary(rows, ["CPU: test"], "python -m benchmarks")
    lines = text.splitlines()
    assert lines[0].startswith("## Summary") and "`python -m benchmarks`" in text and "- CPU: test" in text
    assert "| fast | **0.40** | 0.45 | 0.38–0.52 | ≤ 0.5 | met | 83% | – |" in lines
    assert "| slow | **1.20** | 1.25 | 1.10–1.30 | ≤ 1 | **missed** | – | 0.93 |" in lines
    assert "| untargeted | **0.70** | 0.70 | 0.70–0.70 | – | – | – | – |" in lines


def test_summary_rows_and_the_matmul_limit_come_from_the_measured_times(harness) -> None:
    """Ratio of the bests, ratio of the medians, per-round min–max; limit = NumPy matmuls / chainrule."""
    workload = harness.Workload("w", "", dict, {}, targets={"torch": 0.5}, summary=True)
    times = {"chainrule": [2.0, 3.0, 4.0], "torch": [4.0, 5.0, 4.0], harness.LIMIT: [1.5, 1.6, 1.7]}
    result = harness.Result(workload, 1, times, 1.0, {})
    assert result.limit_share() == pytest.approx(1.5 / 2.0)
    (row,) = harness.summary_rows([result, harness.Result(harness.Workload("other", "", dict, {}), 1, times, 1.0, {})])
    assert (row.workload, row.target, row.compiled) == ("w", 0.5, None)
    assert (row.best, row.median, row.low, row.high) == pytest.approx((0.5, 0.75, 0.5, 1.0))
    assert row.limit_share == pytest.approx(0.75)
    times[harness.COMPILED] = [1.0, 1.2, 1.1]
    assert harness.summary_rows([result])[0].compiled == pytest.approx(0.25)


def test_the_limit_is_timed_with_the_frameworks_but_not_checked(harness) -> None:
    a = np.ones((8, 8), np.float32)

    def setup(data):
        return harness.Prepared(lambda: 1.0, lambda: [])

    workload = harness.Workload("w", "", dict, {"numpy": setup, "chainrule": setup},
                                limit=lambda data: lambda: np.matmul(a, a, out=np.empty_like(a)))
    result = harness.measure(workload, ["chainrule", "numpy"], harness.Settings.quick(1))
    assert set(result.times) == {"chainrule", "numpy", harness.LIMIT}
    assert all(len(t) == 2 for t in result.times.values())
    assert result.limit_share() == min(result.times[harness.LIMIT]) / min(result.times["chainrule"])


def test_chainrule_kernels_are_timed_and_checked_beside_chainrule(harness) -> None:
    """A workload's KERNELS setup runs wherever chainrule does; its loss and gradients are checked, and the
    section gives its time over torch's and chainrule's over its own."""
    def setup(loss: float, grad: float):
        return lambda data: harness.Prepared(lambda: loss, lambda: [np.full(3, grad, np.float32)])

    setups = {"numpy": setup(1.0, 2.0), "chainrule": setup(1.0, 2.0), harness.KERNELS: setup(1.0, 2.0)}
    workload = harness.Workload("w", "", dict, setups)
    assert set(harness.measure(workload, ["numpy"], harness.Settings.quick(1)).times) == {"numpy"}
    result = harness.measure(workload, ["chainrule", "numpy"], harness.Settings.quick(1))
    assert set(result.times) == {"chainrule", "numpy", harness.KERNELS}
    result.times.update({"chainrule": [3.0, 4.0], "torch": [2.0, 2.0], harness.KERNELS: [2.5, 3.0]})
    text = harness.render("t", [result], harness.Settings.quick(1), ["CPU: test"], "python -m benchmarks")
    assert f"| {harness.KERNELS} best | median | min–max |" in text
    assert (f"  - {harness.KERNELS} / torch: **1.25** (1.38), the step in NumPy and BLAS alone; chainrule / "
            f"{harness.KERNELS}: **1.20** (1.27)") in text
    setups[harness.KERNELS] = setup(1.0, 2.5)
    with pytest.raises(harness.CheckFailed, match=f"{harness.KERNELS} gradient 0"):
        harness.measure(workload, ["chainrule", "numpy"], harness.Settings.quick(1))


def test_matmul_limit_does_the_products_of_an_sgd_step(monkeypatch: pytest.MonkeyPatch) -> None:
    """Forward ``H Wᵀ`` per layer, then per layer from the top ``dZᵀ H`` and (but for the first) ``dZ W``."""
    monkeypatch.syspath_prepend(str(ROOT))
    from benchmarks import train_mlp

    assert train_mlp.batch_sizes(300, 128) == [128, 128, 44]
    step = train_mlp.matmul_limit((4, 3, 2), [5, 5, 1])
    calls = []
    matmul = np.matmul
    monkeypatch.setattr(np, "matmul", lambda a, b, out: calls.append(
        (a.shape, a.flags.f_contiguous and not a.flags.c_contiguous, b.shape, b.flags.f_contiguous, out.shape)))
    step()
    monkeypatch.setattr(np, "matmul", matmul)
    one_step = [((5, 4), False, (4, 3), True, (5, 3)), ((5, 3), False, (3, 2), True, (5, 2)),  # H Wᵀ
                ((2, 5), True, (5, 3), False, (2, 3)), ((5, 2), False, (2, 3), False, (5, 3)),  # dZᵀ H, dZ W
                ((3, 5), True, (5, 4), False, (3, 4))]  # the first layer: dZᵀ x only
    assert calls[:10] == one_step * 2 and len(calls) == 15 and calls[10][0] == (1, 4)


def test_write_section_first_puts_a_new_section_before_the_others(harness, tmp_path: Path) -> None:
    path = tmp_path / "BENCHMARKS.md"
    harness.write_section("one", "## one", path)
    harness.write_section("summary", "## summary\nfirst", path, first=True)
    harness.write_section("summary", "## summary\nsecond", path, first=True)
    text = path.read_text()
    assert text.index("## How to read") < text.index("## summary") < text.index("## one")
    assert "second" in text and "first" not in text and text.count("## summary") == 1


def test_a_full_run_of_every_benchmark_writes_the_summary_at_the_top(tmp_path: Path) -> None:
    """With fake benchmarks standing in for the real ones (a full run takes minutes)."""
    path = tmp_path / "BENCHMARKS.md"
    code = textwrap.dedent(f"""
        import sys, types
        from pathlib import Path
        from benchmarks import __main__ as cli, harness

        setup = lambda data: harness.Prepared(lambda: 1.0, lambda: [])
        harness.BENCHMARKS_MD = Path({str(path)!r})
        cli.BENCHMARKS.clear()
        for name in ("fake_a", "fake_b"):
            module = types.ModuleType(name)
            module.TITLE = name
            module.WORKLOADS = [harness.Workload(name + "-w", "", dict, {{"chainrule": setup, "torch": setup}},
                                                 targets={{"torch": 1.5}}, summary=True)]
            sys.modules[name] = module
            cli.BENCHMARKS[name] = name
        first = cli.main(["--repeats", "5", "fake_a"])
        assert "## Summary" not in harness.BENCHMARKS_MD.read_text()  # one benchmark: no summary
        sys.exit(first or cli.main(["--repeats", "5"]))
    """)
    markdown = ROOT / "BENCHMARKS.md"
    before = markdown.read_text() if markdown.exists() else None
    result = _run(["-c", code])
    assert (markdown.read_text() if markdown.exists() else None) == before
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    text = path.read_text()
    assert text.index("## Summary") < text.index("## fake_a") < text.index("## fake_b")
    assert "| fake_a-w | **" in text and "| ≤ 1.5 | met |" in text


def test_lstm_matmul_limit_does_the_products_of_forward_and_backward_through_time(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The input projection, per step ``h W_hhᵀ`` then (backward) ``∂gates W_hh``, then ∂W_hh, ∂W_ih, ∂x."""
    monkeypatch.syspath_prepend(str(ROOT))
    from benchmarks import lstm

    step = lstm.matmul_limit(lstm.make_data())
    calls = []
    monkeypatch.setattr(np, "matmul", lambda a, b, out: calls.append((a.shape, b.shape, out.shape)))
    step()
    n, i, h, steps = lstm.BATCH, lstm.INPUT, lstm.HIDDEN, lstm.STEPS
    rows = steps * n
    after_the_loop = [((4 * h, rows), (rows, h), (4 * h, h)), ((4 * h, rows), (rows, i), (4 * h, i)),
                      ((rows, 4 * h), (4 * h, i), (rows, i))]
    assert calls == ([((rows, i), (i, 4 * h), (rows, 4 * h))] + [((n, h), (h, 4 * h), (n, 4 * h))] * steps
                     + [((n, 4 * h), (4 * h, h), (n, h))] * steps + after_the_loop)


def test_the_commit_is_dirty_for_changed_code_but_not_for_a_rewritten_benchmarks_md(
        harness, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(harness, "ROOT", tmp_path)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))  # no checkout above tmp_path is found
    assert harness._git_commit() == ""  # not a checkout
    git = ["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], check=True)
    (tmp_path / "BENCHMARKS.md").write_text("# Benchmarks\n")
    (tmp_path / "code.py").write_text("x = 1\n")
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "first"], check=True)
    commit = subprocess.run([*git, "describe", "--always"], capture_output=True, text=True, check=True).stdout.strip()
    assert harness._git_commit() == commit
    (tmp_path / "BENCHMARKS.md").write_text("# Benchmarks\n\nnew figures\n")
    assert harness._git_commit() == commit
    (tmp_path / "code.py").write_text("x = 2\n")
    assert harness._git_commit() == commit + "-dirty"
