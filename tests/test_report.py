"""The HTML report: its contents, and a real browser that loads it offline.

The browser test runs Debian's ``chromium`` headless on a copy of the report
with a small script added at the top of <head>: it records page errors
(including images that fail to load) and ``console.error`` calls, and on the
window's load event writes every image's ``naturalWidth`` and the errors into
the page, which ``--dump-dom`` prints. Chromium's own log of console messages
(``--enable-logging=stderr``) is checked as well. The report itself contains
no script. Without chromium the test is skipped, unless the environment
variable CI is set: then it fails.
"""

import dataclasses
import html
import json
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from trainlab import cli
from trainlab.lab import registry, report

SMALL_LAB = [
    ("nesterov", {"steps": 40}),
    ("momentum", {"steps": 30}),
    ("preprocessing", {"n": 200}),
]

CHROMIUM = shutil.which("chromium") or (
    "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None
)

HOOK = """<script>
window.__labErrors = [];
window.addEventListener("error", function (event) {
  var target = event.target || {};
  window.__labErrors.push("error: " + (event.message || target.src || target.href
    || "unknown"));
}, true);
var originalConsoleError = console.error;
console.error = function () {
  window.__labErrors.push("console.error: "
    + Array.prototype.join.call(arguments, " "));
  originalConsoleError.apply(console, arguments);
};
window.addEventListener("load", function () {
  var images = Array.prototype.map.call(document.images, function (img) {
    return {src: img.getAttribute("src"), complete: img.complete,
            naturalWidth: img.naturalWidth};
  });
  var out = document.createElement("pre");
  out.id = "lab-test-result";
  out.textContent = JSON.stringify({images: images, errors: window.__labErrors});
  document.body.appendChild(out);
});
</script>"""


@pytest.fixture(scope="module")
def small_report(tmp_path_factory):
    out_dir = tmp_path_factory.mktemp("lab")
    runs = [registry.execute(name, **params) for name, params in SMALL_LAB]
    path = report.write_report(runs, out_dir)
    return path, runs


# ------------------------------------------------------------------ contents
def test_report_has_a_section_per_experiment_and_a_table_of_contents(small_report):
    path, runs = small_report
    page = path.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert '<meta charset="utf-8">' in page
    for index, run in enumerate(runs, 1):
        assert f'<a href="#{run.name}">{run.name}</a>' in page
        assert f'<section id="{run.name}">' in page
        assert f"<h2>{index}. {run.name}" in page
        assert html.escape(run.experiment.claim) in page
        assert html.escape(run.experiment.formula) in page
        assert f'<img src="{run.name}.png"' in page
        assert (path.parent / f"{run.name}.png").stat().st_size > 1000


def test_report_needs_nothing_from_the_network(small_report):
    path, _ = small_report
    page = path.read_text(encoding="utf-8")
    assert "http://" not in page and "https://" not in page
    assert "<script" not in page
    assert "<link" not in page and "@import" not in page
    for source in re.findall(r'src="([^"]+)"', page):
        assert not source.startswith(("/", "file:", "data:"))
        assert (path.parent / source).exists()


def test_report_shows_findings_parameters_and_the_rerun_command(small_report):
    path, runs = small_report
    page = path.read_text(encoding="utf-8")
    nesterov = runs[0]
    for key, value in nesterov.findings.items():
        cell = html.escape(report.format_finding(value))
        assert f'<td>{html.escape(key)}</td><td class="number">{cell}</td>' in page
    # the changed setting is marked and its default shown
    assert '<tr class="changed"><td>steps</td><td class="number">40 (default 100)' in (
        page
    )
    assert "trainlab lab run nesterov \\\n    --seed 0" in page
    assert "--set steps=40" in page


@pytest.mark.parametrize("index", range(len(SMALL_LAB)))
def test_rerun_command_reproduces_the_parameters(small_report, index):
    _, runs = small_report
    run = runs[index]
    words = shlex.split(report.rerun_command(run).replace("\\\n", " "))
    assert words[:4] == ["trainlab", "lab", "run", run.name]
    settings = [words[i + 1] for i, word in enumerate(words) if word == "--set"]
    parsed = cli._parse_settings(settings)
    assert registry.resolve_params(run.name, parsed) == run.params
    assert words[words.index("--seed") + 1] == str(run.seed)


