"""``python -m benchmarks.profile WORKLOAD [--framework F] [--seconds S] [--rate HZ] [--quick]``.

Where one framework's step of a benchmark workload spends its time. The step runs in a loop, on one
thread, in a child process that py-spy samples from outside with native frames (``py-spy record
--native --format raw``); every sample taken inside the loop counts once in each of two tables:

1. by the code its innermost frame is in:

   - BLAS, split into *packing the operands* (OpenBLAS's ``*_itcopy``, ``*_oncopy``, …, MKL's
     ``*gemm_scopy_*`` routines: every matrix product first copies both of its operands into blocked
     buffers) and the rest (the arithmetic kernels);
   - NumPy's C code, split into its *transcendental loops* (``simd_exp_FLOAT``, ``FLOAT_tanh_…``: exp,
     log, tanh, sin, power and their kin), its *arithmetic loops* (the other inner loops of ufuncs and
     reductions, named after their dtype: ``FLOAT_add_…``, ``DOUBLE_multiply``, ``FLOAT_pairwise_sum``)
     and the rest (a call's dispatch, the iterator, copies, indexing);
   - the C library (``memcpy``, ``malloc``, ``libm``);
   - Python, by source file: the interpreter running that file's own code, calls into C excluded;
   - other native code, by library (PyTorch's; ``?`` is code compiled at run time, without symbols);

2. by the innermost line of the framework's own Python code (``chainrule/…``, ``torch/…``, or
   ``benchmarks/…`` for the hand-written NumPy reference), everything it calls included: which lines
   the time goes under.

The shares are of the samples; "ms per step" multiplies them by the CPU time per step measured in the
child while it was sampled. The section is written to BENCHMARKS.md (its own section, e.g.
``profile-lstm-chainrule``) unless ``--quick`` (a short check on small data), and printed.

py-spy is in the ``bench`` and ``test`` extras (``pip install py-spy``).
"""

from __future__ import annotations

import argparse
import importlib
import json
import linecache
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

from benchmarks import harness

LOOP = "_profiled_steps"  # the child's loop: only the samples taken inside it count
# the framework's own Python code, for the second table
OWN_CODE = {"chainrule": "chainrule/", "torch": "torch/", "numpy": "benchmarks/", "jax": "jax/"}
PYTHON_FRAME = re.compile(r"^(?P<function>.*) \((?P<file>[^()]*(?:\.py|>)):(?P<line>\d+)\)$")
NATIVE_FRAME = re.compile(r"^(?P<symbol>.*) \((?P<library>[^()]*)\)$")
BLAS_LIBRARY = re.compile(r"openblas|mkl|blis|libblas", re.IGNORECASE)
BLAS_SYMBOL = re.compile(r"^mkl_blas_")  # MKL linked into another library (PyTorch's libtorch_cpu)
# the routines that pack a product's operands: OpenBLAS's sgemm_itcopy_HASWELL, …; MKL's mkl_blas_…_sgemm_scopy_…
BLAS_PACKING = re.compile(r"_(?:it|in|ot|on)copy|gemm_[sdcz]copy")
PACKING = "BLAS: packing the operands"  # the first table's row of the packing routines
NUMPY = re.compile(r"_multiarray_umath|^numpy")  # the library of NumPy's C code
# NumPy's inner loops of transcendental functions: simd_exp_FLOAT, FLOAT_tanh_X86_V3, simd_log_FLOAT, …
NUMPY_TRANSCENDENTAL = re.compile(
    r"(?:^|_)(?:exp|exp2|expm1|log|log2|log10|log1p|logaddexp|logaddexp2|sin|cos|tan|sincos|arcsin|arccos|arctan|"
    r"arctan2|sinh|cosh|tanh|arcsinh|arccosh|arctanh|power|float_power|cbrt)(?:_|$)")
