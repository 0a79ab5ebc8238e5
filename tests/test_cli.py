"""The ``trainlab`` command: listing, running, the report, and one-line errors."""

import dataclasses
import re
import subprocess
import sys

import pytest
from matplotlib.figure import Figure

from trainlab import cli
from trainlab.lab import registry


def _small_figure(result):
    figure = Figure(figsize=(1, 1))
    figure.add_subplot().plot([0, 1], [1, 0])
    return figure


@pytest.fixture
def small_figures(monkeypatch):
    """Real experiments with a tiny stand-in figure: for tests of the command's
    flow, where drawing the full figures would only cost time."""
    real_get = registry.get

    def get(name):
        return dataclasses.replace(real_get(name), plot=_small_figure)

    monkeypatch.setattr(registry, "get", get)


def _errors(capsys):
    captured = capsys.readouterr()
    return [line for line in captured.err.splitlines() if line.strip()]


def test_list_shows_every_experiment_in_order(capsys):
    assert cli.main(["lab", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 15
    for index, (line, name) in enumerate(
        zip(lines, registry.list_experiments(), strict=True), 1
    ):
        assert line.split()[:2] == [f"{index}.", name]
    assert "SGD with η = 0.01 vs η = 0.1 at |B| = 10" in lines[2]


def test_list_params_shows_defaults(capsys):
    assert cli.main(["lab", "list", "--params"]) == 0
    out = capsys.readouterr().out
    assert "      momentum=0.5" in out
    assert "      curvatures=1.0,10.0" in out


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["lab", "--help"],
        ["lab", "list", "--help"],
        ["lab", "run", "--help"],
        ["lab", "all", "--help"],
    ],
)
def test_every_command_has_help(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    assert exit_info.value.code == 0
    assert "usage: trainlab" in capsys.readouterr().out


def test_run_writes_the_figure_and_prints_findings(tmp_path, capsys):
    status = cli.main(
        [
            "lab",
            "run",
            "nesterov",
            "--out",
            str(tmp_path),
            "--set",
            "steps=60",
            "--no-progress",
        ]
    )
    assert status == 0
    png = tmp_path / "nesterov.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not (tmp_path / "nesterov.svg").exists()
    out = capsys.readouterr().out
    assert "nesterov (" in out and str(png) in out
    assert "Nesterov: path length until then" in out


def test_run_several_with_a_shared_key_and_svg(tmp_path, capsys, small_figures):
    status = cli.main(
        [
            "lab",
            "run",
            "learning-rate",
            "momentum",
            "--set",
            "steps=20",
            "--set",
            "momentum=0.8",
            "--seed",
            "3",
            "--out",
            str(tmp_path),
            "--svg",
            "--no-progress",
        ]
    )
    assert status == 0
    for name in ("learning-rate", "momentum"):
        assert (tmp_path / f"{name}.png").stat().st_size > 0
        assert (tmp_path / f"{name}.svg").read_text().lstrip().startswith("<?xml")
    out = capsys.readouterr().out
    assert "μ = 0.8: mean turning per step" in out


def test_progress_bar_goes_to_stderr(tmp_path, capsys, small_figures):
    assert (
        cli.main(["lab", "run", "nesterov", "--set", "steps=5", "--out", str(tmp_path)])
        == 0
    )
    captured = capsys.readouterr()
    assert "lab" in captured.err and "exp" in captured.err
    assert "exp/s" not in captured.out


def test_all_writes_every_figure_and_the_report(
    tmp_path, monkeypatch, capsys, small_figures
):
    # a lab of two experiments keeps the test short; `lab all` runs them all
    monkeypatch.setattr(
        registry, "MODULES", {"nesterov": "nesterov", "adaptive": "adaptive"}
    )
    assert (
        cli.main(["lab", "all", "--out", str(tmp_path), "--no-progress", "--jobs", "1"])
        == 0
    )
    assert (tmp_path / "nesterov.png").exists()
    assert (tmp_path / "adaptive.png").exists()
    report = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert 'src="nesterov.png"' in report and 'src="adaptive.png"' in report
    assert f"report: {tmp_path / 'report.html'}" in capsys.readouterr().out


def test_all_reports_missing_modules(tmp_path, monkeypatch, capsys, small_figures):
    monkeypatch.setattr(
        registry, "MODULES", {"nesterov": "nesterov", "ghost": "ghost_module"}
    )
    assert (
        cli.main(["lab", "all", "--out", str(tmp_path), "--no-progress", "--jobs", "1"])
        == 1
    )
    assert (tmp_path / "report.html").exists()
    errors = _errors(capsys)
    assert errors == [
        "trainlab lab all: error: skipped experiments whose module is missing: ghost"
    ]


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (
            ["lab", "run", "momentun"],
            "trainlab lab run: error: unknown experiment 'momentun'; valid names: "
            "preprocessing, sgd-landscape, learning-rate, batch-size, momentum, ",
        ),
        (
            ["lab", "run", "momentum", "--set", "speed=2"],
            "trainlab lab run: error: unknown parameter speed; valid parameters "
            "(with defaults) are momentum: n=500, w0=1.0,2.0, ",
        ),
        (
            ["lab", "run", "momentum", "--set", "steps=many"],
            "trainlab lab run: error: momentum: steps expects int, received 'many'",
        ),
        (
            ["lab", "run", "nesterov", "--set", "curvatures=1"],
            "trainlab lab run: error: nesterov: curvatures must hold two numbers",
        ),
        (
            ["lab", "run", "momentum", "--set", "steps"],
            "trainlab lab run: error: --set expects KEY=VALUE, received 'steps'",
        ),
        (
            ["lab", "run", "momentum", "--seed", "-1"],
            "trainlab lab run: error: --seed must be >= 0, received -1",
        ),
    ],
)
def test_mistakes_give_one_line_and_status_2(argv, expected, tmp_path, capsys):
    status = cli.main([*argv, "--out", str(tmp_path), "--no-progress"])
    assert status == 2
    errors = _errors(capsys)
    assert len(errors) == 1
    assert errors[0].startswith(expected)
    assert not list(tmp_path.iterdir())


