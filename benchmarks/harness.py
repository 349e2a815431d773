"""The shared benchmark harness: same inputs, same threads, interleaved timing, checked losses.

A benchmark module declares a list of :class:`Workload` objects. Each workload generates its inputs
once with NumPy (float32), and gives, per framework ("chainrule", "torch", "numpy" for the
hand-written reference, optionally "jax"), a ``setup(data)`` that builds that framework's state from
copies of those arrays and returns a :class:`Prepared`: a zero-argument ``step()`` (one forward and
backward, returning the loss) and a ``grads()`` that returns the gradients the last step computed.

:func:`run_benchmark` then

1. pins every thread pool (BLAS and OpenMP through threadpoolctl, ``torch.set_num_threads``) to the
   same count and records it;
2. warms every framework up and picks one number of calls ``N`` per repetition for all of them;
3. times ``N`` calls per framework, round-robin, for several repetitions (starting with a different
   framework each time, so that no framework always runs first);
4. checks that every framework computed the same loss (and the same gradients) and raises
   :class:`CheckFailed` if not;
5. renders the results as Markdown (best, median, min–max per framework; the ratios
   chainrule/torch and chainrule/numpy from the best runs, medians beside).

A workload may also have a setup under :data:`KERNELS`: chainrule's own kernel for the step, called on
arrays with no tensors, graph or engine (measured and checked like a framework). It separates what the
framework around the kernel costs from what NumPy and BLAS cost for it.

A workload may also declare its ``limit``: the same matrix products as its step, alone, in NumPy. It
is timed in the same round-robin as the frameworks (as the pseudo-framework :data:`LIMIT`, never
checked), and its time over chainrule's is the "distance to the limit": the share of chainrule's
time that BLAS itself needs.

:func:`write_section` puts that Markdown into BENCHMARKS.md, replacing only this benchmark's section;
:func:`render_summary` renders the one table of the headline workloads (:class:`SummaryRow`) that a full
run of every benchmark writes at the top.
"""

from __future__ import annotations

import datetime
import importlib
import importlib.util
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

FRAMEWORKS = ("chainrule", "torch", "numpy", "jax")
REFERENCE = "numpy"  # the hand-written reference every other framework's loss is compared with
LIMIT = "numpy matmuls"  # a workload's matrix products alone, timed beside the frameworks (not checked)
# chainrule's opt-in compiled mode (chainrule.compile), measured beside the frameworks wherever chainrule is and
# a workload has a setup under this name; the summary's column for it reads "–" elsewhere
COMPILED = "chainrule.compile"
# chainrule's own kernel for a workload (a primitive's array forward and backward) called directly, without
# tensors, graph or engine, the rest of the step in NumPy: measured and checked beside chainrule where a
# workload has a setup under this name. chainrule's time over it is the framework's share of the step.
KERNELS = "chainrule kernels"
LOSS_RTOL, LOSS_ATOL = 1e-4, 1e-6  # float32 computed in a different order by each framework
GRAD_RTOL, GRAD_ATOL = 1e-4, 1e-6  # per gradient array, on the Euclidean norm of the difference
ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS_MD = ROOT / "BENCHMARKS.md"


class CheckFailed(Exception):
    """Frameworks disagree on a loss or a gradient: the timings compare different computations."""


@dataclass
class Prepared:
    """One framework's ready-to-run workload."""

    step: Callable[[], Any]  # one call of the workload; returns the loss (or an output, see as_float)
    grads: Callable[[], list[np.ndarray]]  # arrays to compare: the last step's gradients (or outputs)
    note: str = ""  # how this framework computes the workload, when it is worth saying


@dataclass
class Workload:
    """A computation timed in every framework from the same inputs."""

    name: str  # short label, used in tables
    description: str  # one line: what is computed
    make_data: Callable[[], dict[str, np.ndarray]]  # the shared inputs, generated once with NumPy
    setups: dict[str, Callable[[dict[str, np.ndarray]], Prepared]]  # framework -> setup
    targets: dict[str, float] = field(default_factory=dict)  # "torch"/"numpy" -> wanted ratio bound
    summary: bool = False  # one of the headline workloads: a row of the summary table
    # data -> a call doing only the workload's matrix products, in NumPy (same shapes and transposes)
    limit: Callable[[dict[str, np.ndarray]], Callable[[], Any]] | None = None
    loss_rtol: float = LOSS_RTOL  # looser for long float32 runs (a whole epoch drifts further)
    grad_rtol: float = GRAD_RTOL