# NumPy's other typed inner loops, named after their dtype: FLOAT_add_X86_V3, DOUBLE_multiply, FLOAT_pairwise_sum, …
NUMPY_LOOP = re.compile(r"^(?:BOOL|U?BYTE|U?SHORT|U?INT|U?LONG|U?LONGLONG|HALF|FLOAT|DOUBLE|LONGDOUBLE|CFLOAT|CDOUBLE|"
                        r"CLONGDOUBLE)_")
TRANSCENDENTAL = "NumPy's C code: exp, tanh and the other transcendental loops"
C_LIBRARY = re.compile(r"^(?:libc|libm|ld-linux)[.-]")
TABLE_ROWS = 16  # rows of each table; the rest are summed into one row
SHOWN_SHARE = 0.005  # rows below this share are summed too
SOURCE_CHARS = 70  # of a line's source text in the second table


class ProfileError(Exception):
    """The profile could not be taken: py-spy missing or failing, an unknown workload or framework."""


@dataclass
class Profile:
    """Samples taken inside the child's loop, counted by where they were (see the module docstring)."""

    samples: int
    by_place: Counter[str]  # "BLAS: packing the operands", "Python: chainrule/ops/recurrent.py", …
    by_line: Counter[str]  # "LSTMLayer.forward (chainrule/ops/recurrent.py:169)", …

    def groups(self) -> Counter[str]:
        """The counts of the first table summed by kind: "BLAS", "NumPy's C code", "Python", …"""
        totals: Counter[str] = Counter()
        for place, count in self.by_place.items():
            totals[place.split(":")[0]] += count
        return totals


def place_of(frame: str) -> str:
    """The row of the first table for a sample whose innermost frame is ``frame`` (py-spy's raw text)."""
    python = PYTHON_FRAME.match(frame)
    if python:
        return f"Python: {python['file']}"
    native = NATIVE_FRAME.match(frame)
    symbol, library = (native["symbol"], native["library"]) if native else (frame, "?")
    if BLAS_LIBRARY.search(library) or BLAS_SYMBOL.match(symbol):
        return PACKING if BLAS_PACKING.search(symbol) else "BLAS: arithmetic and the rest"
    if NUMPY.search(library):
        if NUMPY_TRANSCENDENTAL.search(symbol):
            return TRANSCENDENTAL
        if NUMPY_LOOP.match(symbol):
            return "NumPy's C code: arithmetic loops"
        return "NumPy's C code: dispatch, iteration, copies and the rest"
    if C_LIBRARY.match(library):
        return "C library"
    return f"other native code: {library}"


def summarize(raw: Iterable[str], own_code: str) -> Profile:
    """Count py-spy's raw samples (lines ``frame;frame;… count``, outermost frame first) taken inside
    :data:`LOOP`; ``own_code`` is the path prefix of the framework's Python files (:data:`OWN_CODE`)."""
    by_place: Counter[str] = Counter()
    by_line: Counter[str] = Counter()
    for line in raw:
        stack, _, count = line.rstrip("\n").rpartition(" ")
        frames = stack.split(";")
        if not count.isdigit() or not any(f.startswith(f"{LOOP} (") for f in frames):
            continue
        by_place[place_of(frames[-1])] += int(count)
        own = [f for f in frames if (m := PYTHON_FRAME.match(f)) and m["file"].startswith(own_code)]
        by_line[own[-1] if own else f"(outside {own_code})"] += int(count)
    return Profile(sum(by_place.values()), by_place, by_line)


def source_text(frame: str) -> str:
    """The source line of a Python frame ``function (file:line)``, looked up in the checkout and on
    ``sys.path``; empty when it is not found."""
    python = PYTHON_FRAME.match(frame)
    if not python:
        return ""
    for folder in (harness.ROOT, *map(Path, sys.path)):
        text = linecache.getline(str(folder / python["file"]), int(python["line"])).strip()
        if text:
            return text if len(text) <= SOURCE_CHARS else text[:SOURCE_CHARS - 1] + "…"
    return ""


