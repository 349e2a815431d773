"""``python -m benchmarks.profile``: py-spy's samples are counted by where they were, and the profile
of a real workload comes out as a Markdown section."""

from __future__ import annotations

import inspect
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
OPENBLAS = "libscipy_openblas64_-32a4b2a6.so"
UMATH = "numpy/_core/_multiarray_umath.cpython-311-x86_64-linux-gnu.so"


@pytest.fixture
def profile(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.syspath_prepend(str(ROOT))
    from benchmarks import profile

    return profile


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "benchmarks.profile", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=600)


@pytest.mark.parametrize("frame, place", [
    (f"sgemm_itcopy_HASWELL ({OPENBLAS})", "BLAS: packing the operands"),
    (f"sgemm_oncopy_HASWELL ({OPENBLAS})", "BLAS: packing the operands"),
    (f"sgemm_kernel_HASWELL ({OPENBLAS})", "BLAS: arithmetic and the rest"),
    (f"sgemm_beta_HASWELL ({OPENBLAS})", "BLAS: arithmetic and the rest"),
    ("mkl_blas_avx2_sgemm_kernel_0 (libmkl_core.so.2)", "BLAS: arithmetic and the rest"),
    ("mkl_blas_def_sgemm_kernel_0_zen (libtorch_cpu.so)", "BLAS: arithmetic and the rest"),
    ("mkl_blas_def_sgemm_scopy_right4_bdz (libtorch_cpu.so)", "BLAS: packing the operands"),
    (f"simd_exp_FLOAT ({UMATH})", "NumPy's C code: exp, tanh and the other transcendental loops"),
    (f"FLOAT_tanh_X86_V3 ({UMATH})", "NumPy's C code: exp, tanh and the other transcendental loops"),
    (f"DOUBLE_log1p ({UMATH})", "NumPy's C code: exp, tanh and the other transcendental loops"),
    (f"FLOAT_add_X86_V3 ({UMATH})", "NumPy's C code: arithmetic loops"),
    (f"FLOAT_pairwise_sum ({UMATH})", "NumPy's C code: arithmetic loops"),
    (f"BOOL_logical_and ({UMATH})", "NumPy's C code: arithmetic loops"),  # "log" only as a whole name
    (f"ufunc_generic_fastcall ({UMATH})", "NumPy's C code: dispatch, iteration, copies and the rest"),
    (f"PyArray_ExpandDims ({UMATH})", "NumPy's C code: dispatch, iteration, copies and the rest"),
    (f"_aligned_contig_cast_float_to_double ({UMATH})", "NumPy's C code: dispatch, iteration, copies and the rest"),
    ("0x7f134cc4524a (libc.so.6)", "C library"),
    ("expf (libm.so.6)", "C library"),
    ("LSTMLayer.forward (chainrule/ops/recurrent.py:169)", "Python: chainrule/ops/recurrent.py"),
    ("_find_and_load (<frozen importlib._bootstrap>:1176)", "Python: <frozen importlib._bootstrap>"),
    ("0x7fedc83b01e2 (?)", "other native code: ?"),
    ("dnnl::impl::cpu::gates_reduction<float, float> (libtorch_cpu.so)", "other native code: libtorch_cpu.so"),
])
def test_a_sample_is_placed_by_its_innermost_frame(profile, frame: str, place: str) -> None:
    assert profile.place_of(frame) == place


def test_only_samples_inside_the_loop_count_and_lines_are_the_innermost_own_frame(profile) -> None:
    loop = f"{profile.LOOP} (benchmarks/profile.py:120)"
    step = "step (benchmarks/lstm.py:49)"
    forward = "LSTMLayer.forward (chainrule/ops/recurrent.py:169)"
    apply = "Primitive.apply (chainrule/autograd/function.py:277)"
    raw = [
        "<module> (benchmarks/profile.py:1);import_module (importlib/__init__.py:126) 40\n",  # before the loop
        f"main (benchmarks/profile.py:9);{loop};{step};{apply};{forward};sgemm_kernel_HASWELL ({OPENBLAS}) 6\n",
        f"main (benchmarks/profile.py:9);{loop};{step};{apply};{forward};sgemm_itcopy_HASWELL ({OPENBLAS}) 2\n",
        f"main (benchmarks/profile.py:9);{loop};{step};{apply};{forward} 1\n",
        f"main (benchmarks/profile.py:9);{loop};{step};{apply};ufunc_generic_fastcall ({UMATH}) 1\n",
        f"main (benchmarks/profile.py:9);{loop} 1\n",
        "\n",
    ]
    counted = profile.summarize(raw, "chainrule/")
    assert counted.samples == 11
    assert counted.by_place == {"BLAS: arithmetic and the rest": 6, "BLAS: packing the operands": 2,
                                "Python: chainrule/ops/recurrent.py": 1,
                                "NumPy's C code: dispatch, iteration, copies and the rest": 1,
                                "Python: benchmarks/profile.py": 1}
    assert counted.by_line == {forward: 9, apply: 1, "(outside chainrule/)": 1}
    assert counted.groups() == {"BLAS": 8, "Python": 2, "NumPy's C code": 1}