@dataclass
class Result:
    """Timings (seconds per call, one entry per repetition) and checks of one workload."""

    workload: Workload
    calls: int  # calls per repetition
    times: dict[str, list[float]]  # framework -> seconds per call, per repetition
    loss: float
    notes: dict[str, str]

    def best(self, framework: str) -> float:
        return min(self.times[framework])

    def median(self, framework: str) -> float:
        return statistics.median(self.times[framework])

    def ratio(self, other: str, stat: Callable[[str], float], mine: str = "chainrule") -> float | None:
        """``stat(mine) / stat(other)``, or None when either was not timed."""
        if mine not in self.times or other not in self.times:
            return None
        return stat(mine) / stat(other)

    def limit_share(self) -> float | None:
        """The distance to the limit: NumPy's time for the matrix products alone over chainrule's time."""
        return self.ratio("chainrule", self.best, mine=LIMIT)


@dataclass
class Settings:
    """How hard to measure: ``quick`` is a correctness check, not a measurement."""

    repeats: int = 20  # many short repetitions: the best one is more likely undisturbed
    rep_seconds: float = 0.1  # aim for this much time per framework per repetition
    warmup_seconds: float = 0.2
    threads: int = 1  # one thread by default: steadier timings, and these workloads are small
    clock: str = "wall"  # "wall": time.perf_counter; "cpu": time.process_time (see CLOCKS)
    quick_run: bool = False  # a correctness check only: a benchmark may also shrink its data

    @classmethod
    def quick(cls, threads: int) -> Settings:
        return cls(repeats=2, rep_seconds=0.01, warmup_seconds=0.0, threads=threads, quick_run=True)


CLOCKS = {
    "wall": (time.perf_counter, "wall-clock time (`time.perf_counter`)"),
    # the process's CPU time: not counted while another process has the CPU, so steadier on a
    # shared machine; with one thread per framework it is the time the computation itself took
    "cpu": (time.process_time, "CPU time of the process (`time.process_time`), one thread"),
}


# ---------------------------------------------------------------------------- frameworks and threads
def available_frameworks() -> list[str]:
    """The frameworks importable here: chainrule and numpy always, torch and jax when installed."""
    return [fw for fw in FRAMEWORKS if fw in ("chainrule", "numpy") or importlib.util.find_spec(fw)]


def by_framework(setup: Callable[..., Prepared], compiled: bool = False
                 ) -> dict[str, Callable[[dict[str, np.ndarray]], Prepared]]:
    """The chainrule and torch setups of ``setup(lib, data)``, code written once against either module;
    with ``compiled``, also chainrule's compiled mode (:data:`COMPILED`): ``setup(chainrule, data, compile=True)``."""
    setups = {fw: (lambda data, fw=fw: setup(importlib.import_module(fw), data)) for fw in ("chainrule", "torch")}
    if compiled:
        setups[COMPILED] = lambda data: setup(importlib.import_module("chainrule"), data, compile=True)
    return setups