def test_unknown_key_with_several_experiments_lists_each(tmp_path, capsys):
    status = cli.main(
        [
            "lab",
            "run",
            "nesterov",
            "adaptive",
            "--set",
            "beta=1",
            "--out",
            str(tmp_path),
        ]
    )
    assert status == 2
    (line,) = _errors(capsys)
    assert "nesterov: curvatures=1.0,10.0" in line
    assert "; adaptive: curvatures=0.2,20.0" in line


def test_the_installed_command_exits_2_on_a_mistake(tmp_path):
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "trainlab.cli",
            "lab",
            "run",
            "nope",
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1
    assert "valid names: preprocessing" in done.stderr


def test_jobs_give_the_same_findings_in_the_same_order(tmp_path, capsys, small_figures):
    argv = [
        "lab",
        "run",
        "nesterov",
        "adaptive",
        "momentum",
        "--set",
        "steps=15",
        "--no-progress",
    ]
    assert cli.main([*argv, "--out", str(tmp_path / "one"), "--jobs", "1"]) == 0
    one = capsys.readouterr().out
    assert cli.main([*argv, "--out", str(tmp_path / "two"), "--jobs", "2"]) == 0
    two = capsys.readouterr().out

    def without_times(text):
        return re.sub(r"\(\d+\.\d+ s\) -> \S+", "", text.replace(str(tmp_path), ""))

    assert without_times(one) == without_times(two)
    assert [line.split()[0] for line in two.splitlines() if "->" in line] == [
        "nesterov",
        "adaptive",
        "momentum",
    ]
    for name in ("nesterov", "adaptive", "momentum"):
        assert (tmp_path / "two" / f"{name}.png").exists()


def test_jobs_must_be_positive(tmp_path, capsys):
    assert cli.main(["lab", "all", "--jobs", "0", "--out", str(tmp_path)]) == 2
    assert _errors(capsys) == [
        "trainlab lab all: error: --jobs must be >= 1, received 0"
    ]


# ------------------------------------------------- --out, checks, failures
def _never_run(monkeypatch):
    """Make any experiment run fail the test: the command must stop before."""

    def execute(name, **_params):
        raise AssertionError(f"{name} ran although the command was refused")

    monkeypatch.setattr(registry, "execute", execute)


