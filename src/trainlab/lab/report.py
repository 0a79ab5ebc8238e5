"""Figures on disk and one self-contained HTML page gathering every experiment.

The page needs nothing from the network: styles are inline, formulas are
plain Unicode text, figures are referenced by relative paths next to the
page, so the folder can be opened from the file system, zipped or moved.
"""

from __future__ import annotations

import html
import platform
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from trainlab.lab.registry import LabRun, format_value

__all__ = ["save_figure", "write_report", "rerun_command", "format_finding"]

FIGURE_FORMATS = ("png",)
FIGURE_DPI = 110


def save_figure(
    run: LabRun,
    out_dir: str | Path,
    formats: Sequence[str] = FIGURE_FORMATS,
    dpi: int = FIGURE_DPI,
) -> list[Path]:
    """Plot ``run`` and save its figure as ``out_dir/NAME.<format>``.

    ``formats`` is PNG alone by default; add ``"svg"`` for a vector copy (for
    slides and print; drawing it takes about as long again). The figure is
    closed after saving. Returns the paths written and records them in
    ``run.figures``.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    figure = run.experiment.plot(run.result)
    paths = []
    try:
        if len(formats) > 1 and figure.get_layout_engine() is not None:
            # Lay the figure out once, not once per file.
            figure.draw_without_rendering()
            figure.set_layout_engine("none")
        for fmt in formats:
            path = out_dir / f"{run.name}.{fmt}"
            figure.savefig(path, dpi=dpi, metadata=_metadata(fmt))
            paths.append(path)
    finally:
        _close(figure)
    run.figures = paths
    return paths


def _metadata(fmt: str) -> dict | None:
    # Fixed metadata keeps the files byte-identical from one run to the next.
    if fmt == "svg":
        return {"Date": None}
    if fmt == "png":
        return {"Software": None}
    return None


def _close(figure) -> None:
    # Figures made through pyplot stay registered (and in memory) until
    # closed; figures made with matplotlib.figure.Figure have no manager.
    if getattr(figure.canvas, "manager", None) is None:
        return
    import matplotlib.pyplot as plt

    plt.close(figure)


def format_finding(value) -> str:
    """A measured number as the report and the command line print it."""
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        value = float(value)
        if value == 0 or 1e-3 <= abs(value) < 1e5:
            return f"{value:.4g}"
        return f"{value:.3e}"
    if value is None:
        return "—"
    return str(value)


def rerun_command(run: LabRun, out_dir: str | None = None) -> str:
    """The command line that reruns ``run``; edit a ``--set`` to change it."""
    parts = [f"trainlab lab run {run.name}", f"--seed {run.seed}"]
    if out_dir is not None:
        parts.append(f"--out {out_dir}")
    for key, value in run.params.items():
        parts.append(f"--set {key}={format_value(value)}")
    return " \\\n    ".join(parts)


_CSS = """
:root { --ink: #1f2328; --muted: #59636e; --line: #d1d9e0; --wash: #f6f8fa;
        --accent: #0072B2; }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.55 system-ui, -apple-system, "Segoe UI", Roboto,
       "Helvetica Neue", Arial, sans-serif; color: var(--ink); background: #fff; }
main { max-width: 1100px; margin: 0 auto; padding: 1.5rem 1.25rem 4rem; }
header { border-bottom: 2px solid var(--accent); margin-bottom: 1.5rem; }
h1 { font-size: 1.8rem; margin: 0.2rem 0 0.4rem; }
h2 { font-size: 1.4rem; margin: 0 0 0.3rem; }
h3 { font-size: 1.02rem; margin: 1.2rem 0 0.35rem; color: var(--muted);
     text-transform: uppercase; letter-spacing: 0.04em; }
a { color: var(--accent); }
.meta, .description { color: var(--muted); }
nav ol { columns: 2; column-gap: 2.5rem; padding-left: 1.4rem; }
nav li { break-inside: avoid; margin-bottom: 0.25rem; }
section { border-top: 1px solid var(--line); padding-top: 1.5rem;
          margin-top: 2.2rem; }
.badge { display: inline-block; font-size: 0.75rem; font-weight: 600;
         padding: 0.1rem 0.5rem; border-radius: 1rem; background: #fdf1dc;
         color: #8a5a00; vertical-align: middle; margin-left: 0.4rem; }
.formula { background: var(--wash); border-left: 4px solid var(--accent);
           padding: 0.7rem 1rem; white-space: pre-wrap; overflow-x: auto;
           font: 0.98rem/1.6 "DejaVu Sans Mono", Menlo, Consolas, monospace; }
figure { margin: 1rem 0; }
figure img { display: block; max-width: 100%; height: auto;
             border: 1px solid var(--line); border-radius: 4px; }
figcaption { font-size: 0.85rem; color: var(--muted); margin-top: 0.3rem; }
.columns { display: flex; flex-wrap: wrap; gap: 2rem; }
.columns > div { flex: 1 1 320px; }
table { border-collapse: collapse; width: 100%; font-size: 0.93rem; }
th, td { text-align: left; padding: 0.3rem 0.6rem;
         border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: var(--wash); }
td.number { font-variant-numeric: tabular-nums; text-align: right;
            white-space: nowrap; }
tr.changed td { background: #fff8e5; }
pre.command { background: #1f2328; color: #f6f8fa; padding: 0.8rem 1rem;
              border-radius: 6px; overflow-x: auto; font-size: 0.88rem; }
footer { margin-top: 3rem; color: var(--muted); font-size: 0.85rem; }
"""


def _esc(text) -> str:
    return html.escape(str(text), quote=True)


def _figure_html(run: LabRun, out_dir: Path) -> str:
    if not run.figures:
        return "<p>No figure was saved for this experiment.</p>"
    relative = [
        Path(path).resolve().relative_to(out_dir.resolve()) for path in run.figures
    ]
    image = next((p for p in relative if p.suffix == ".png"), relative[0])
    others = [p for p in relative if p != image]
    links = " · ".join(
        f'<a href="{_esc(p.as_posix())}">{_esc(p.suffix[1:].upper())}</a>'
        for p in others
    )
    caption = _esc(run.experiment.description)
    if links:
        caption += f" — also as {links}"
    return (
        f'<figure><img src="{_esc(image.as_posix())}" '
        f'alt="{_esc(run.name)}: {_esc(run.experiment.description)}">'
        f"<figcaption>{caption}</figcaption></figure>"
    )


def _findings_html(run: LabRun) -> str:
    rows = "".join(
        f'<tr><td>{_esc(key)}</td><td class="number">'
        f"{_esc(format_finding(value))}</td></tr>"
        for key, value in run.findings.items()
    )
    return (
        "<table><thead><tr><th>measured</th><th>value</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>"
    )


def _params_html(run: LabRun) -> str:
    rows = []
    for key, value in run.params.items():
        default = run.experiment.defaults.get(key)
        changed = value != default
        mark = ' class="changed"' if changed else ""
        note = f" (default {_esc(format_value(default))})" if changed else ""
        rows.append(
            f'<tr{mark}><td>{_esc(key)}</td><td class="number">'
            f"{_esc(format_value(value))}{note}</td></tr>"
        )
    rows.append(f'<tr><td>seed</td><td class="number">{run.seed}</td></tr>')
    return (
        "<table><thead><tr><th>parameter</th><th>value</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _section_html(index: int, run: LabRun, out_dir: Path) -> str:
    experiment = run.experiment
    badge = (
        '<span class="badge">beyond the lecture</span>'
        if (experiment.beyond_lecture)
        else ""
    )
    claim = experiment.claim or experiment.description
    formula = (
        f'<div class="formula">{_esc(experiment.formula)}</div>'
        if experiment.formula
        else ""
    )
    return f"""
<section id="{_esc(run.name)}">
<h2>{index}. {_esc(run.name)}{badge}</h2>
<p class="description">{_esc(experiment.description)}</p>
<h3>{
        "The claim (beyond the lecture)"
        if experiment.beyond_lecture
        else "What the lecture says"
    }</h3>
<p>{_esc(claim)}</p>
{"<h3>Formula</h3>" + formula if formula else ""}
{_figure_html(run, out_dir)}
<div class="columns">
<div><h3>Measured</h3>{_findings_html(run)}</div>
<div><h3>Parameters used</h3>{_params_html(run)}</div>
</div>
<h3>Rerun with other settings</h3>
<pre class="command">{_esc(rerun_command(run))}</pre>
<p class="meta">Ran in {run.seconds:.2f} s (without drawing).</p>
</section>"""


def write_report(
    runs: Sequence[LabRun],
    out_dir: str | Path,
    title: str = "trainlab lab: training neural networks, measured",
) -> Path:
    """Write ``out_dir/report.html`` for ``runs`` and return its path.

    Figures not saved yet are saved first (see :func:`save_figure`). The page
    lists, for each experiment, the lecture's claim, its formula, the figure,
    the measured findings, the parameters used and the command that reruns
    it. It loads no external resource.
    """
    import trainlab

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for run in runs:
        if not run.figures:
            save_figure(run, out_dir)
    toc = "".join(
        f'<li><a href="#{_esc(run.name)}">{_esc(run.name)}</a> — '
        f"{_esc(run.experiment.description)}</li>"
        for run in runs
    )
    sections = "".join(
        _section_html(index, run, out_dir) for index, run in enumerate(runs, 1)
    )
    total = sum(run.seconds for run in runs)
    versions = (
        f"trainlab {trainlab.__version__}, NumPy {np.__version__}, "
        f"Python {platform.python_version()}"
    )
    page = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_esc(title)}</title>
<style>{_CSS}</style>
</head>
<body>
<main>
<header>
<h1>{_esc(title)}</h1>
<p class="meta">{len(runs)} experiment{"s" if len(runs) != 1 else ""} of the
lecture on training neural networks, each rerun from scratch (computing
{total:.1f} s, drawing not counted). Every number below was measured in this
run.</p>
</header>
<nav><h3>Contents</h3><ol>{toc}</ol></nav>
{sections}
<footer>Made by <code>trainlab lab</code> with {_esc(versions)}.
Figures use the Okabe–Ito palette, readable with the common forms of colour
blindness.</footer>
</main>
</body>
</html>
"""
    path = out_dir / "report.html"
    path.write_text(page, encoding="utf-8")
    return path