def usable_cpus() -> int:
    """The CPUs this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def pin_threads(threads: int, frameworks: Sequence[str]) -> list[dict[str, Any]]:
    """Limit BLAS/OpenMP pools and torch's intra-op pool to ``threads``; return threadpoolctl's view.

    Import the frameworks first, so that the thread pools they load are found and limited too.
    JAX (XLA) threads are set through ``XLA_FLAGS`` before jax is imported, see :func:`import_frameworks`.
    """
    from threadpoolctl import threadpool_info, threadpool_limits

    if "torch" in frameworks:
        import torch

        torch.set_num_threads(threads)
    threadpool_limits(limits=threads)  # stays in force for the rest of the process
    return threadpool_info()


def import_frameworks(frameworks: Sequence[str], threads: int) -> None:
    """Import each framework once, before pinning threads (JAX reads its thread flags at import)."""
    if "jax" in frameworks and threads == 1:
        flags = os.environ.get("XLA_FLAGS", "")
        os.environ["XLA_FLAGS"] = f"{flags} --xla_cpu_multi_thread_eigen=false".strip()
    for fw in frameworks:
        importlib.import_module(fw)


def machine_description(frameworks: Sequence[str], threads: int, pools: list[dict[str, Any]]) -> list[str]:
    """Lines describing the machine, the library versions and the thread settings."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = [f"Python {platform.python_version()}", f"NumPy {np.__version__}"]
    versions += [f"{fw} {getattr(sys.modules[fw], '__version__', '?')}" for fw in frameworks if fw != "numpy"]
    commit = _git_commit()
    if commit:
        versions.append(f"chainrule commit {commit}")
    blas = "; ".join(_describe_pool(p) for p in pools)
    framework_threads = ""
    if "torch" in frameworks:
        framework_threads += f", torch.get_num_threads() = {sys.modules['torch'].get_num_threads()}"
    if "jax" in frameworks:
        framework_threads += f", XLA_FLAGS={os.environ.get('XLA_FLAGS', '')!r}"
    return [
        f"CPU: {cpu}, {os.cpu_count()} logical CPUs ({usable_cpus()} usable by this process), "
        f"{platform.system()} {platform.release()}",
        "Software: " + ", ".join(versions),
        f"Threads: {threads} for every framework{framework_threads}; thread pools: {blas or 'none found'}",
    ]


def _describe_pool(pool: dict[str, Any]) -> str:
    """One thread pool from threadpoolctl, e.g. ``openblas 0.3.27 (numpy.libs/libscipy_openblas…so, 1 thread)``."""
    parts = Path(pool.get("filepath", "")).parts
    where = "/".join(parts[parts.index("site-packages") + 1:] if "site-packages" in parts else parts[-1:])
    details = [where, f"{pool.get('num_threads')} thread(s)"]
    if pool.get("architecture"):
        details.append(str(pool["architecture"]))
    return f"{pool.get('internal_api')} {pool.get('version') or ''}".strip() + f" ({', '.join(details)})"


def _git_commit() -> str:
    """The checkout's commit, marked ``-dirty`` when a tracked file other than BENCHMARKS.md (which the
    benchmarks themselves rewrite) differs from it; empty outside a git checkout."""
    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.SubprocessError):
            return None
        return out.stdout.strip() if out.returncode == 0 else None

    commit = git("describe", "--always")
    if not commit:
        return ""
    changed = git("status", "--porcelain", "--untracked-files=no", "--", ".", f":(exclude){BENCHMARKS_MD.name}")
    return commit + ("-dirty" if changed else "")


# ---------------------------------------------------------------------------- measuring
def as_float(value: Any) -> float:
    """A step's result as a Python float (without torch's requires-grad warning): a scalar loss
    itself, an output (an inference workload's logits) by its sum. Called outside the timed calls."""
    detach = getattr(value, "detach", None)
    if detach is not None:
        value = detach()
    return float(np.asarray(value).sum(dtype=np.float64))


def _time_calls(step: Callable[[], Any], calls: int, clock: Callable[[], float]) -> tuple[float, Any]:
    """Seconds per call over ``calls`` consecutive calls, and the last call's loss."""
    start = clock()
    for _ in range(calls):
        loss = step()
    return (clock() - start) / calls, loss


def _warm_up(step: Callable[[], Any], seconds: float, clock: Callable[[], float]) -> tuple[float, Any]:
    """Run ``step`` for about ``seconds`` (at least 3 calls); return the median call time and a loss."""
    elapsed = []
    deadline = time.perf_counter() + seconds
    while len(elapsed) < 3 or time.perf_counter() < deadline:
        seconds_per_call, loss = _time_calls(step, 1, clock)
        elapsed.append(seconds_per_call)
    return statistics.median(elapsed), loss