def test_an_out_folder_that_cannot_be_created_is_refused_before_running(
    tmp_path, monkeypatch, capsys
):
    _never_run(monkeypatch)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    out = blocker / "figures"
    assert cli.main(["lab", "run", "momentum", "--out", str(out)]) == 2
    (line,) = _errors(capsys)
    assert line.startswith(
        f"trainlab lab run: error: --out {out}: cannot create or write to this folder ("
    )
    assert cli.main(["lab", "all", "--out", str(blocker), "--no-progress"]) == 2
    assert _errors(capsys) == [
        f"trainlab lab all: error: --out {blocker}: this is a file, not a folder"
    ]


def test_the_out_folder_is_created_with_its_parents(tmp_path, small_figures):
    out = tmp_path / "new" / "deeper"
    argv = ["lab", "run", "nesterov", "--set", "steps=5", "--no-progress"]
    assert cli.main([*argv, "--out", str(out)]) == 0
    assert sorted(path.name for path in out.iterdir()) == ["nesterov.png"]


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        ("momentum=1.5", "momentum: momentum must be in (0, 1), received 1.5"),
        ("steps=0", "momentum: steps must be an int >= 1, received 0"),
        ("lr=-0.1", "momentum: lr must be > 0, received -0.1"),
        ("batch_size=501", "momentum: batch_size must be in 1..n=500, received 501"),
    ],
)
def test_values_out_of_range_are_refused_before_running(
    setting, expected, tmp_path, monkeypatch, capsys
):
    _never_run(monkeypatch)
    argv = ["lab", "run", "momentum", "--set", setting, "--out", str(tmp_path)]
    assert cli.main(argv) == 2
    assert _errors(capsys) == [f"trainlab lab run: error: {expected}"]


def test_an_error_while_running_is_not_called_a_usage_error(monkeypatch):
    # With --set given, a bug inside the experiment must still look like a bug.
    real_get = registry.get

    def broken_run(**_params):
        raise ValueError("a bug inside the experiment")

    def get(name):
        return dataclasses.replace(real_get(name), run=broken_run)

    monkeypatch.setattr(registry, "get", get)
    argv = ["lab", "run", "nesterov", "--set", "steps=5", "--no-progress"]
    with pytest.raises(ValueError, match="a bug inside the experiment"):
        cli.main(argv)


def test_an_error_while_running_exits_1_with_its_traceback(tmp_path):
    code = (
        "import dataclasses, sys\n"
        "from trainlab import cli\n"
        "from trainlab.lab import registry\n"
        "real_get = registry.get\n"
        "def broken_run(**params):\n"
        "    raise ValueError('a bug inside the experiment')\n"
        "registry.get = lambda name: dataclasses.replace(real_get(name), "
        "run=broken_run)\n"
        "sys.exit(cli.main(sys.argv[1:]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, "lab", "run", "nesterov", "--set", "steps=5"]
        + ["--out", str(tmp_path), "--no-progress"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1
    assert "Traceback (most recent call last)" in done.stderr
    assert done.stderr.rstrip().endswith("ValueError: a bug inside the experiment")


def _disk_full(run, out_dir, formats=("png",)):
    raise OSError(28, "No space left on device", str(out_dir / f"{run.name}.png"))


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_figure_that_cannot_be_written_gives_one_line_and_status_1(
    jobs, tmp_path, monkeypatch, capsys
):
    from trainlab.lab import report

    monkeypatch.setattr(report, "save_figure", _disk_full)
    argv = ["lab", "run", "nesterov", "adaptive", "--set", "steps=5"]
    status = cli.main([*argv, "--out", str(tmp_path), "--jobs", jobs])
    assert status == 1
    captured = capsys.readouterr()
    # The progress bar was wiped first: the error stands alone on its line.
    before, _, last = captured.err.rpartition("\r")
    assert re.fullmatch(
        r"trainlab lab run: error: cannot write the figure of (nesterov|adaptive) "
        rf"{re.escape(str(tmp_path))}/\S+\.png: No space left on device\n",
        last,
    )
    assert "lab:" in before  # the bar was shown
    assert before.rpartition("\r")[2].strip() == ""


def test_workers_use_one_blas_thread():
    from concurrent.futures import ProcessPoolExecutor

    from threadpoolctl import threadpool_info

    with ProcessPoolExecutor(1, initializer=cli._one_blas_thread) as pool:
        pools = pool.submit(threadpool_info).result()
    blas = [info for info in pools if info["user_api"] == "blas"]
    assert blas and all(info["num_threads"] == 1 for info in blas)