def test_text_is_escaped(tmp_path):
    run = registry.execute("nesterov", steps=5)
    run.experiment = dataclasses.replace(
        run.experiment, description="a < b & c", claim="<b>bold</b>"
    )
    page = report.write_report([run], tmp_path).read_text(encoding="utf-8")
    assert "a &lt; b &amp; c" in page
    assert "&lt;b&gt;bold&lt;/b&gt;" in page
    assert "<b>bold</b>" not in page


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (3, "3"),
        (0.123456, "0.1235"),
        (1234.5, "1234"),
        (1.5e-7, "1.500e-07"),
        (2.5e6, "2.500e+06"),
        (0.0, "0"),
        (True, "yes"),
        (None, "—"),
        ("not within 100", "not within 100"),
    ],
)
def test_findings_are_formatted_readably(value, text):
    assert report.format_finding(value) == text


def test_save_figure_writes_png_and_svg(tmp_path):
    run = registry.execute("nesterov", steps=10)
    written = report.save_figure(run, tmp_path, formats=("png", "svg"))
    assert written == [tmp_path / "nesterov.png", tmp_path / "nesterov.svg"]
    assert run.figures == written
    assert written[0].read_bytes()[:4] == b"\x89PNG"
    assert "<svg" in written[1].read_text()
    page = report.write_report([run], tmp_path).read_text(encoding="utf-8")
    assert '<a href="nesterov.svg">SVG</a>' in page


# ------------------------------------------------------------------- browser
def _load_in_chromium(page: Path, profile: Path) -> tuple[dict, list[str]]:
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--enable-logging=stderr",
        "--v=0",
        "--virtual-time-budget=10000",
        "--dump-dom",
        page.resolve().as_uri(),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    found = re.search(r'<pre id="lab-test-result">(.*?)</pre>', done.stdout, re.S)
    assert found, f"the page did not finish loading: {done.stdout[-500:]}"
    result = json.loads(html.unescape(found.group(1)))
    console = [line for line in done.stderr.splitlines() if ":CONSOLE" in line]
    return result, console


def _with_hook(path: Path, name: str, replace: tuple[str, str] | None = None) -> Path:
    page = path.read_text(encoding="utf-8")
    if replace is not None:
        page = page.replace(*replace)
    copy = path.parent / name
    copy.write_text(page.replace("<head>", "<head>\n" + HOOK, 1), encoding="utf-8")
    return copy


@pytest.fixture
def chromium():
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed, and CI is set")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    return CHROMIUM


def test_report_loads_in_a_real_browser(small_report, chromium, tmp_path):
    path, runs = small_report
    page = _with_hook(path, "report-browser-test.html")
    result, console = _load_in_chromium(page, tmp_path / "profile")
    assert [image["src"] for image in result["images"]] == [
        f"{run.name}.png" for run in runs
    ]
    for image in result["images"]:
        assert image["complete"] and image["naturalWidth"] > 0, image
    assert result["errors"] == []
    assert console == []


def test_the_browser_check_notices_errors(small_report, chromium, tmp_path):
    path, _ = small_report
    page = _with_hook(
        path,
        "report-broken-test.html",
        ('src="momentum.png"', 'src="gone.png"'),
    )
    page.write_text(
        page.read_text(encoding="utf-8").replace(
            "</body>", '<script>console.error("boom")</script></body>'
        ),
        encoding="utf-8",
    )
    result, console = _load_in_chromium(page, tmp_path / "profile")
    widths = {image["src"]: image["naturalWidth"] for image in result["images"]}
    assert widths["gone.png"] == 0 and widths["nesterov.png"] > 0
    assert any("gone.png" in error for error in result["errors"])
    assert "console.error: boom" in result["errors"]
    assert any('"boom"' in line for line in console)


def test_figures_made_with_pyplot_are_closed_after_saving(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def pyplot_figure(result):
        figure = plt.figure(figsize=(2, 2))
        figure.add_subplot().plot([0, 1], [0, 1])
        return figure

    run = registry.execute("nesterov", steps=5)
    run.experiment = dataclasses.replace(run.experiment, plot=pyplot_figure)
    before = set(plt.get_fignums())
    report.save_figure(run, tmp_path)
    assert set(plt.get_fignums()) == before
    assert (tmp_path / "nesterov.png").exists()
