"""``python -m benchmarks [--quick] [--threads N] [--repeats R] [--clock wall|cpu] [names…]``.

A full run measures each named benchmark (all by default) and rewrites its section of BENCHMARKS.md;
a full run of all of them also rewrites the summary table of the headline workloads at the top. ``--quick``
runs a few repetitions as a correctness check and writes nothing (it prints the summary). The exit
status is 1 when frameworks disagree on a loss or a gradient.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import shlex
import sys

from benchmarks import harness

# name -> module with TITLE and WORKLOADS, or with its own run(frameworks, settings, machine, command)
# (returning a harness.Section) when it measures more than the harness does
BENCHMARKS = {"engine": "benchmarks.engine", "mlp_small": "benchmarks.mlp_small",
              "train_mlp": "benchmarks.train_mlp", "train_cnn": "benchmarks.train_cnn",
              "lstm": "benchmarks.lstm", "inference": "benchmarks.inference"}
SUMMARY = "summary"  # the name of the summary's section in BENCHMARKS.md


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n")[2])
    parser.add_argument("names", nargs="*", metavar="name",
                        help=f"benchmarks to run (default: all of {', '.join(BENCHMARKS)})")
    parser.add_argument("--quick", action="store_true",
                        help="few repetitions, a correctness check only; does not write BENCHMARKS.md")
    parser.add_argument("--threads", type=int, default=1,
                        help=f"threads for every framework (default: 1; this machine has {harness.usable_cpus()})")
    parser.add_argument("--repeats", type=int, default=None,
                        help="timed repetitions per framework (default: 20, or 2 with --quick)")
    parser.add_argument("--clock", choices=sorted(harness.CLOCKS), default="wall",
                        help="wall: elapsed time (default); cpu: the process's CPU time, steadier on a "
                             "machine shared with other work (needs --threads 1)")
    args = parser.parse_args(argv)
    unknown = [name for name in args.names if name not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
    if args.threads < 1:
        parser.error("--threads must be at least 1")
    if args.clock == "cpu" and args.threads != 1:
        parser.error("--clock cpu sums the CPU time of all threads; use it with --threads 1")
    settings = harness.Settings.quick(args.threads) if args.quick else harness.Settings(threads=args.threads)
    settings.clock = args.clock
    if args.repeats is not None:
        if args.repeats < 1 or (args.repeats < 5 and not args.quick):
            parser.error("--repeats must be at least 5 for a full run (at least 1 with --quick)")
        settings.repeats = args.repeats

    frameworks = harness.available_frameworks()
    harness.import_frameworks(frameworks, settings.threads)
    pools = harness.pin_threads(settings.threads, frameworks)
    machine = harness.machine_description(frameworks, settings.threads, pools)
    print("\n".join(machine))
    command = shlex.join(["python", "-m", "benchmarks", *(argv if argv is not None else sys.argv[1:])])
    failed = False
    rows: list[harness.SummaryRow] = []
    for name in args.names or list(BENCHMARKS):
        module = importlib.import_module(BENCHMARKS[name])
        print(f"{name}{' (quick)' if args.quick else ''}:")
        run = getattr(module, "run", None) or functools.partial(harness.run_benchmark, module.TITLE,
                                                                module.WORKLOADS)
        try:
            section = run(frameworks, settings, machine, command)
        except harness.CheckFailed as error:
            print(f"FAILED: {error}", file=sys.stderr)
            failed = True
            continue
        rows += section.summary
        if not args.quick:
            harness.write_section(name, section.markdown)
            print(f"  wrote its section of {harness.BENCHMARKS_MD}")
    summary = harness.render_summary(rows, machine, command)
    if rows:
        print(summary + ("(--quick: few short repetitions, a correctness check; these ratios are not "
                         "measurements)" if args.quick else ""))
    if not args.quick and not failed and set(args.names or BENCHMARKS) == set(BENCHMARKS):
        harness.write_section(SUMMARY, summary, first=True)
        print(f"wrote the summary at the top of {harness.BENCHMARKS_MD}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