def measure(workload: Workload, frameworks: Sequence[str], settings: Settings) -> Result:
    """Time ``workload`` in each framework, round-robin; check that losses and gradients agree."""
    data = workload.make_data()
    measured = [*frameworks, COMPILED, KERNELS] if "chainrule" in frameworks else frameworks
    prepared = {fw: workload.setups[fw](data) for fw in measured if fw in workload.setups}
    steps = {fw: p.step for fw, p in prepared.items()}
    if workload.limit is not None:
        steps[LIMIT] = workload.limit(data)
    order = list(steps)
    losses: dict[str, list[float]] = {fw: [] for fw in prepared}
    clock = CLOCKS[settings.clock][0]
    per_call = {}
    for fw in order:
        per_call[fw], loss = _warm_up(steps[fw], settings.warmup_seconds, clock)
        if fw in losses:
            losses[fw].append(as_float(loss))
    calls = max(1, round(settings.rep_seconds / max(per_call.values())))
    times: dict[str, list[float]] = {fw: [] for fw in order}
    for rep in range(settings.repeats):
        for fw in order[rep % len(order):] + order[:rep % len(order)]:
            seconds, loss = _time_calls(steps[fw], calls, clock)
            times[fw].append(seconds)
            if fw in losses:
                losses[fw].append(as_float(loss))
    loss = check_losses(workload.name, losses, workload.loss_rtol)
    check_gradients(workload.name, {fw: p.grads() for fw, p in prepared.items()}, workload.grad_rtol)
    notes = {fw: p.note for fw, p in prepared.items() if p.note}
    return Result(workload, calls, times, loss, notes)


def check_losses(name: str, losses: dict[str, list[float]], rtol: float = LOSS_RTOL) -> float:
    """The reference loss, after checking every recorded loss of every framework against it."""
    reference = REFERENCE if REFERENCE in losses else next(iter(losses))
    expected = losses[reference][0]
    bad = [f"{fw}: {value!r}" for fw, values in losses.items() for value in values
           if not abs(value - expected) <= rtol * abs(expected) + LOSS_ATOL]
    if bad:
        raise CheckFailed(
            f"{name}: losses differ from the {reference} reference {expected!r} by more than "
            f"rtol={rtol}, atol={LOSS_ATOL}: " + ", ".join(sorted(set(bad))))
    return expected


def check_gradients(name: str, grads: dict[str, list[np.ndarray]], rtol: float = GRAD_RTOL) -> None:
    """Raise unless every framework's gradients match the reference's, array by array."""
    reference = REFERENCE if REFERENCE in grads else next(iter(grads))
    expected = [np.asarray(g, dtype=np.float64) for g in grads[reference]]
    for fw, arrays in grads.items():
        if len(arrays) != len(expected):
            raise CheckFailed(f"{name}: {fw} returned {len(arrays)} gradients, {reference} {len(expected)}")
        for i, (got, want) in enumerate(zip(arrays, expected)):
            got = np.asarray(got, dtype=np.float64)
            if got.shape != want.shape:
                raise CheckFailed(f"{name}: {fw} gradient {i} has shape {got.shape}, "
                                  f"{reference} {want.shape}")
            error = float(np.linalg.norm(got - want))
            allowed = rtol * float(np.linalg.norm(want)) + GRAD_ATOL * np.sqrt(want.size)
            if not error <= allowed:
                raise CheckFailed(
                    f"{name}: {fw} gradient {i} (shape {want.shape}) differs from {reference}'s: "
                    f"|difference| = {error:.3g} > {allowed:.3g} (rtol={rtol}, atol={GRAD_ATOL})")


# ---------------------------------------------------------------------------- reporting
def _us(seconds: float) -> str:
    us = seconds * 1e6
    return f"{us:.1f}" if us < 1000 else f"{us:,.0f}"


def _ratio_text(result: Result, other: str, bold: bool = False, mine: str = "chainrule") -> str:
    """``best (median)`` of ``mine``'s time over ``other``'s, or ``n/a``."""
    best, median = result.ratio(other, result.best, mine), result.ratio(other, result.median, mine)
    if best is None or median is None:
        return "n/a"
    return f"**{best:.2f}** ({median:.2f})" if bold else f"{best:.2f} ({median:.2f})"


