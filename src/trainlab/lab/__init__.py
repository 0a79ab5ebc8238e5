"""The lab: every experiment of the lecture, reproduced with figures and numbers.

::

    import trainlab as tl

    tl.lab.list_experiments()                  # names, in the lecture's order
    result = tl.lab.run("momentum", momentum=0.9)
    experiment = tl.lab.get("momentum")
    experiment.findings(result)                # the measured numbers
    figure = experiment.plot(result)           # a matplotlib Figure

The same from the shell: ``trainlab lab list``, ``trainlab lab run NAME``,
``trainlab lab all --out DIR`` (figures and ``DIR/report.html``).
"""

from trainlab.lab.common import PALETTE, Experiment
from trainlab.lab.registry import (
    LabRun,
    execute,
    get,
    list_experiments,
    resolve_params,
    run,
)
from trainlab.lab.report import save_figure, write_report

__all__ = [
    "PALETTE",
    "Experiment",
    "LabRun",
    "execute",
    "get",
    "list_experiments",
    "resolve_params",
    "run",
    "save_figure",
    "write_report",
]
