"""Reports from the results store: the study's tables and figures, the paper beside the
measurement, and a model recommender.

Reads result files only: no torch and no model code is imported here or below (a test checks it
in a fresh interpreter), so a report can be built on a laptop that has nothing but a ``.db``
file. matplotlib (the ``report`` extra) is imported only when figures are drawn.

- ``build_report``: tables (Markdown, CSV, LaTeX), figures (PNG, SVG) and ``index.html``.
- ``accuracy``: Table 4 per dataset, Fig. 6's normalised accuracy, the Pareto front per mode and
  the provenance of every number (study, job, device, run).
- ``recommend``: the latency/accuracy Pareto front for a device, a mode and a budget.
- ``paper``: the study's Table 2, Table 4 and model categories (``paper.json``).
- ``stats``: Spearman, Kendall, bootstrap intervals, line fits.
"""

from .accuracy import normalised_accuracy, pareto_front, table4_tables
from .build import Report, build_report
from .data import ReportData, load
from .recommend import Recommendation, recommend, recommend_from
from .stats import bootstrap_median_ci, kendall_tau, spearman_rho

__all__ = ["Recommendation", "Report", "ReportData", "bootstrap_median_ci", "build_report",
           "kendall_tau", "load", "normalised_accuracy", "pareto_front", "recommend",
           "recommend_from", "spearman_rho", "table4_tables"]