def _verdict(ratio: float | None, target: float | None) -> str:
    """``met`` or ``**missed**`` for a ratio against its upper bound; empty when either is unknown."""
    if ratio is None or target is None:
        return ""
    return "met" if ratio <= target else "**missed**"


def _target_cell(result: Result, other: str) -> str:
    target = result.workload.targets.get(other)
    if target is None:
        return "–"
    return f"≤ {target:g} {_verdict(result.ratio(other, result.best), target)}".rstrip()


def _share_text(share: float | None) -> str:
    return "–" if share is None else f"{share:.0%}"


def render(title: str, results: Sequence[Result], settings: Settings, machine: list[str],
           command: str) -> str:
    """The Markdown section of one benchmark (without its markers)."""
    frameworks = [fw for fw in (*FRAMEWORKS, COMPILED, KERNELS, LIMIT) if any(fw in r.times for r in results)]
    lines = [
        f"Command: `{command}` (run {datetime.date.today().isoformat()}; {settings.repeats} "
        f"repetitions per framework, interleaved round-robin, after a warm-up; "
        f"{CLOCKS[settings.clock][1]}).",
        "",
        *[f"- {line}" for line in machine],
        "",
        "Ratios of chainrule's time to the other framework's, from the best repetitions (medians in "
        "parentheses); below 1 means chainrule is faster. Matmul limit: the time of the step's matrix "
        "products alone in NumPy (same shapes and transposes, timed in the same rounds) over chainrule's "
        "time, from the best repetitions; 100% would leave nothing but BLAS.",
        "",
        "| workload | chainrule / torch | target | chainrule / numpy | target | matmul limit | loss (all agree) |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(f"| {r.workload.name} | {_ratio_text(r, 'torch', bold=True)} | {_target_cell(r, 'torch')} | "
                     f"{_ratio_text(r, 'numpy', bold=True)} | {_target_cell(r, 'numpy')} | "
                     f"{_share_text(r.limit_share())} | {r.loss:.6g} |")
    lines += [
        "",
        "Time per call in µs (what one call computes is under Workloads below): best, median and "
        "min–max over the repetitions (each repetition times the given number of consecutive calls).",
        "",
        "| workload | calls/rep | " + " | ".join(f"{fw} best | median | min–max" for fw in frameworks) + " |",
        "|---|---|" + "---|---|---|" * len(frameworks),
    ]
    for r in results:
        cells = []
        for fw in frameworks:
            if fw in r.times:
                t = r.times[fw]
                cells.append(f"{_us(min(t))} | {_us(r.median(fw))} | {_us(min(t))}–{_us(max(t))}")
            else:
                cells.append("– | – | –")
        lines.append(f"| {r.workload.name} | {r.calls} | " + " | ".join(cells) + " |")
    lines += ["", "Workloads:", ""]
    for r in results:
        lines.append(f"- **{r.workload.name}**: {r.workload.description}")
        by_note: dict[str, list[str]] = {}
        for fw, note in r.notes.items():
            by_note.setdefault(note, []).append(fw)
        lines += [f"  - {', '.join(fws)}: {note}" for note, fws in by_note.items()]
        if KERNELS in r.times and "torch" in r.times:
            lines.append(f"  - {KERNELS} / torch: {_ratio_text(r, 'torch', True, KERNELS)}, the step in NumPy and "
                         f"BLAS alone; chainrule / {KERNELS}: {_ratio_text(r, KERNELS, True)}, what the framework "
                         "around the kernel adds (best, medians in parentheses)")
        if LIMIT in r.times:
            lines.append(f"  - {LIMIT}: only the matrix products of the call, `np.matmul(a, b, out=c)` with the "
                         "same shapes and transposes, on random operands (not checked)")
    return "\n".join([f"## {title}", "", *lines, ""])