def test_the_section_gives_shares_milliseconds_and_source_lines(profile) -> None:
    line = inspect.getsourcelines(profile.place_of)[1]
    own = f"place_of (benchmarks/profile.py:{line})"
    loop = f"{profile.LOOP} (benchmarks/profile.py:1)"
    raw = [f"{loop};{own};sgemm_kernel_HASWELL ({OPENBLAS}) 3\n", f"{loop};{own};0x7f1 (libc.so.6) 1\n"]
    counted = profile.summarize(raw, "benchmarks/")
    report = {"steps": 4, "cpu_seconds": 0.04, "machine": ["CPU: test"], "sampler": "py-spy 0.4.3", "rate": 200,
              "seconds": 1.0}
    text = profile.render("lstm", "numpy", counted, report, "python -m benchmarks.profile lstm --framework numpy")
    assert text.startswith("## profile: lstm, numpy\n")
    assert "| BLAS: arithmetic and the rest | 75.0% | 7.50 |" in text  # 3 of 4 samples of 10 ms a step
    assert "| C library | 25.0% | 2.50 |" in text
    assert "By kind: BLAS 75.0%, C library 25.0%." in text
    assert f"| {own}: `def place_of(frame: str) -> str:` | 100.0% | 10.00 |" in text
    assert "4 samples inside the loop; 4 steps, 10.00 ms of CPU time per step" in text


def test_the_kinds_name_the_shares_of_blas_packing_and_of_numpys_transcendental_loops(profile) -> None:
    loop = f"{profile.LOOP} (benchmarks/profile.py:1)"
    raw = [f"{loop};sgemm_kernel_HASWELL ({OPENBLAS}) 5\n", f"{loop};sgemm_itcopy_HASWELL ({OPENBLAS}) 1\n",
           f"{loop};simd_exp_FLOAT ({UMATH}) 2\n", f"{loop};FLOAT_multiply_X86_V3 ({UMATH}) 1\n",
           f"{loop};ufunc_generic_fastcall ({UMATH}) 1\n"]
    counted = profile.summarize(raw, "chainrule/")
    report = {"steps": 1, "cpu_seconds": 0.01, "machine": ["CPU: test"], "sampler": "py-spy 0.4.3", "rate": 200,
              "seconds": 1.0}
    text = profile.render("lstm", "chainrule", counted, report, "python -m benchmarks.profile lstm")
    assert ("By kind: BLAS 60.0%, NumPy's C code 40.0%; of which BLAS packing the operands 10.0%, NumPy's "
            "transcendental loops 20.0%.") in text
    assert "| NumPy's C code: exp, tanh and the other transcendental loops | 20.0% | 2.00 |" in text
    assert "| NumPy's C code: arithmetic loops | 10.0% | 1.00 |" in text


def test_a_wrong_workload_or_framework_is_named_with_the_choices() -> None:
    unknown = _run("no-such-workload", "--quick")
    assert unknown.returncode == 2
    assert "no workload 'no-such-workload'; choose from" in unknown.stderr and "'lstm'" in unknown.stderr
    no_step = _run("cnn", "--framework", "numpy", "--quick")
    assert no_step.returncode == 2
    assert "workload 'cnn' has no numpy step; choose from chainrule, torch" in no_step.stderr


def test_without_py_spy_the_error_says_how_to_install_it(profile, monkeypatch: pytest.MonkeyPatch,
                                                         tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))  # no py-spy beside it either
    assert profile.main(["lstm", "--quick"]) == 2
    assert "py-spy is not installed; install it with `pip install py-spy`" in capsys.readouterr().err


def test_the_child_runs_the_step_in_the_loop_and_reports_it(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    done = _run("overhead", "--quick", "--seconds", "0.2", "--child", str(report))
    assert done.returncode == 0, done.stderr
    measured = json.loads(report.read_text())
    assert measured["steps"] >= 1 and measured["cpu_seconds"] > 0
    assert measured["machine"][0].startswith("CPU: ")


def test_a_real_profile_under_py_spy(tmp_path: Path) -> None:
    if shutil.which("py-spy") is None and not Path(sys.executable).with_name("py-spy").exists():
        pytest.skip("py-spy is not installed: pip install py-spy (it is in the test and bench extras)")
    markdown = ROOT / "BENCHMARKS.md"
    before = markdown.read_text() if markdown.exists() else None
    done = _run("lstm", "--quick", "--seconds", "2")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("## profile: lstm, chainrule\n")
    assert "| BLAS: arithmetic and the rest |" in done.stdout  # the LSTM's products
    assert "LSTMLayer.forward (chainrule/ops/recurrent.py:" in done.stdout
    assert (markdown.read_text() if markdown.exists() else None) == before  # --quick writes nothing