def _table(heading: str, counts: Counter[str], profile: Profile, ms_per_step: float, code: bool = False) -> list[str]:
    rows = [(key, n) for key, n in counts.most_common(TABLE_ROWS) if n / profile.samples >= SHOWN_SHARE]
    rest = profile.samples - sum(n for _, n in rows)
    if rest:
        rows.append((f"everything else ({len(counts) - len(rows)} more)", rest))
    lines = [f"| {heading} | share | ms per step |", "|---|---|---|"]
    for key, n in rows:
        text = source_text(key) if code else ""
        label = f"{key}: `{text.replace('`', chr(39))}`" if text else key
        share = n / profile.samples
        lines.append(f"| {label.replace('|', '/')} | {share:.1%} | {share * ms_per_step:.2f} |")
    return lines


def render(workload: str, framework: str, profile: Profile, report: dict[str, Any], command: str) -> str:
    """The Markdown section of one profile."""
    ms_per_step = report["cpu_seconds"] / report["steps"] * 1e3
    groups = ", ".join(f"{kind} {n / profile.samples:.1%}" for kind, n in profile.groups().most_common())
    named = {"BLAS packing the operands": PACKING, "NumPy's transcendental loops": TRANSCENDENTAL}
    parts = [f"{name} {profile.by_place[place] / profile.samples:.1%}" for name, place in named.items()
             if profile.by_place[place]]
    of_which = f"; of which {', '.join(parts)}" if parts else ""
    lines = [
        f"## profile: {workload}, {framework}",
        "",
        *(f"- {line}" for line in report["machine"]),
        "",
        f"Command: `{command}` ({report['sampler']}, {report['rate']} samples a second for {report['seconds']:g} s: "
        f"{profile.samples:,} samples inside the loop; {report['steps']:,} steps, {ms_per_step:.2f} ms of CPU time "
        "per step while sampled, which slows the step a little). What the shares mean: the module docstring of "
        "`benchmarks/profile.py`.",
        "",
        f"- By kind: {groups}{of_which}.",
        "",
        *_table("innermost frame", profile.by_place, profile, ms_per_step),
        "",
        *_table(f"innermost line of `{OWN_CODE[framework]}` (everything under it)", profile.by_line, profile,
                ms_per_step, code=True),
    ]
    return "\n".join(lines)


# ---------------------------------------------------------------------------- the child
def find_workload(name: str, framework: str, quick: bool) -> harness.Workload:
    """The workload called ``name`` in any benchmark of ``python -m benchmarks``, checked to have a
    step for ``framework``."""
    from benchmarks.__main__ import BENCHMARKS

    found: dict[str, harness.Workload] = {}
    for module_name in BENCHMARKS.values():
        module = importlib.import_module(module_name)
        listed = module.workloads(quick) if hasattr(module, "workloads") else module.WORKLOADS
        found.update((w.name, w) for w in listed)
    if name not in found:
        raise ProfileError(f"no workload {name!r}; choose from {', '.join(map(repr, found))}")
    if framework not in found[name].setups:
        raise ProfileError(f"workload {name!r} has no {framework} step; choose from {', '.join(found[name].setups)}")
    return found[name]


def _profiled_steps(step: Callable[[], Any], seconds: float) -> tuple[int, float]:
    """Call ``step`` for about ``seconds``; return the number of calls and the CPU time they took."""
    steps, start, deadline = 0, time.process_time(), time.perf_counter() + seconds
    while steps == 0 or time.perf_counter() < deadline:
        step()
        steps += 1
    return steps, time.process_time() - start


def run_child(workload: str, framework: str, seconds: float, quick: bool) -> dict[str, Any]:
    """Prepare ``framework``'s step of ``workload`` on one thread, warm it up, run :func:`_profiled_steps`."""
    chosen = find_workload(workload, framework, quick)
    harness.import_frameworks([framework], 1)
    pools = harness.pin_threads(1, [framework])
    step = chosen.setups[framework](chosen.make_data()).step
    for _ in range(2):
        step()
    steps, cpu_seconds = _profiled_steps(step, seconds)
    return {"steps": steps, "cpu_seconds": cpu_seconds, "machine": harness.machine_description([framework], 1, pools)}