# ---------------------------------------------------------------------------- the summary of the headline workloads
@dataclass
class SummaryRow:
    """One of the headline workloads in the summary table: chainrule's cost over torch's."""

    workload: str
    best: float  # chainrule's best over torch's best
    median: float  # chainrule's median over torch's median
    low: float  # the smallest and largest ratio of one round (a repetition of both, or a memory run
    high: float  # of each), so the spread of the ratio itself
    target: float | None  # the bound set on ``best``
    limit_share: float | None = None  # the distance to the limit, see Result.limit_share
    compiled: float | None = None  # chainrule.compile's best over torch's best, once it exists


@dataclass
class Section:
    """What a benchmark returns: its Markdown section and its rows of the summary table."""

    markdown: str
    summary: list[SummaryRow] = field(default_factory=list)


def paired_row(workload: str, mine: Sequence[float], torch: Sequence[float], target: float | None,
               **extra: float | None) -> SummaryRow:
    """A summary row from chainrule's and torch's measurements, paired round by round."""
    rounds = [a / b for a, b in zip(mine, torch, strict=True)]
    return SummaryRow(workload, min(mine) / min(torch), statistics.median(mine) / statistics.median(torch),
                      min(rounds), max(rounds), target, **extra)


def summary_rows(results: Sequence[Result]) -> list[SummaryRow]:
    """The summary rows of the results that are the headline workloads and were timed in chainrule and torch."""
    return [paired_row(r.workload.name, r.times["chainrule"], r.times["torch"], r.workload.targets.get("torch"),
                       limit_share=r.limit_share(), compiled=r.ratio("torch", r.best, mine=COMPILED))
            for r in results if r.workload.summary and {"chainrule", "torch"} <= r.times.keys()]


