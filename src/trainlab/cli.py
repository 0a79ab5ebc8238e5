"""The ``trainlab`` command: run the lab's experiments, save figures and a report.

::

    trainlab lab list [--params]
    trainlab lab run NAME... [--set key=value ...] [--seed N] [--out DIR] [--svg]
    trainlab lab all [--out DIR] [--seed N] [--svg]

Exit status, with a one-line error on standard error:

* 2, a mistake in the command, found before anything runs: an unknown
  experiment, an unknown parameter, a value of the wrong type or out of range
  (``--set steps=0``), or an ``--out`` folder that cannot be created or
  written to. The line says what is valid.
* 1, a failure while running that is not a bug: a figure or the report could
  not be written (disk full, folder removed meanwhile), or ``lab all`` had to
  skip experiments whose module is missing.

Anything else raised while an experiment runs is a bug: it propagates with
its traceback (exit status 1).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

EXIT_FAILURE = 1
EXIT_USAGE = 2
DEFAULT_OUT = "lab-output"


class UsageError(Exception):
    """A mistake in the command line, reported on one line with exit status 2."""


class OutputError(Exception):
    """Figures or report could not be written: one line, exit status 1."""


def _build_parser() -> argparse.ArgumentParser:
    import trainlab

    parser = argparse.ArgumentParser(
        prog="trainlab",
        description="trainlab: training neural networks with NumPy, exactly as "
        "the lecture writes it.",
        epilog="Exit status: 0 done; 2 a mistake in the command (found before "
        "anything runs: unknown name or parameter, bad value, --out not "
        "writable); 1 a figure or the report could not be written, or a bug.",
    )
    parser.add_argument(
        "--version", action="version", version=f"trainlab {trainlab.__version__}"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    lab = commands.add_parser(
        "lab",
        help="run the lecture's experiments",
        description="Reproduce the lecture's experiments: figures, measured "
        "findings and an HTML report.",
    )
    lab_commands = lab.add_subparsers(dest="lab_command", metavar="SUBCOMMAND")
    lab_commands.required = True

    listing = lab_commands.add_parser(
        "list",
        help="list the experiments",
        description="List every experiment, in the lecture's order.",
    )
    listing.add_argument(
        "--params",
        action="store_true",
        help="also show each experiment's parameters and their defaults",
    )

    run = lab_commands.add_parser(
        "run",
        help="run some experiments",
        description="Run the named experiments, save their figures to DIR and "
        "print their findings.",
        epilog="Example: trainlab lab run momentum --set momentum=0.9 --set lr=0.05",
    )
    run.add_argument("names", nargs="+", metavar="NAME", help="experiment name(s)")
    run.add_argument(
        "--set",
        dest="settings",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a parameter (repeatable); lists are comma-separated, "
        "e.g. --set lrs=0.01,0.1. With several experiments, a key applies to "
        "each one that has it.",
    )
    _add_common(run, out_help="folder for the figures", default_jobs=1)

    everything = lab_commands.add_parser(
        "all",
        help="run every experiment and write the report",
        description="Run every experiment with its default settings, save the "
        "figures and write DIR/report.html.",
    )
    _add_common(
        everything,
        out_help="folder for the figures and report.html",
        default_jobs=min(os.cpu_count() or 1, 4),
    )
    return parser


def _add_common(
    parser: argparse.ArgumentParser, out_help: str, default_jobs: int
) -> None:
    parser.add_argument(
        "--seed", type=int, default=0, metavar="N", help="random seed (default 0)"
    )
    parser.add_argument(
        "--out",
        default=DEFAULT_OUT,
        metavar="DIR",
        help=f"{out_help} (default {DEFAULT_OUT})",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=default_jobs,
        metavar="N",
        help=f"experiments run in N processes at once (default {default_jobs})",
    )
    parser.add_argument(
        "--svg",
        action="store_true",
        help="also save every figure as SVG (vector, for slides; slower)",
    )
    parser.add_argument(
        "--no-progress", action="store_true", help="do not show the progress bar"
    )


def _parse_settings(settings: Sequence[str]) -> dict[str, str]:
    parsed = {}
    for item in settings:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--set expects KEY=VALUE, received {item!r}")
        parsed[key.strip()] = value.strip()
    return parsed


def _plan(names: Sequence[str], settings: dict[str, str]) -> list[tuple[str, dict]]:
    """Each experiment with the settings that apply to it, all checked."""
    from trainlab.lab import registry

    names = list(dict.fromkeys(names))
    for name in names:
        if name not in registry.MODULES:
            valid = ", ".join(registry.list_experiments())
            raise UsageError(f"unknown experiment {name!r}; valid names: {valid}")
    experiments = {name: _load(name) for name in names}

    known = set().union(*(experiments[name].defaults for name in names))
    unknown = sorted(set(settings) - known)
    if unknown:
        valid = "; ".join(
            f"{name}: "
            + (
                ", ".join(
                    f"{key}={registry.format_value(value)}"
                    for key, value in experiments[name].defaults.items()
                )
                or "none"
            )
            for name in names
        )
        raise UsageError(
            f"unknown parameter {', '.join(unknown)}; valid parameters "
            f"(with defaults) are {valid}"
        )

    plan = []
    for name in names:
        own = {k: v for k, v in settings.items() if k in experiments[name].defaults}
        try:
            registry.resolve_params(name, own)
        except (TypeError, ValueError) as error:
            raise UsageError(f"{name}: {error}") from None
        plan.append((name, own))
    return plan


def _load(name: str):
    from trainlab.lab import registry

    try:
        return registry.get(name)
    except ModuleNotFoundError as error:
        if error.name != f"trainlab.lab.{registry.MODULES[name]}":
            raise
        raise UsageError(
            f"experiment {name!r} is not available in this installation "
            f"(module {error.name} is missing)"
        ) from None


def _prepare_out(out: str) -> Path:
    """The ``--out`` folder, created and known to be writable, before any run."""
    out_dir = Path(out)
    if out_dir.exists() and not out_dir.is_dir():
        raise UsageError(f"--out {out}: this is a file, not a folder")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        # a file that vanishes when closed proves the folder is writable
        tempfile.TemporaryFile(dir=out_dir).close()
    except OSError as error:
        reason = error.strerror or str(error)
        raise UsageError(
            f"--out {out}: cannot create or write to this folder ({reason})"
        ) from None
    return out_dir


def _output_error(what: str, error: OSError) -> OutputError:
    where = f" {error.filename}" if error.filename else ""
    return OutputError(f"cannot write {what}{where}: {error.strerror or error}")


def _run_one(name: str, settings: dict, seed: int, out_dir: Path, formats):
    """Run one experiment and save its figure (in this process or a worker).

    ``settings`` were checked before (:func:`_plan`): whatever the experiment
    raises now is not a mistake in the command and propagates as it is.
    """
    from trainlab.lab import registry, report

    lab_run = registry.execute(name, seed=seed, **settings)
    try:
        report.save_figure(lab_run, out_dir, formats)
    except OSError as error:
        raise _output_error(f"the figure of {name}", error) from None
    return lab_run


def _one_blas_thread() -> None:
    """Worker start: one BLAS thread per worker process.

    With several workers on few cores, OpenBLAS's own threads (one per core
    in every worker) fight over the cores, and the lab's matrices are too
    small to gain from splitting: ``lab all`` with 2 workers on 2 cores took
    about 30 s with the default threads, about 21 s with one per worker.
    """
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")


def _run_plan(plan, seed: int, out_dir: Path, progress: bool, svg: bool, jobs: int):
    """Run every (name, settings) of ``plan``; results in the plan's order.

    With ``jobs > 1`` experiments run in that many worker processes; each is
    seeded on its own, so the results are the same as one after the other.
    Findings are printed in the plan's order as soon as they are known.
    """
    from tqdm import tqdm

    formats = ("png", "svg") if svg else ("png",)
    bar = tqdm(
        total=len(plan),
        desc="lab",
        unit="exp",
        file=sys.stderr,
        disable=not progress,
        leave=False,
    )
    runs: list = [None] * len(plan)
    printed = 0

    def finish(index, lab_run):
        nonlocal printed
        runs[index] = lab_run
        bar.update(1)
        while printed < len(runs) and runs[printed] is not None:
            tqdm.write(_describe(runs[printed]), file=sys.stdout)
            printed += 1

    try:
        if jobs <= 1 or len(plan) <= 1:
            for index, (name, settings) in enumerate(plan):
                bar.set_postfix_str(name)
                finish(index, _run_one(name, settings, seed, out_dir, formats))
        else:
            from concurrent.futures import ProcessPoolExecutor, as_completed

            with ProcessPoolExecutor(
                max_workers=min(jobs, len(plan)), initializer=_one_blas_thread
            ) as pool:
                futures = {
                    pool.submit(_run_one, name, settings, seed, out_dir, formats): i
                    for i, (name, settings) in enumerate(plan)
                }
                try:
                    for future in as_completed(futures):
                        finish(futures[future], future.result())
                except BaseException:
                    # Do not start the experiments still waiting.
                    pool.shutdown(wait=False, cancel_futures=True)
                    raise
    except BaseException:
        # Wipe the bar, so that an error message stands alone on its line.
        bar.clear()
        raise
    finally:
        bar.close()
    return runs


def _describe(lab_run) -> str:
    from trainlab.lab.report import format_finding

    files = ", ".join(str(path) for path in lab_run.figures)
    lines = [f"{lab_run.name} ({lab_run.seconds:.2f} s) -> {files}"]
    width = max((len(key) for key in lab_run.findings), default=0)
    for key, value in lab_run.findings.items():
        lines.append(f"  {key:<{width}}  {format_finding(value)}")
    return "\n".join(lines)


def _list(show_params: bool) -> None:
    from trainlab.lab import registry

    names = registry.list_experiments()
    width = max(len(name) for name in names)
    for index, name in enumerate(names, 1):
        try:
            experiment = registry.get(name)
        except ModuleNotFoundError:
            print(f"{index:2d}. {name:<{width}}  (not available in this installation)")
            continue
        beyond = " [beyond the lecture]" if experiment.beyond_lecture else ""
        print(f"{index:2d}. {name:<{width}}  {experiment.description}{beyond}")
        if show_params:
            for key, value in experiment.defaults.items():
                print(f"      {key}={registry.format_value(value)}")


def _lab(args) -> int:
    from trainlab.lab import registry

    if args.lab_command == "list":
        _list(args.params)
        return 0

    if args.seed < 0:
        raise UsageError(f"--seed must be >= 0, received {args.seed}")
    if args.jobs < 1:
        raise UsageError(f"--jobs must be >= 1, received {args.jobs}")
    progress = not args.no_progress

    if args.lab_command == "run":
        plan = _plan(args.names, _parse_settings(args.settings))
        out_dir = _prepare_out(args.out)
        _run_plan(plan, args.seed, out_dir, progress, args.svg, args.jobs)
        return 0

    from trainlab.lab import report

    available = [n for n in registry.list_experiments() if registry.is_available(n)]
    missing = [n for n in registry.list_experiments() if n not in available]
    plan = _plan(available, {})
    out_dir = _prepare_out(args.out)
    runs = _run_plan(plan, args.seed, out_dir, progress, args.svg, args.jobs)
    try:
        path = report.write_report(runs, out_dir)
    except OSError as error:
        raise _output_error("the report", error) from None
    total = sum(run.seconds for run in runs)
    print(f"report: {path} ({len(runs)} experiments, {total:.1f} s of computing)")
    if missing:
        print(
            f"trainlab lab all: error: skipped experiments whose module is "
            f"missing: {', '.join(missing)}",
            file=sys.stderr,
        )
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``trainlab`` command; returns the exit status."""
    # Figures are only written to files: no window, no display needed.
    import matplotlib

    matplotlib.use("Agg")

    parser = _build_parser()
    args = parser.parse_args(argv)
    command = f"trainlab {args.command} {getattr(args, 'lab_command', '')}".strip()
    try:
        return _lab(args)
    except UsageError as error:
        print(f"{command}: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except OutputError as error:
        print(f"{command}: error: {error}", file=sys.stderr)
        return EXIT_FAILURE


if __name__ == "__main__":
    sys.exit(main())