# ---------------------------------------------------------------------------- the parent
def _py_spy() -> str:
    beside_python = Path(sys.executable).with_name("py-spy")
    found = shutil.which("py-spy") or (str(beside_python) if beside_python.exists() else None)
    if found is None:
        raise ProfileError("py-spy is not installed; install it with `pip install py-spy` (or the bench extra: "
                           "`pip install -e '.[bench]'`)")
    return found


def take_profile(workload: str, framework: str, seconds: float, rate: int,
                 quick: bool) -> tuple[Profile, dict[str, Any]]:
    """Run the child under py-spy; return the counted samples and the child's report."""
    spy = _py_spy()
    version = subprocess.run([spy, "--version"], capture_output=True, text=True, timeout=60).stdout.strip()
    with tempfile.TemporaryDirectory() as folder:
        raw, report_file = Path(folder) / "samples.txt", Path(folder) / "report.json"
        child = [sys.executable, "-m", "benchmarks.profile", workload, "--framework", framework,
                 "--seconds", str(seconds), "--child", str(report_file)] + (["--quick"] if quick else [])
        command = [spy, "record", "--native", "--rate", str(rate), "--format", "raw", "--output", str(raw),
                   "--", *child]
        done = subprocess.run(command, cwd=harness.ROOT, capture_output=True, text=True, timeout=seconds + 600)
        if done.returncode != 0 or not raw.exists() or not report_file.exists():
            raise ProfileError(f"`{shlex.join(command)}` failed (exit status {done.returncode}):\n"
                               f"{(done.stderr or done.stdout).strip()[-2000:]}")
        report = json.loads(report_file.read_text())
        with raw.open() as samples:
            profile = summarize(samples, OWN_CODE[framework])
    if profile.samples == 0:
        raise ProfileError(f"py-spy took no sample inside the loop ({LOOP}); try more --seconds or a higher --rate")
    report.update(sampler=version or "py-spy", rate=rate, seconds=seconds)
    return profile, report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profile",
                                     description="Where one framework's step of a benchmark workload spends its "
                                                 "time, from py-spy's samples; see BENCHMARKS.md")
    parser.add_argument("workload", help="a workload's name, as in BENCHMARKS.md (e.g. lstm, mlp-epoch)")
    parser.add_argument("--framework", default="chainrule", choices=sorted(OWN_CODE),
                        help="whose step to profile (default: chainrule; numpy: the hand-written reference)")
    parser.add_argument("--seconds", type=float, default=20.0, help="how long to sample (default: 20)")
    parser.add_argument("--rate", type=int, default=200, help="samples a second (default: 200)")
    parser.add_argument("--quick", action="store_true", help="small data, a short check; writes nothing")
    parser.add_argument("--child", metavar="REPORT", help=argparse.SUPPRESS)  # run the loop, write REPORT
    args = parser.parse_args(argv)
    if args.seconds <= 0 or args.rate <= 0:
        parser.error("--seconds and --rate must be positive")
    try:
        if args.child:
            Path(args.child).write_text(json.dumps(run_child(args.workload, args.framework, args.seconds, args.quick)))
            return 0
        find_workload(args.workload, args.framework, args.quick)  # a wrong name fails here, before py-spy starts
        profile, report = take_profile(args.workload, args.framework, args.seconds, args.rate, args.quick)
    except ProfileError as error:
        print(f"python -m benchmarks.profile: {error}", file=sys.stderr)
        return 2
    command = shlex.join(["python", "-m", "benchmarks.profile", *(argv if argv is not None else sys.argv[1:])])
    section = render(args.workload, args.framework, profile, report, command)
    print(section)
    if not args.quick:
        slug = re.sub(r"[^a-z0-9]+", "-", args.workload.lower()).strip("-")
        harness.write_section(f"profile-{slug}-{args.framework}", section)
        print(f"wrote its section of {harness.BENCHMARKS_MD}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