def render_summary(rows: Sequence[SummaryRow], machine: list[str], command: str) -> str:
    """The summary section (without its markers): one row per headline workload."""
    lines = [
        "## Summary: chainrule / PyTorch on the headline workloads",
        "",
        f"Command: `{command}` (run {datetime.date.today().isoformat()}); each row is detailed in its "
        "benchmark's section below.",
        "",
        *[f"- {line}" for line in machine],
        "",
        "Ratio: chainrule's time (memory: training memory) over PyTorch's, from the best repetitions; "
        "median: the ratio of the medians; min–max: the smallest and largest ratio within one round "
        "(both frameworks' repetition of that round, or one memory run each). Below 1 means chainrule "
        "is faster (smaller). Matmul limit: NumPy's time for the step's matrix products alone over "
        "chainrule's time. chainrule.compile: the same ratio for chainrule's opt-in compiled mode "
        "(– where a workload has no compiled setup).",
        "",
        "| workload | ratio (best) | median | min–max | target | met? | matmul limit | chainrule.compile / torch |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        target = "–" if row.target is None else f"≤ {row.target:g}"
        compiled = "–" if row.compiled is None else f"{row.compiled:.2f}"
        lines.append(f"| {row.workload} | **{row.best:.2f}** | {row.median:.2f} | {row.low:.2f}–{row.high:.2f} | "
                     f"{target} | {_verdict(row.best, row.target) or '–'} | {_share_text(row.limit_share)} | "
                     f"{compiled} |")
    return "\n".join([*lines, ""])


HEADER = """# Benchmarks

chainrule timed against PyTorch, against a hand-written NumPy reference (the explicit forward and
backward matrix calculus, i.e. what the engine's bookkeeping is measured against) and against JAX
where it is installed. Every framework starts from the same weights and batches (generated once with
NumPy, float32), runs on the same number of threads, and must compute the same loss and gradients
(relative tolerance 1e-4) or the run fails. Regenerate from a checkout with

    python -m benchmarks            # every benchmark
    python -m benchmarks engine     # one benchmark; rewrites only its own section below
    python -m benchmarks --quick    # a correctness check: few repetitions, writes nothing
    python -m benchmarks.profile lstm   # where chainrule's lstm step spends its time (py-spy); its own section

## How to read this

- **Ratios** are chainrule's time divided by the other framework's time for the same workload, from
  the best repetition of each (the least disturbed one); the ratio of the medians is beside it in
  parentheses. **Below 1 means chainrule is faster.**
- Absolute timings drift by up to 30% between sittings (CPU frequency, other load on the machine);
  only ratios from one run mean anything. Do not compare times across sections or across runs.
- Frameworks are interleaved round-robin within each repetition, so slow drift hits all of them alike.
  The garbage collector stays on, as in a real training loop.
- Times are wall-clock unless the command says `--clock cpu`: then they are the process's CPU time
  (one thread), which other programs on a shared machine disturb much less.
- A target such as "≤ 0.7" is what the library aims for on that workload; "missed" marks work to do.
  The summary at the top gathers the headline workloads and targets; it is rewritten by a full run of
  every benchmark.
- **Matmul limit** (mlp-small, mlp-epoch, lstm): the time NumPy needs for the step's matrix products alone
  (same shapes and transposes, timed in the same rounds) over chainrule's time for the whole step:
  how close chainrule is to what BLAS allows.
- **Profiles** (`python -m benchmarks.profile WORKLOAD [--framework F]`, sections at the end): py-spy's
  samples of one framework's step, counted by the code they were in (BLAS, its packing of the operands
  apart; NumPy's C code, its exp, tanh and other transcendental loops and its arithmetic loops apart; the
  C library; Python by file) and by the framework's own source line. Sampling
  slows the step (PyTorch's more, its native stacks being deeper): read the shares, not the milliseconds.
- **chainrule kernels** (lstm, a column of its own): chainrule's kernel for the step (the LSTM primitive's
  array forward and backward) called directly, without tensors, graph or engine, the loss in NumPy;
  checked like every framework. chainrule's time over it is what the framework around the kernel adds;
  its time over torch's is what NumPy and BLAS need for this kernel, with no framework at all.
- **chainrule.compile** (a column of its own): chainrule's opt-in compiled mode, `chainrule.compile(step)`,
  which records one call of the step and replays its operations at the next (the same numbers as eager
  mode, checked like every framework's). The targets are for eager mode.
"""


MARKER = "<!-- benchmark:"  # every generated section sits between MARKER{name}:start and MARKER{name}:end


def _markers(name: str) -> tuple[str, str]:
    return f"{MARKER}{name}:start -->", f"{MARKER}{name}:end -->"


def write_section(name: str, body: str, path: Path | None = None, first: bool = False) -> None:
    """Replace section ``name`` of ``path`` (default: :data:`BENCHMARKS_MD`, looked up at the call) with
    ``body``, atomically. A new section is appended, or with ``first`` put before every other generated
    section (right after the hand-written header)."""
    path = path or BENCHMARKS_MD
    text = path.read_text() if path.exists() else HEADER
    start, end = _markers(name)
    block = f"{start}\n{body.rstrip()}\n{end}"
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.DOTALL)
    others = text.find(MARKER)
    if pattern.search(text):
        text = pattern.sub(lambda _: block, text, count=1)
    elif first and others >= 0:
        text = text[:others] + block + "\n\n" + text[others:]
    else:
        text = text.rstrip() + "\n\n" + block
    text = text.rstrip() + "\n"
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.chmod(tmp, 0o644)  # mkstemp makes the file private; BENCHMARKS.md is an ordinary file
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def run_benchmark(title: str, workloads: Sequence[Workload], frameworks: Sequence[str],
                  settings: Settings, machine: list[str], command: str,
                  log: Callable[[str], None] = print) -> Section:
    """Measure every workload; the Markdown section and summary rows. Raises CheckFailed on a mismatch."""
    results = []
    for workload in workloads:
        log(f"  {workload.name} …")
        result = measure(workload, frameworks, settings)
        summary = ", ".join(f"{fw} {_us(result.best(fw))} µs" for fw in result.times)
        share = result.limit_share()
        log(f"    loss {result.loss:.6g} agrees; best per call: {summary}; chainrule/torch "
            f"{_ratio_text(result, 'torch')}, chainrule/numpy {_ratio_text(result, 'numpy')}"
            + ("" if share is None else f"; matmul limit {_share_text(share)} of chainrule's time"))
        results.append(result)
    return Section(render(title, results, settings, machine, command), summary_rows(results))
